"""`sharpeyes run --role api`: the local runtime without cameras, plus live push across processes, and the
shards' cameras on the page: their stream health and, while someone watches, their live video.

Several API processes may serve the page behind one address; each one's live stream must show every
committed change, whether its own engine (buttons, operator actions, deadline ticks) or another process (the
engine role, another API process) made it. The runtime's PushRelay publishes this process's changes and feeds
the others' into its hub. Camera health and live frames come from the shards over their own NATS connection
(shard_health.py, live_relay.py), so neither waits for the incident push nor slows it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from dashboard.webrtc import WebRtcHub
from sharpeyes.distributed.live_relay import LiveRelay
from sharpeyes.distributed.nats_link import NatsLink
from sharpeyes.distributed.shard_health import HEALTH_ROOT, HealthBoard
from sharpeyes.distributed.shard_view import ShardCameraView
from sharpeyes.distributed.shards import shard_of
from sharpeyes.runtime import ApiRole, LocalRuntime
from sharpeyes.settings import Settings
from video.camera_view import ShardedCameraView
from video.config import CameraConfig


class ApiRuntime(LocalRuntime):
    def __init__(
        self,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        cameras: list[CameraConfig] | None = None,
        **kwargs: Any,
    ) -> None:
        """`settings` without cameras (`api_settings`); `cameras`: the ones the shards run, for scope,
        listing, evidence pictures, health and live view."""
        super().__init__(settings, env, api=ApiRole.from_settings(settings, cameras), **kwargs)
        self.shard_link: NatsLink | None = None
        self.shard_health: HealthBoard | None = None
        self.shard_live: LiveRelay | None = None
        view = self.services.video
        if isinstance(view, ShardedCameraView):
            shards = settings.distributed.shards

            def owner(camera_id: str) -> int:
                return shard_of(camera_id, shards)

            self.shard_link = NatsLink(settings.distributed, env, name=f"api-shards-{id(self):x}")
            self.shard_health = HealthBoard(owner, self.registry)
            live = settings.live_video
            self.shard_live = LiveRelay(
                self.shard_link, owner, self.registry, fps=max(live.mjpeg_max_fps, 10.0)
            )
            self.services.video = ShardCameraView(view, self.shard_health, self.shard_live)
            # WebRTC of a shard camera: the relayed frames, encoded once here for every viewer of it.
            enabled = [c.id for c in view.configs if c.enabled]
            self.services.live_video = WebRtcHub(
                dict.fromkeys(enabled, ""),
                mode="frames",
                frames=self.shard_live.latest_frame,
                max_viewers_per_camera=live.max_viewers_per_camera,
                idle_stop_s=live.idle_stop_s,
                enabled=live.webrtc,
            )

    async def start(self) -> None:
        await super().start()
        if self.shard_link is not None and self.shard_health is not None and self.shard_live is not None:
            self.shard_link.start()  # connects in the background: until then every shard camera is unknown
            self.shard_link.submit(
                self.shard_link.subscribe(f"{HEALTH_ROOT}.*", self.shard_health.on_message)
            )
            self.shard_live.start()

    async def stop(self) -> None:
        if self.shard_live is not None:
            await asyncio.to_thread(self.shard_live.stop)
        if self.shard_link is not None:
            await asyncio.to_thread(self.shard_link.close)
        await super().stop()
