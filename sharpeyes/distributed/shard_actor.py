"""One camera shard: the local video pipeline over this shard's cameras, publishing to JetStream.

Run as a named, detached Ray actor (see reconciler.py). Ray restarts it after a crash or a lost node with its
original constructor arguments; the reconciler then hands it the current assignment. Frames stay in this
process; only observations leave it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from alarms.grids import GridDirectory
from alarms.snapshots import SnapshotStore
from sharpeyes.distributed.bus_engine import BusEngine
from sharpeyes.distributed.shards import digest
from sharpeyes.settings import Settings
from sharpeyes.video import VideoPipeline
from sharpeyes.video_config import CameraConfig

log = logging.getLogger(__name__)


class CameraShard:
    """`apply(cameras)` is idempotent: the same assignment (by digest) leaves the running pipeline alone."""

    def __init__(self, index: int, settings_doc: Mapping[str, Any], cameras: list[dict[str, Any]]) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.index = index
        self.settings = Settings.model_validate({**settings_doc, "cameras": []})
        self.directory = GridDirectory.build(self.settings.grids)
        self.registry = CollectorRegistry()  # the spool's metrics (counts also in status())
        cfg = self.settings.distributed
        name = f"sharpeyes-shard-{index}"
        spool = Path(cfg.spool_dir) / f"{name}.jsonl" if cfg.spool_dir else None
        self.bus = BusEngine(cfg, name=name, spool_path=spool, registry=self.registry)
        self.pipeline: VideoPipeline | None = None
        self.digest = ""
        self.started_at = time.time()
        self.pipeline_started_at: float | None = None
        self.apply(cameras)

    def apply(self, cameras: list[dict[str, Any]]) -> dict[str, Any]:
        """Start, restart or keep this shard's pipeline; returns whether it changed."""
        new = digest(cameras)
        if new == self.digest:
            return {"shard": self.index, "changed": False, "digest": new}
        configs = [CameraConfig.model_validate(c) for c in cameras]
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None
        if configs:
            s = self.settings
            pipeline = VideoPipeline(
                configs,
                s.detectors,
                s.video,
                engine=self.bus,  # type: ignore[arg-type]  # duck-typed: publishes instead of writing
                directory=self.directory,
                snapshots=SnapshotStore(s.storage.snapshots_path()),
                registry=CollectorRegistry(),  # fresh per pipeline: a re-apply registers again
                env=os.environ,
            )
            pipeline.start()
            self.pipeline = pipeline
            self.pipeline_started_at = time.time()
        self.digest = new
        log.info("shard %d: %d cameras (%s)", self.index, len(configs), new)
        return {"shard": self.index, "changed": True, "digest": new}

    def status(self) -> dict[str, Any]:
        """Enough to see a restart (pid, started_at) and that cameras resumed (analysed frames grow)."""
        import ray

        cams = self.pipeline.status() if self.pipeline is not None else []
        return {
            "shard": self.index,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
            "started_at": self.started_at,
            "pipeline_started_at": self.pipeline_started_at,
            "digest": self.digest,
            "cameras": {c["id"]: {"state": c["state"], "analysed": c["analysed_frames"]} for c in cams},
            "published": self.bus.publisher.published,
            "duplicates": self.bus.publisher.duplicates,
            "spool": {
                "depth": len(self.bus.spool),
                "spooled": self.bus.spooled,
                "replayed": self.bus.replayed,
                "dropped": self.bus.dropped,
            },
        }

    def stop(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None
        self.digest = ""
        self.bus.close()
