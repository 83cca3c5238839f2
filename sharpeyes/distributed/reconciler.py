"""Keeps every camera shard alive on Ray and hands each its cameras (`sharpeyes run --role shard`).

Shards are named, detached actors: they outlive this process, so restarting the reconciler (say with a new
config) restarts nothing; a shard whose assignment digest is unchanged keeps running, and only cameras that
were added, removed, changed or (when the shard count changed) re-hashed stop or start anywhere.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from sharpeyes.distributed.shards import Moves, assign, plan
from sharpeyes.settings import Settings, env_templates

log = logging.getLogger(__name__)

SHARD_NAME = "sharpeyes-shard-{}"
# What a shard needs of the config; the rest (database URL, MQTT, webhooks, tokens) never reaches Ray.
SHARD_SECTIONS = frozenset({"grids", "detectors", "video", "clips", "distributed", "log_level"})


def _put(doc: Any, path: tuple[str | int, ...], raw: str) -> None:
    """Set doc[path] = raw where that path exists and holds a plain value."""
    for key in path[:-1]:
        try:
            doc = doc[key]
        except (KeyError, IndexError, TypeError):
            return
    last = path[-1]
    in_dict = isinstance(doc, dict) and last in doc and not isinstance(doc[last], dict | list)
    in_list = isinstance(doc, list) and isinstance(last, int) and 0 <= last < len(doc)
    if in_dict or in_list:
        doc[last] = raw


def camera_docs(settings: Settings) -> dict[str, dict[str, Any]]:
    """Enabled cameras as JSON, every `${VAR}` string as written in the config: a camera password stays
    out of Ray (actor arguments live in its GCS); the shard expands it from its own node's environment."""
    templates = env_templates(settings)
    out: dict[str, dict[str, Any]] = {}
    for i, cam in enumerate(settings.cameras):
        if not cam.enabled:
            continue
        doc = cam.model_dump(mode="json")
        for loc, raw in templates.items():
            if loc[:2] == ("cameras", i) and len(loc) > 2:
                _put(doc, loc[2:], raw)
        out[cam.id] = doc
    return out


def shard_settings_doc(settings: Settings) -> dict[str, Any]:
    """The shard's part of the config, `${VAR}` strings as written (see camera_docs)."""
    doc = settings.model_dump(mode="json", include=set(SHARD_SECTIONS))
    doc["storage"] = {
        "snapshots_dir": settings.storage.snapshots_path(),
        # where evidence goes (S3: endpoint, bucket and the NAMES of the key variables, never their values)
        "evidence": settings.storage.evidence.model_dump(mode="json"),
    }
    for loc, raw in env_templates(settings).items():
        if loc and loc[0] in SHARD_SECTIONS:
            _put(doc, loc, raw)
        elif loc == ("storage", "snapshots_dir"):
            doc["storage"]["snapshots_dir"] = raw
    return doc


class Reconciler:
    """Desired state: `settings` (cameras, shard count); `reconcile()` makes the cluster match it once."""

    def __init__(self, settings: Settings, call_timeout_s: float = 60.0) -> None:
        import ray

        from sharpeyes.distributed.shard_actor import CameraShard

        self.settings = settings
        self.call_timeout_s = call_timeout_s
        self._ray = ray
        self._remote = ray.remote(CameraShard)
        self.last_errors: dict[int, str] = {}
        self.camera_errors: dict[int, dict[str, str]] = {}  # per shard: camera id -> why it cannot run

    @property
    def shards(self) -> int:
        return self.settings.distributed.shards

    def _settings_doc(self) -> dict[str, Any]:
        return shard_settings_doc(self.settings)

    def desired(self) -> dict[int, list[dict[str, Any]]]:
        by_id = camera_docs(self.settings)
        return {i: [by_id[c] for c in cams] for i, cams in assign(by_id, self.shards).items()}

    def options(self, index: int) -> dict[str, Any]:
        cfg = self.settings.distributed
        opts: dict[str, Any] = {
            "name": SHARD_NAME.format(index),
            "namespace": cfg.namespace,
            "lifetime": "detached",
            "get_if_exists": True,
            "max_restarts": -1,
            "max_task_retries": -1,
            "num_cpus": cfg.shard_num_cpus,
            "scheduling_strategy": "SPREAD",  # shards across nodes: a lost node takes few cameras with it
        }
        if self._ray.cluster_resources().get("GPU", 0) > 0 and cfg.shard_num_gpus > 0:
            opts["num_gpus"] = cfg.shard_num_gpus  # fractional: several shards share one GPU
        return opts

    def handle(self, index: int, cameras: list[dict[str, Any]]) -> Any:
        """The live shard actor, created when missing (its constructor gets the current assignment)."""
        return self._remote.options(**self.options(index)).remote(index, self._settings_doc(), cameras)

    def reconcile(self) -> dict[int, dict[str, Any]]:
        """Every shard exists and runs its current assignment; failures are retried on the next round."""
        want = self.desired()
        refs = {i: self.handle(i, cams).apply.remote(cams) for i, cams in want.items()}
        out: dict[int, dict[str, Any]] = {}
        self.last_errors = {}
        for i, ref in refs.items():
            try:
                out[i] = self._ray.get(ref, timeout=self.call_timeout_s)
            except Exception as exc:  # a shard mid-restart or a lost node: next round tries again
                self.last_errors[i] = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("shard %d not reconciled: %s", i, self.last_errors[i])
                continue
            errors = dict(out[i].get("camera_errors") or {})
            if errors != self.camera_errors.get(i, {}):  # once per change, not every round
                for cam, why in sorted(errors.items()):
                    log.warning("shard %d: camera %s not started: %s", i, cam, why)
            self.camera_errors[i] = errors
        return out

    def update(self, settings: Settings) -> Moves:
        """Switch to a new config: shards beyond a smaller count are removed, the rest reconciled."""
        old, new = camera_docs(self.settings), camera_docs(settings)
        moves = plan(old, new, self.shards, settings.distributed.shards)
        old_shards = self.shards
        self.settings = settings
        for i in range(settings.distributed.shards, old_shards):
            self.kill(i)
        self.reconcile()
        return moves

    def actor(self, index: int) -> Any:
        return self._ray.get_actor(SHARD_NAME.format(index), namespace=self.settings.distributed.namespace)

    def status(self, timeout: float = 30.0) -> dict[int, dict[str, Any]]:
        refs = {i: self.actor(i).status.remote() for i in range(self.shards)}
        return {i: self._ray.get(ref, timeout=timeout) for i, ref in refs.items()}

    def kill(self, index: int) -> None:
        """For good (no restart): a shard that is no longer wanted."""
        try:
            actor = self.actor(index)
        except ValueError:
            return
        try:
            self._ray.get(actor.stop.remote(), timeout=15)
        except Exception:  # stopping cleanly is best effort; the kill is not
            log.warning("shard %d did not stop cleanly", index)
        self._ray.kill(actor, no_restart=True)

    def shutdown(self) -> None:
        for i in range(self.shards):
            self.kill(i)


def main(settings: Settings) -> int:
    """Join the Ray cluster and reconcile every `reconcile_every_s` until SIGINT/SIGTERM (shards stay up)."""
    import ray

    cfg = settings.distributed
    ray.init(address=cfg.ray_address, namespace=cfg.namespace, log_to_driver=False)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    reconciler = Reconciler(settings)
    log.info("reconciling %d shards, %d cameras", reconciler.shards, len(settings.cameras))
    while not stop.is_set():
        started = time.monotonic()
        reconciler.reconcile()
        stop.wait(max(0.0, cfg.reconcile_every_s - (time.monotonic() - started)))
    ray.shutdown()
    return 0
