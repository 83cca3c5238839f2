"""The API role's cameras, whole: config (scope, names, pictures) plus what the shards report and relay.

`video.camera_view.ShardedCameraView` knows the cameras from the config; this adds each camera's stream
health from the shard that owns it (shard_health.py) and its live frames on demand (live_relay.py), so
`/api/cameras`, the camera wall and live view read the same rows and routes as in the local runtime.
"""

from __future__ import annotations

from typing import Any

from ingest.types import Frame
from sharpeyes.distributed.live_relay import LiveRelay
from sharpeyes.distributed.shard_health import HealthBoard
from video.camera_view import ShardedCameraView
from video.status import CameraStatus


class ShardCameraView:
    """dashboard.services.VideoView (plus `latest_jpeg`, which MJPEG sends on without re-encoding)."""

    def __init__(self, cameras: ShardedCameraView, health: HealthBoard, live: LiveRelay) -> None:
        self.cameras, self.health, self.live = cameras, health, live
        self._enabled = frozenset(c.id for c in cameras.configs if c.enabled)

    def camera_scope(self, camera_id: str) -> tuple[str, str] | None:
        return self.cameras.camera_scope(camera_id)

    def status(self) -> list[CameraStatus]:
        """Enabled cameras with their owner's health, or `unknown` when it has not reported in time."""
        return [self.health.row(row) if row.enabled else row for row in self.cameras.status()]

    def _runs(self, camera_id: str) -> bool:
        return camera_id in self._enabled

    def latest_jpeg(
        self, camera_id: str, newer_than: int = -1, timeout: float = 0.0
    ) -> tuple[int, float, bytes] | None:
        return self.live.latest_jpeg(camera_id, newer_than, timeout) if self._runs(camera_id) else None

    def latest_frame(self, camera_id: str, newer_than: int = -1, timeout: float = 0.0) -> Frame | None:
        return self.live.latest_frame(camera_id, newer_than, timeout) if self._runs(camera_id) else None

    def latest_detections(self, camera_id: str) -> dict[str, Any] | None:
        """The boxes relayed with the camera's live frames (while someone watches it)."""
        return self.live.latest_detections(camera_id) if self._runs(camera_id) else None
