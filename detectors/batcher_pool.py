"""Several batcher workers for one detector, each with its own detector instance.

One worker thread tops out at about 1 / (time per model call) batches per second: on a 2-core box a YOLOX-Nano
frame costs ~16–25 ms, so one worker carries about 8 cameras at 5 fps while a core sits idle
(benchmarks/README.md, video throughput). A pool runs `workers` CrossCameraBatchers side by side.

Each camera sticks to one worker (the least loaded when it first submits), so its frames are analysed in
order and stateful detectors (the fire detector's flicker history) see every frame of a camera in one
instance. Each worker owns its detector: sessions, scratch buffers and inference requests are never shared
between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry

from detectors.base import Detector
from detectors.batcher import CrossCameraBatcher
from detectors.types import DetectionResult
from ingest.types import Frame


class BatcherPool:
    """The CrossCameraBatcher interface the video pipeline uses, over `len(detectors)` workers."""

    def __init__(
        self,
        detectors: list[Detector],
        on_result: Callable[[DetectionResult], None],
        *,
        registry: CollectorRegistry,
        max_batch: int = 8,
        max_wait_ms: float = 15.0,
        name: str,
        max_age_s: float | Mapping[str, float] | None = None,
    ) -> None:
        if not detectors:
            raise ValueError("a batcher pool needs at least one detector")
        self.name = name
        self.workers = [
            CrossCameraBatcher(
                detector,
                on_result,
                registry=registry,  # one set of metrics, labelled by the detector's name
                max_batch=max_batch,
                max_wait_ms=max_wait_ms,
                name=name,
                max_age_s=max_age_s,
            )
            for detector in detectors
        ]
        self._owner: dict[str, CrossCameraBatcher] = {}
        self._load = [0] * len(self.workers)
        self._lock = threading.Lock()

    def _worker_for(self, camera_id: str) -> CrossCameraBatcher:
        worker = self._owner.get(camera_id)
        if worker is None:
            with self._lock:
                worker = self._owner.get(camera_id)
                if worker is None:
                    index = min(range(len(self.workers)), key=self._load.__getitem__)
                    self._load[index] += 1
                    worker = self._owner[camera_id] = self.workers[index]
        return worker

    def submit(self, frame: Frame) -> bool:
        return self._worker_for(frame.camera_id).submit(frame)

    def assignment(self) -> dict[str, int]:
        """Camera id → worker index, for status and tests."""
        index = {id(w): i for i, w in enumerate(self.workers)}
        return {camera: index[id(w)] for camera, w in self._owner.items()}

    @property
    def pending(self) -> int:
        return sum(w.pending for w in self.workers)

    def start(self) -> BatcherPool:
        for worker in self.workers:
            worker.start()
        return self

    def stop(self, *, drain: bool = False, timeout: float = 10.0) -> None:
        for worker in self.workers:
            worker.stop(drain=drain, timeout=timeout)

    def busy_for(self, now: float | None = None) -> float:
        """The longest running model call of any worker: one hung worker silences its cameras."""
        return max(w.busy_for(now) for w in self.workers)

    def abandon(self) -> None:
        for worker in self.workers:
            worker.abandon()

    def close(self) -> None:
        for worker in self.workers:
            worker.detector.close()
