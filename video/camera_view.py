"""The API role's view of cameras that run on Ray shards: scope, listing and evidence pictures.

With `runtime: ray` the API process analyses no video, yet operators open an incident and expect its
evidence picture, and the camera list. The shards write snapshots to the evidence storage (a shared
`storage.snapshots_dir` — the k8s manifests mount one claim on the shards and the API — or the S3 bucket of
`storage.evidence`), so the API serves them from there (`Services.snapshots`); scope comes from the config.
Live frames and stream health stay on the shards (not here yet).
"""

from __future__ import annotations

from typing import Any

from alarms.grids import GridDirectory
from ingest.types import Frame
from video.config import CameraConfig
from video.snapshots import SnapshotStore
from video.status import CameraStatus, camera_status


class ShardedCameraView:
    """dashboard.services.VideoView over configured cameras that this process does not run."""

    def __init__(self, cameras: list[CameraConfig], directory: GridDirectory, snapshots: SnapshotStore):
        self.configs = cameras
        self.snapshots = snapshots
        self._grids = {c.id: directory.grid_placement(c.grid) for c in cameras}

    def camera_scope(self, camera_id: str) -> tuple[str, str] | None:
        grid = self._grids.get(camera_id)
        return None if grid is None else (grid.street_id, grid.grid_id)

    def latest_frame(self, camera_id: str, newer_than: int = -1, timeout: float = 0.0) -> Frame | None:
        return None

    def latest_detections(self, camera_id: str) -> dict[str, Any] | None:
        return None

    def status(self) -> list[CameraStatus]:
        """Credential-free, like the local pipeline's; `state` says where the camera is analysed."""
        return [
            camera_status(cfg, self._grids[cfg.id], state="on_shard" if cfg.enabled else "disabled")
            for cfg in self.configs
        ]
