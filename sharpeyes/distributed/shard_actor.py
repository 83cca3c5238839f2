"""One camera shard: the local video pipeline over this shard's cameras, publishing to JetStream.

Run as a named, detached Ray actor (see reconciler.py). Ray restarts it after a crash or a lost node with its
original constructor arguments; the reconciler then hands it the current assignment. Frames stay in this
process; only observations leave it.

Its arguments carry the config's `${VAR}` strings as written (Ray keeps an actor's constructor arguments in
its GCS, to restart it), so camera passwords and other secrets are expanded here, from this node's
environment (the Kubernetes Secret on the worker pods). A camera whose variable is missing on this node
does not start; its status says why, and the other cameras run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from alarms.grids import GridDirectory
from jetstream.bus_engine import BusEngine
from sharpeyes.distributed.shard_clips import ShardClips
from sharpeyes.distributed.shard_view_feed import ShardViewFeed
from sharpeyes.distributed.shards import digest
from sharpeyes.evidence_wiring import build_evidence, snapshot_store
from sharpeyes.settings import Settings, expand_env, format_loc
from video.config import CameraConfig
from video.pipeline import VideoPipeline

log = logging.getLogger(__name__)


class CameraShard:
    """`apply(cameras)` is idempotent: the same assignment (by digest) leaves the running pipeline alone."""

    def __init__(self, index: int, settings_doc: Mapping[str, Any], cameras: list[dict[str, Any]]) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.index = index
        doc, missing = expand_env(dict(settings_doc), os.environ)
        if missing:  # nothing of this shard can run (no NATS address, say): say which, never a value
            raise RuntimeError(f"shard {index} settings on this node: {'; '.join(missing)}")
        self.settings = Settings.model_validate({**doc, "cameras": []})
        # No cameras in these settings (assigned below): each camera's own name comes with its config.
        s = self.settings
        self.directory = GridDirectory.build(s.grids, s.communities, s.streets)
        self.registry = CollectorRegistry()  # the spool's metrics (counts also in status())
        cfg = self.settings.distributed
        name = f"sharpeyes-shard-{index}"
        spool = Path(cfg.spool_dir) / f"{name}.jsonl" if cfg.spool_dir else None
        self.bus = BusEngine(cfg, name=name, spool_path=spool, registry=self.registry)
        self.evidence = build_evidence(self.settings, os.environ, self.registry)  # shared folder or S3
        self.clips = ShardClips(self.settings, self.bus, name, self.evidence)  # rings here, files shared
        self.pipeline: VideoPipeline | None = None
        self.digest = ""
        self.camera_errors: dict[str, str] = {}
        self.started_at = time.time()
        self.pipeline_started_at: float | None = None
        self.apply(cameras)
        self.view = ShardViewFeed(self, cfg, name)  # health and on-demand live frames for the API role

    def apply(self, cameras: list[dict[str, Any]]) -> dict[str, Any]:
        """Start, restart or keep this shard's pipeline; returns whether it changed."""
        new = digest(cameras)
        if new == self.digest:
            return self._applied(False)
        configs, self.camera_errors = self._expand(cameras)
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None
        if configs:
            s = self.settings
            pipeline = VideoPipeline(
                configs,
                s.detectors,
                s.video,
                engine=self.clips.sink,  # a ConditionSink: publishes instead of writing, then asks for a clip
                directory=self.directory,
                snapshots=snapshot_store(s, self.evidence),
                registry=CollectorRegistry(),  # fresh per pipeline: a re-apply registers again
                env=os.environ,
                timezone=s.locale.timezone,
                packet_tap=self.clips.tap,
            )
            pipeline.start()
            self.pipeline = pipeline
            self.pipeline_started_at = time.time()
        self.digest = new
        log.info("shard %d: %d cameras (%s)", self.index, len(configs), new)
        return self._applied(True)

    def _applied(self, changed: bool) -> dict[str, Any]:
        return {
            "shard": self.index,
            "changed": changed,
            "digest": self.digest,
            "camera_errors": dict(self.camera_errors),
        }

    def _expand(self, cameras: list[dict[str, Any]]) -> tuple[list[CameraConfig], dict[str, str]]:
        """Each camera's `${VAR}` from this node's environment; one that cannot be expanded is left out."""
        configs: list[CameraConfig] = []
        errors: dict[str, str] = {}
        for raw in cameras:
            cam_id = str(raw.get("id", "?"))
            doc, missing = expand_env(raw, os.environ)
            if missing:
                errors[cam_id] = "; ".join(missing) + " on this node"
            else:
                try:
                    configs.append(CameraConfig.model_validate(doc))
                except ValidationError as exc:  # the messages only: an error's input may hold the password
                    errors[cam_id] = "; ".join(f"{format_loc(e['loc'])}: {e['msg']}" for e in exc.errors())
            if cam_id in errors:
                log.error("shard %d: camera %s not started: %s", self.index, cam_id, errors[cam_id])
        return configs, errors

    def status(self) -> dict[str, Any]:
        """Enough to see a restart (pid, started_at) and that cameras resumed (analysed frames grow)."""
        import ray

        cams = self.pipeline.status() if self.pipeline is not None else []
        health: dict[str, dict[str, Any]] = {
            c.id: {"state": c.state, "analysed": c.analysed_frames} for c in cams
        }
        for cam, why in self.camera_errors.items():
            health[cam] = {"state": "config_error", "analysed": 0, "error": why}
        return {
            "shard": self.index,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
            "started_at": self.started_at,
            "pipeline_started_at": self.pipeline_started_at,
            "digest": self.digest,
            "cameras": health,
            "published": self.bus.publisher.published,
            "clips": self.clips.status(),
            "view": self.view.status(),
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
        self.view.stop()
        self.clips.stop()
        self.bus.close()
        self.evidence.close()  # uploads not done yet wait in the node's spool for the next start
