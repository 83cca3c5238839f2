"""`sharpeyes run --role api`: the local runtime without cameras, plus live push across processes.

Several API processes may serve the page behind one address; each one's live stream must show every
committed change, whether its own engine (buttons, operator actions, deadline ticks) or another process (the
engine role, another API process) made it. The LiveRelay publishes this process's changes and feeds the
others' into its hub.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jetstream.live_relay import LiveRelay
from sharpeyes.distributed.delivery_role import QueuedDelivery
from sharpeyes.runtime import LocalRuntime
from sharpeyes.settings import Settings
from video.camera_view import ShardedCameraView
from video.config import CameraConfig
from video.snapshots import SnapshotStore


class ApiRuntime(LocalRuntime):
    def __init__(
        self,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        cameras: list[CameraConfig] | None = None,
        **kwargs: Any,
    ) -> None:
        """`settings` without cameras (`api_settings`); `cameras`: the ones the shards run, for scope,
        listing and evidence pictures."""
        super().__init__(settings, env, **kwargs)
        if cameras:
            snapshots = SnapshotStore(settings.storage.snapshots_path())
            self.services.video = ShardedCameraView(cameras, self.directory, snapshots)
        self.relay = LiveRelay(
            settings.distributed, hub=self.hub, env=env, name="api", registry=self.registry
        )
        self.engine.subscribe_batch(self.relay.publish_changes)
        if settings.distributed.buttons_via == "ingest":  # --role ingest takes the presses, not this process
            self.listener.subscribe_buttons = False
        local = self.services.readiness  # an API whose page would miss other processes' changes is not ready
        checks = {"live": self.relay.connected.is_set}
        if settings.distributed.delivery.via == "queue":  # --role delivery sends; this process publishes
            queued = QueuedDelivery(settings.distributed, env)
            self.delivery = self.services.delivery = queued  # type: ignore[assignment]
            checks["deliveries"] = queued.ready.is_set
        if settings.distributed.buttons_via == "ingest" and settings.distributed.delivery.via == "queue":
            self.uses_mqtt = False  # nothing to listen to, nothing to send: no client id to share
            local = dict
        self.services.readiness = lambda: {**local(), **{k: f() for k, f in checks.items()}}

    async def start(self) -> None:
        await self.relay.start()  # connects in the background: a NATS outage must not keep the API down
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.relay.stop()
