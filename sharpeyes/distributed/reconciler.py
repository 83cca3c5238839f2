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
from sharpeyes.settings import Settings

log = logging.getLogger(__name__)

SHARD_NAME = "sharpeyes-shard-{}"


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

    @property
    def shards(self) -> int:
        return self.settings.distributed.shards

    def _settings_doc(self) -> dict[str, Any]:
        return self.settings.model_dump(mode="json", exclude={"cameras"})

    def desired(self) -> dict[int, list[dict[str, Any]]]:
        by_id = {c.id: c.model_dump(mode="json") for c in self.settings.cameras if c.enabled}
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
        return out

    def update(self, settings: Settings) -> Moves:
        """Switch to a new config: shards beyond a smaller count are removed, the rest reconciled."""
        old = {c.id: c.model_dump(mode="json") for c in self.settings.cameras if c.enabled}
        new = {c.id: c.model_dump(mode="json") for c in settings.cameras if c.enabled}
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
