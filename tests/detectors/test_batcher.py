"""Cross-camera batcher: batching, the latency budget, newest-frame-wins, failures, stop, metrics."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from detectors.base import build_detector
from detectors.batcher import CrossCameraBatcher
from detectors.config import BatcherConfig, parse_detector_config
from detectors.types import DetectionResult, Detections
from ingest.types import Frame

IMAGE = np.zeros((36, 64, 3), np.uint8)


def frame(camera: str, seq: int = 0) -> Frame:
    return Frame(camera, seq, time.time(), time.monotonic_ns(), IMAGE)


class ScriptedDetector:
    """Records batches; can block on a gate, sleep, or raise for chosen calls."""

    name = "scripted"
    class_names = ("thing",)

    def __init__(self, *, delay_s: float = 0.0, fail_calls: Sequence[int] = ()) -> None:
        self.batches: list[list[tuple[str, int]]] = []
        self.delay_s = delay_s
        self.fail_calls = set(fail_calls)
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def detect(self, frames: Sequence[Frame]) -> list[DetectionResult]:
        self.entered.set()
        self.gate.wait(5)
        call = len(self.batches)
        self.batches.append([(f.camera_id, f.seq) for f in frames])
        time.sleep(self.delay_s)
        if call in self.fail_calls:
            raise RuntimeError(f"model exploded on call {call}")
        return [DetectionResult(f, Detections.empty(self.class_names), self.name, 1.0) for f in frames]

    def close(self) -> None:
        pass


class Collector:
    def __init__(self) -> None:
        self.results: list[DetectionResult] = []
        self.arrived = threading.Condition()

    def __call__(self, result: DetectionResult) -> None:
        with self.arrived:
            self.results.append(result)
            self.arrived.notify_all()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[DetectionResult]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.results) >= n, timeout), self.results
            return list(self.results)


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, {"detector": "scripted", **labels})
    return 0.0 if value is None else value


@pytest.mark.parametrize(
    ("cameras", "max_batch", "expected_sizes"),
    [(8, 8, [8]), (8, 4, [4, 4]), (5, 2, [2, 2, 1]), (3, 8, [3])],
)
def test_frames_across_cameras_are_batched(cameras, max_batch, expected_sizes) -> None:
    detector, collect, registry = ScriptedDetector(), Collector(), CollectorRegistry()
    batcher = CrossCameraBatcher(detector, collect, registry=registry, max_batch=max_batch, max_wait_ms=100)
    detector.gate.clear()  # hold the worker so every submission lands before the first batch is cut
    with batcher:
        for i in range(cameras):
            batcher.submit(frame(f"cam{i}"))
        detector.gate.set()
        results = collect.wait_for(cameras)
    assert [len(batch) for batch in detector.batches] == expected_sizes
    assert sorted(r.frame.camera_id for r in results) == sorted(f"cam{i}" for i in range(cameras))
    assert metric(registry, "sharpeyes_detector_batch_size_frames_count") == len(expected_sizes)
    assert metric(registry, "sharpeyes_detector_frames_processed_total") == cameras


@pytest.mark.parametrize("max_wait_ms", [0.0, 30.0, 120.0])
def test_a_lone_frame_waits_no_longer_than_the_budget(max_wait_ms) -> None:
    detector, collect = ScriptedDetector(), Collector()
    with CrossCameraBatcher(
        detector, collect, registry=CollectorRegistry(), max_wait_ms=max_wait_ms
    ) as batcher:
        started = time.monotonic()
        batcher.submit(frame("only"))
        collect.wait_for(1)
        waited_ms = (time.monotonic() - started) * 1000
    assert max_wait_ms * 0.8 <= waited_ms < max_wait_ms + 150


def test_only_the_newest_frame_per_camera_waits() -> None:
    detector, collect, registry = ScriptedDetector(), Collector(), CollectorRegistry()
    with CrossCameraBatcher(detector, collect, registry=registry, max_batch=4, max_wait_ms=0) as batcher:
        detector.gate.clear()
        batcher.submit(frame("a", 0))
        assert detector.entered.wait(2)  # the worker is busy with a#0
        accepted = [batcher.submit(frame("a", seq)) for seq in (1, 2, 3)] + [batcher.submit(frame("b", 1))]
        detector.gate.set()
        collect.wait_for(3)
    assert accepted == [True, False, False, True]
    assert detector.batches == [[("a", 0)], [("a", 3), ("b", 1)]]
    assert metric(registry, "sharpeyes_detector_frames_dropped_total", reason="superseded") == 2


def test_a_failing_detector_is_logged_once_counted_and_survived(caplog: pytest.LogCaptureFixture) -> None:
    detector, collect, registry = ScriptedDetector(fail_calls=(0, 1)), Collector(), CollectorRegistry()
    with (
        caplog.at_level(logging.DEBUG, logger="detectors.batcher"),
        CrossCameraBatcher(detector, collect, registry=registry, max_wait_ms=0) as batcher,
    ):
        for seq in range(3):
            batcher.submit(frame("cam7", seq))
            time.sleep(0.05)
        results = collect.wait_for(1)
    assert [r.frame.seq for r in results] == [2]
    assert metric(registry, "sharpeyes_detector_errors_total", stage="detect") == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "cam7#0" in errors[0].getMessage() and errors[0].exc_info


def test_a_failing_callback_does_not_starve_other_cameras() -> None:
    delivered: list[str] = []

    def callback(result: DetectionResult) -> None:
        if result.frame.camera_id == "bad":
            raise ValueError("consumer bug")
        delivered.append(result.frame.camera_id)

    registry = CollectorRegistry()
    detector = ScriptedDetector()
    detector.gate.clear()
    with CrossCameraBatcher(detector, callback, registry=registry, max_wait_ms=50) as batcher:
        batcher.submit(frame("bad"))
        batcher.submit(frame("good"))
        detector.gate.set()
        deadline = time.monotonic() + 3
        while not delivered and time.monotonic() < deadline:
            time.sleep(0.01)
    assert delivered == ["good"]
    assert metric(registry, "sharpeyes_detector_errors_total", stage="callback") == 1


@pytest.mark.parametrize(("drain", "expected_processed", "expected_dropped"), [(False, 1, 2), (True, 3, 0)])
def test_stop_is_clean(drain, expected_processed, expected_dropped) -> None:
    detector, collect, registry = ScriptedDetector(), Collector(), CollectorRegistry()
    batcher = CrossCameraBatcher(detector, collect, registry=registry, max_batch=1, max_wait_ms=0).start()
    detector.gate.clear()
    batcher.submit(frame("a"))
    assert detector.entered.wait(2)
    batcher.submit(frame("b"))
    batcher.submit(frame("c"))
    threading.Timer(0.1, detector.gate.set).start()
    batcher.stop(drain=drain)
    assert not batcher._thread.is_alive()
    assert len(collect.results) == expected_processed
    assert metric(registry, "sharpeyes_detector_frames_dropped_total", reason="stopped") == expected_dropped
    assert batcher.submit(frame("late")) is False


def test_latency_metrics_are_recorded() -> None:
    detector, collect, registry = ScriptedDetector(delay_s=0.02), Collector(), CollectorRegistry()
    with CrossCameraBatcher(detector, collect, registry=registry, max_wait_ms=0) as batcher:
        batcher.submit(frame("a"))
        collect.wait_for(1)
    assert metric(registry, "sharpeyes_detector_inference_seconds_count") == 1
    assert metric(registry, "sharpeyes_detector_inference_seconds_sum") >= 0.02
    assert metric(registry, "sharpeyes_detector_queue_wait_seconds_count") == 1


def test_real_model_behind_the_batcher(media) -> None:
    """Three cameras, one YOLOX batch: every camera gets its own people back."""
    detector = build_detector(
        parse_detector_config(
            {
                "kind": "onnx",
                "model": str(media.path("weights/yolox_nano.onnx")),
                "classes": {"person": "person"},
            }
        )
    )
    images = {
        "bus": "images/people/bus.jpg",
        "zidane": "images/people/zidane.jpg",
        "street": "images/people/street.jpg",
    }
    collect = Collector()
    with CrossCameraBatcher(
        detector, collect, registry=CollectorRegistry(), max_batch=3, max_wait_ms=500
    ) as batcher:
        for camera, path in images.items():
            batcher.submit(media.frame(path, camera))
        results = {r.frame.camera_id: r for r in collect.wait_for(3)}
    assert {camera: r.extras.batch_size for camera, r in results.items()} == {
        "bus": 3,
        "zidane": 3,
        "street": 3,
    }
    assert len(results["bus"].detections) == 4 and len(results["zidane"].detections) == 2
    assert len(results["street"].detections) >= 6


def test_two_batchers_share_one_registry() -> None:
    """A YOLO batcher and a fire batcher in one process: one set of metrics, labelled by detector."""
    registry = CollectorRegistry()
    people, fire = ScriptedDetector(), ScriptedDetector()
    fire.name = "fire"
    collect = Collector()
    config = BatcherConfig(max_batch=4, max_wait_ms=0)
    with (
        CrossCameraBatcher.from_config(people, collect, config, registry=registry) as a,
        CrossCameraBatcher.from_config(fire, collect, config, registry=registry) as b,
    ):
        a.submit(frame("cam1"))
        b.submit(frame("cam1"))
        collect.wait_for(2)
    for name in ("scripted", "fire"):
        assert registry.get_sample_value("sharpeyes_detector_frames_processed_total", {"detector": name}) == 1


@pytest.mark.parametrize(
    ("max_age_s", "expected_run"), [({"old": 0.2}, ["new"]), (0.2, ["new"]), (None, ["old", "new"])]
)
def test_frames_past_their_max_age_are_dropped_and_counted(max_age_s, expected_run) -> None:
    """A slow model call leaves frames waiting: those older than their camera's bound are never analysed."""
    detector, out, registry = ScriptedDetector(), Collector(), CollectorRegistry()
    detector.gate.clear()  # the first call blocks, as a long inference would
    with CrossCameraBatcher(
        detector, out, registry=registry, max_batch=8, max_wait_ms=1, max_age_s=max_age_s
    ) as batcher:
        batcher.submit(frame("first"))
        assert detector.entered.wait(5)
        stale = Frame("old", 1, time.time() - 0.5, time.monotonic_ns() - 500_000_000, IMAGE)
        batcher.submit(stale)
        batcher.submit(frame("new"))
        detector.gate.set()
        results = out.wait_for(1 + len(expected_run))
        time.sleep(0.05)
    assert [r.frame.camera_id for r in results] == ["first", *expected_run]
    dropped = metric(registry, "sharpeyes_detector_frames_dropped_total", reason="too_old")
    assert dropped == (0 if max_age_s is None else 1)
