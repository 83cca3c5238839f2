"""What a shard tells the API role about its cameras: health always, live frames only while asked.

One NATS connection of its own (not the observation bus's: a relayed JPEG must never delay an observation),
opened in the background, so a shard starts and analyses even while NATS is slow to answer.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from ingest.types import Frame
from jetstream.config import DistributedConfig
from sharpeyes.distributed.nats_link import NatsLink
from sharpeyes.distributed.shard_health import HealthReporter, health_rows
from sharpeyes.distributed.shard_live import LiveFramePublisher
from video.pipeline import VideoPipeline


class Shard(Protocol):
    index: int
    pipeline: VideoPipeline | None
    camera_errors: dict[str, str]


class ShardViewFeed:
    def __init__(self, shard: Shard, cfg: DistributedConfig, name: str) -> None:
        self.shard = shard
        self.link = NatsLink(cfg, os.environ, name=f"{name}-view")
        self.health = HealthReporter(self.link, shard.index, self._rows)
        self.live = LiveFramePublisher(self.link, shard.index, self._frame, self._runs, self._boxes)
        self.link.start()
        self.health.start()
        self.live.start()

    def _rows(self) -> dict[str, dict[str, Any]]:
        pipeline = self.shard.pipeline
        rows = pipeline.status() if pipeline is not None else []
        return health_rows(rows, dict(self.shard.camera_errors))

    def _frame(self, camera_id: str, newer_than: int, timeout: float) -> Frame | None:
        pipeline = self.shard.pipeline  # the one running now: apply() may have replaced it
        return None if pipeline is None else pipeline.latest_frame(camera_id, newer_than, timeout)

    def _boxes(self, camera_id: str) -> dict[str, Any] | None:
        pipeline = self.shard.pipeline
        return None if pipeline is None else pipeline.latest_detections(camera_id)

    def _runs(self, camera_id: str) -> bool:
        pipeline = self.shard.pipeline
        return pipeline is not None and camera_id in pipeline.cameras

    def status(self) -> dict[str, Any]:
        return {
            "health_sent": self.health.sent,
            "live_cameras": self.live.relayed(),
            "live_frames": self.live.published,
            "live_refused": self.live.refused,
        }

    def stop(self) -> None:
        """A goodbye first (the API shows these cameras unknown at once), then the connection."""
        self.live.stop()
        self.health.stop()
        self.link.close()
