"""Batcher pool: cameras spread over workers, each camera on one worker, workers run model calls at once."""

from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry

from detectors.batcher_pool import BatcherPool
from tests.detectors.test_batcher import Collector, ScriptedDetector, frame


class Overlap(ScriptedDetector):
    """Counts how many instances are inside a model call at the same moment."""

    lock = threading.Lock()
    inside = 0
    most = 0

    def detect(self, frames):  # type: ignore[no-untyped-def]
        with Overlap.lock:
            Overlap.inside += 1
            Overlap.most = max(Overlap.most, Overlap.inside)
        try:
            return super().detect(frames)
        finally:
            with Overlap.lock:
                Overlap.inside -= 1


def test_cameras_stick_to_the_least_loaded_worker_and_keep_their_order() -> None:
    detectors = [ScriptedDetector(), ScriptedDetector()]
    got = Collector()
    pool = BatcherPool(detectors, got, registry=CollectorRegistry(), max_batch=4, max_wait_ms=1, name="p")
    pool.start()
    try:
        for seq in range(20):
            for cam in ("A", "B", "C", "D"):
                pool.submit(frame(cam, seq))
            time.sleep(0.004)
        deadline = time.monotonic() + 5
        while len(got.results) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        pool.stop(drain=True)
    assignment = pool.assignment()
    assert sorted(assignment.values()) == [0, 0, 1, 1], "four cameras, two workers: two each"
    for index, det in enumerate(detectors):
        cams = {cam for batch in det.batches for cam, _ in batch}
        assert cams == {c for c, i in assignment.items() if i == index}, (
            "a camera never visits another worker"
        )
    by_camera: dict[str, list[int]] = {}
    for r in got.results:
        by_camera.setdefault(r.frame.camera_id, []).append(r.frame.seq)
    assert all(seqs == sorted(seqs) for seqs in by_camera.values()), "frames of a camera stay in order"


def test_workers_run_model_calls_at_the_same_time() -> None:
    """The reason for the pool: with one worker a second camera waits for the first camera's call."""
    Overlap.most = 0
    detectors = [Overlap(delay_s=0.15), Overlap(delay_s=0.15)]
    got = Collector()
    pool = BatcherPool(detectors, got, registry=CollectorRegistry(), max_batch=1, max_wait_ms=0, name="p")
    pool.start()
    try:
        pool.submit(frame("A"))
        pool.submit(frame("B"))
        deadline = time.monotonic() + 5
        while len(got.results) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        pool.stop()
        pool.close()
    assert len(got.results) == 2 and Overlap.most == 2

    Overlap.most = 0
    single = BatcherPool(
        [Overlap(delay_s=0.05)],
        Collector(),
        registry=CollectorRegistry(),
        max_batch=1,
        max_wait_ms=0,
        name="q",
    ).start()
    try:
        single.submit(frame("A"))
        single.submit(frame("B"))
        time.sleep(0.3)
    finally:
        single.stop(drain=True)
    assert Overlap.most == 1


def test_busy_for_reports_the_longest_running_worker() -> None:
    slow = ScriptedDetector()
    slow.gate.clear()
    pool = BatcherPool(
        [ScriptedDetector(), slow],
        Collector(),
        registry=CollectorRegistry(),
        max_batch=1,
        max_wait_ms=0,
        name="p",
    ).start()
    try:
        pool.submit(frame("A"))  # worker 0
        pool.submit(frame("B"))  # worker 1: blocks on its gate
        assert slow.entered.wait(5)
        time.sleep(0.2)
        assert pool.busy_for() >= 0.15
    finally:
        slow.gate.set()
        pool.stop()
