"""Garbage-collector pauses: measured, and kept short on the press path.

A full (generation 2) collection walks every object the process holds: after start-up that is hundreds of
thousands (SQLAlchemy, pydantic, FastAPI, numpy), and one such walk stalled every press in flight for
60-90 ms. Freezing the start-up objects takes them out of every later collection."""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram


class GcPauses:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.histogram = Histogram(
            "sharpeyes_gc_pause_seconds",
            "Python garbage-collector pauses, by generation",
            ["generation"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
            registry=registry,
        )
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.histogram.labels(str(info["generation"])).observe(time.perf_counter() - self._started)

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)


def freeze_startup_objects() -> None:
    """Call once everything is built: what exists now lives for the whole run, so stop scanning it."""
    gc.collect()
    gc.freeze()
