"""The video pipeline as tests and benchmarks run it: a real SQLite incident engine on one grid and a
`VideoPipeline` over given cameras, wired the way `sharpeyes run` wires them (minus HTTP and MQTT)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import select

from alarms.config import GridConfig, SlaConfig
from alarms.delivery.outbox import Routing
from alarms.engine import IncidentEngine
from alarms.grids import GridDirectory
from alarms.metrics import AlarmMetrics
from alarms.storage.schema import incidents
from alarms.storage.store import Store
from video.config import CameraConfig, VideoConfig
from video.pipeline import VideoPipeline
from video.snapshots import SnapshotStore

GRID = GridConfig(id="G-001", community="C-1", street="S-1")


def incident_engine(db: Path) -> tuple[IncidentEngine, GridDirectory]:
    """A migrated SQLite store with one grid (G-001) and the engine over it."""
    store = Store(f"sqlite:///{db}")
    store.migrate()
    directory = GridDirectory.build([GRID])
    metrics = AlarmMetrics(CollectorRegistry())
    return IncidentEngine(store, directory, SlaConfig(), Routing([], "se"), metrics), directory


def incident_rows(engine: IncidentEngine) -> list[dict[str, Any]]:
    with engine.store.read() as conn:
        return [dict(r) for r in conn.execute(select(incidents)).mappings()]


def video_pipeline(
    cameras: list[CameraConfig],
    engine: IncidentEngine,
    directory: GridDirectory,
    snapshots: Path,
    *,
    declared: Mapping[str, Any] | None = None,
    video: VideoConfig | None = None,
    registry: CollectorRegistry | None = None,
    env: Mapping[str, str] | None = None,
) -> VideoPipeline:
    """Not started: the caller starts and stops it."""
    return VideoPipeline(
        cameras,
        declared or {},
        video or VideoConfig(),
        engine=engine,
        directory=directory,
        snapshots=SnapshotStore(snapshots),
        registry=registry or CollectorRegistry(),
        env=env or {},
    )
