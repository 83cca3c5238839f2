"""Cross-camera batcher: one worker thread runs one model call over the newest frame of many cameras.

Cameras `submit` their latest frame at any time. Only the newest frame per camera waits (an older pending one
is replaced and counted as dropped), so a slow model never builds a queue. The worker starts a batch when
`max_batch` cameras are pending or when the oldest pending frame has waited `max_wait_ms` (the latency
budget), whichever comes first. Results go to `on_result`, one call per frame, on the worker thread.
A frame older than its camera's `max_age_s` when its batch starts (a model call ran long) is dropped and
counted, never analysed: an alarm from a stale picture would be late and misleading.

A detector or callback that raises does not kill the worker: the first failure of each kind is logged with
context and a traceback, repeats are logged at debug level, and every one is counted.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from detectors.base import Detector
from detectors.config import BatcherConfig
from detectors.types import DetectionResult
from ingest.types import Frame

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0)
_BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


class BatcherMetrics:
    """Prometheus metrics of the batchers of one registry, labelled by detector name.

    Use `for_registry`: several batchers (a YOLO one, a fire one) share one set of metrics per registry,
    since a registry refuses the same metric name twice.
    """

    @classmethod
    def for_registry(cls, registry: CollectorRegistry) -> BatcherMetrics:
        with _METRICS_LOCK:
            metrics = _METRICS_BY_REGISTRY.get(registry)
            if metrics is None:
                metrics = _METRICS_BY_REGISTRY[registry] = cls(registry)
            return metrics

    def __init__(self, registry: CollectorRegistry) -> None:
        self.inference_seconds = Histogram(
            "sharpeyes_detector_inference_seconds",
            "Wall time of one detector call over a batch",
            ["detector"],
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.queue_wait_seconds = Histogram(
            "sharpeyes_detector_queue_wait_seconds",
            "Time a frame waited between submit and the start of its batch",
            ["detector"],
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.batch_size_frames = Histogram(
            "sharpeyes_detector_batch_size_frames",
            "Frames per detector call",
            ["detector"],
            registry=registry,
            buckets=_BATCH_BUCKETS,
        )
        self.frames_processed = Counter(
            "sharpeyes_detector_frames_processed", "Frames that got a result", ["detector"], registry=registry
        )
        self.frames_dropped = Counter(
            "sharpeyes_detector_frames_dropped",
            "Frames never run: superseded by a newer frame of the same camera, too old when their batch "
            "started, or pending at stop",
            ["detector", "reason"],
            registry=registry,
        )
        self.errors = Counter(
            "sharpeyes_detector_errors",
            "Detector calls or result callbacks that raised",
            ["detector", "stage"],
            registry=registry,
        )


_METRICS_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, BatcherMetrics] = (
    weakref.WeakKeyDictionary()
)
_METRICS_LOCK = threading.Lock()


@dataclass(slots=True)
class _Pending:
    frame: Frame
    submitted_at: float  # time.monotonic() when this camera's slot started waiting


class CrossCameraBatcher:
    """Feeds a `Detector` with batches of the newest frames across cameras, within a latency budget."""

    def __init__(
        self,
        detector: Detector,
        on_result: Callable[[DetectionResult], None],
        *,
        registry: CollectorRegistry,
        max_batch: int = 8,
        max_wait_ms: float = 15.0,
        name: str | None = None,
        max_age_s: float | Mapping[str, float] | None = None,
    ) -> None:
        """``max_age_s``: one bound for every camera, or per camera id (cameras not in it: no bound)."""
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.detector = detector
        self.on_result = on_result
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self.name = name or detector.name
        self.max_age_s = max_age_s
        self.metrics = BatcherMetrics.for_registry(registry)
        self._pending: dict[str, _Pending] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._logged_failures: set[tuple[str, str]] = set()
        self._busy_since: float | None = None  # time.monotonic() when the running model call began

    @classmethod
    def from_config(
        cls,
        detector: Detector,
        on_result: Callable[[DetectionResult], None],
        config: BatcherConfig,
        *,
        registry: CollectorRegistry,
    ) -> CrossCameraBatcher:
        return cls(
            detector, on_result, registry=registry, max_batch=config.max_batch, max_wait_ms=config.max_wait_ms
        )

    # -- producer side -----------------------------------------------------------------------------------

    def submit(self, frame: Frame) -> bool:
        """Queue `frame` as its camera's newest; False if it replaced a pending frame (or we stopped)."""
        with self._cond:
            if self._stopping:
                self.metrics.frames_dropped.labels(self.name, "stopped").inc()
                return False
            previous = self._pending.get(frame.camera_id)
            if previous is None:
                self._pending[frame.camera_id] = _Pending(frame, time.monotonic())
            else:
                # The camera keeps its place and its deadline: a fast camera that keeps replacing its
                # frame must not push the batch (and every other camera) back forever.
                self.metrics.frames_dropped.labels(self.name, "superseded").inc()
                previous.frame = frame
            self._cond.notify()
            return previous is None

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> CrossCameraBatcher:
        if self._thread is not None:
            raise RuntimeError("batcher already started")
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, drain: bool = False, timeout: float = 10.0) -> None:
        """Stop the worker after its current batch; pending frames run first if `drain`, else are dropped."""
        with self._cond:
            self._stopping = True
            if not drain:
                for _ in self._pending:
                    self.metrics.frames_dropped.labels(self.name, "stopped").inc()
                self._pending.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("batcher %s: worker still busy after %.1fs stop timeout", self.name, timeout)

    def __enter__(self) -> CrossCameraBatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- worker ------------------------------------------------------------------------------------------

    def _next_batch(self) -> list[_Pending] | None:
        """Block until a batch is due; None when stopping with nothing left to run."""
        with self._cond:
            while True:
                if self._pending:
                    oldest = min(p.submitted_at for p in self._pending.values())
                    remaining = oldest + self.max_wait_s - time.monotonic()
                    if len(self._pending) >= self.max_batch or remaining <= 0 or self._stopping:
                        taken = sorted(self._pending.values(), key=lambda p: p.submitted_at)[: self.max_batch]
                        for item in taken:
                            del self._pending[item.frame.camera_id]
                        return taken
                    self._cond.wait(remaining)
                elif self._stopping:
                    return None
                else:
                    self._cond.wait()

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._run(batch)

    def busy_for(self, now: float | None = None) -> float:
        """Seconds the current model call has been running (0 when idle): a watchdog reads this."""
        since = self._busy_since
        return 0.0 if since is None else (time.monotonic() if now is None else now) - since

    def abandon(self) -> None:
        """Stop taking frames and let the thread end whenever its (hung) call returns; never waits."""
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify_all()

    def _too_old(self, frame: Frame, now_ns: int) -> bool:
        bound = self.max_age_s
        if isinstance(bound, Mapping):
            bound = bound.get(frame.camera_id)
        return bound is not None and now_ns - frame.mono_ns > bound * 1e9

    def _run(self, batch: list[_Pending]) -> None:
        now_ns = time.monotonic_ns()
        if self.max_age_s is not None:
            fresh = [item for item in batch if not self._too_old(item.frame, now_ns)]
            if len(fresh) < len(batch):
                self.metrics.frames_dropped.labels(self.name, "too_old").inc(len(batch) - len(fresh))
                batch = fresh
            if not batch:
                return
        started = time.monotonic()
        frames = [item.frame for item in batch]
        for item in batch:
            self.metrics.queue_wait_seconds.labels(self.name).observe(started - item.submitted_at)
        self.metrics.batch_size_frames.labels(self.name).observe(len(frames))
        self._busy_since = started
        try:
            results = self.detector.detect(frames)
            if len(results) != len(frames):
                raise RuntimeError(f"detector returned {len(results)} results for {len(frames)} frames")
        except Exception as exc:  # loop boundary: one bad batch must not stop detection for every camera
            self._failed("detect", exc, frames)
            return
        finally:
            self._busy_since = None
            self.metrics.inference_seconds.labels(self.name).observe(time.monotonic() - started)
        for result in results:
            try:
                self.on_result(result)
            except Exception as exc:  # loop boundary: a consumer bug must not starve the other cameras
                self._failed("callback", exc, [result.frame])
            else:
                self.metrics.frames_processed.labels(self.name).inc()

    def _failed(self, stage: str, exc: Exception, frames: list[Frame]) -> None:
        self.metrics.errors.labels(self.name, stage).inc()
        cameras = ",".join(f"{f.camera_id}#{f.seq}" for f in frames)
        key = (stage, type(exc).__name__)
        if key in self._logged_failures:
            log.debug("batcher %s: %s failed again for %s: %r", self.name, stage, cameras, exc)
            return
        self._logged_failures.add(key)
        log.error(
            "batcher %s: %s failed for frames %s (further %s errors logged at debug): %r",
            self.name,
            stage,
            cameras,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
