"""The API role's view of cameras that run on Ray shards: scope, listing and evidence pictures.

With `runtime: ray` the API process analyses no video, yet operators open an incident and expect its
evidence picture, and the camera list. The shards write snapshots to `storage.snapshots_dir`, which is shared
storage in production (the k8s manifests mount one claim on the shards and the API), so the API serves them
from there; scope comes from the config. Live frames and stream health stay on the shards (not here yet).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alarms.grids import GridDirectory
from alarms.snapshots import SnapshotStore
from ingest.redact import redact_url
from ingest.types import Frame
from sharpeyes.video_config import CameraConfig


class ShardedCameraView:
    """dashboard.services.VideoView over configured cameras that this process does not run."""

    def __init__(self, cameras: list[CameraConfig], directory: GridDirectory, snapshots: SnapshotStore):
        self.configs = cameras
        self.snapshots = snapshots
        self._grids = {c.id: directory.grid_placement(c.grid) for c in cameras}

    def camera_scope(self, camera_id: str) -> tuple[str, str] | None:
        grid = self._grids.get(camera_id)
        return None if grid is None else (grid.street_id, grid.grid_id)

    def snapshot_path(self, camera_id: str, filename: str) -> Path | None:
        if camera_id not in self._grids:
            return None
        return self.snapshots.resolve(camera_id, filename)

    def latest_frame(self, camera_id: str, newer_than: int = -1, timeout: float = 0.0) -> Frame | None:
        return None

    def latest_detections(self, camera_id: str) -> dict[str, Any] | None:
        return None

    def status(self) -> list[dict[str, Any]]:
        """Credential-free, like the local pipeline's; `state` says where the camera is analysed."""
        return [
            {
                "id": cfg.id,
                "name": cfg.name,
                "grid_id": cfg.grid,
                "community_id": self._grids[cfg.id].community_id,
                "street_id": self._grids[cfg.id].street_id,
                "enabled": cfg.enabled,
                "url": redact_url(cfg.url),
                "detect_url": redact_url(cfg.detect_url) if cfg.detect_url else None,
                "state": "on_shard" if cfg.enabled else "disabled",
                "video_loss": False,
                "analysed_frames": 0,
                "detectors": {},
                "rules": [r.kind for r in cfg.rules],
                "streams": [],
            }
            for cfg in self.configs
        ]
