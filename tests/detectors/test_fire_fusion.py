"""Fire fusion: classical candidates kept only where the learned model agrees.

The wiring is tested end to end with a real ONNX trained here by `sharpeyes train` (one epoch, 64 px, a
generated dataset, network refused) and loaded by the `onnx` backend; the confirmation rule itself with a
stand-in model whose boxes are chosen by the test.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from detectors import fire_fusion
from detectors.base import build_detector
from detectors.classical_fire import ClassicalFireDetector
from detectors.config import ClassicalFireConfig, FireFusionConfig, parse_detector_config
from detectors.fire_fusion import FireFusionDetector, overlap_of_smaller
from detectors.types import DetectionResult, Detections
from ingest.types import Frame

REPO = Path(__file__).resolve().parents[2]
ROOM = "video/fire_room_getty.mp4"
CROSSWALK = "video/crosswalk_pedestrians.mp4"


def _train_helpers():
    """The dataset generator and network guard of tests/sharpeyes/test_train.py (one copy of each)."""
    spec = importlib.util.spec_from_file_location("train_helpers", REPO / "tests/sharpeyes/test_train.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StandIn:
    """A model that returns the boxes the test gives it and records which frames it saw."""

    name = "stand-in"
    class_names = ("smoke", "fire")

    def __init__(self, boxes: list[tuple[float, float, float, float, float, int]]) -> None:
        self.boxes = boxes
        self.seen: list[int] = []

    def detect(self, frames: Sequence[Frame]) -> list[DetectionResult]:
        self.seen += [f.seq for f in frames]
        rows = np.asarray(self.boxes, np.float32).reshape(-1, 6)
        detections = Detections(
            rows[:, :4], rows[:, 4], rows[:, 5].astype(np.int64), class_names=self.class_names
        )
        return [DetectionResult(f, detections, self.name, 1.0) for f in frames]

    def close(self) -> None:
        pass


def fused_with(monkeypatch, stand_in: StandIn, **options) -> FireFusionDetector:
    monkeypatch.setattr(fire_fusion, "build_detector", lambda config: stand_in)
    config = FireFusionConfig(
        classical=ClassicalFireConfig(smoke=False),
        model={"kind": "onnx", "model": "unused.onnx"},
        **options,
    )
    return FireFusionDetector(config)


def room_frames(media, max_s: float = 3.0) -> list[Frame]:
    return list(media.video(ROOM, every_s=0.2, max_s=max_s))


def test_candidates_the_model_does_not_see_are_dropped(media, monkeypatch) -> None:
    frames = room_frames(media)
    alone = [r.detections for r in ClassicalFireDetector(ClassicalFireConfig(smoke=False)).detect(frames)]
    assert sum(len(d) for d in alone) >= 5, "the room fire must give the heuristic candidates"
    h, w = frames[0].image.shape[:2]
    # the model sees smoke over the whole frame and fire nowhere: every fire candidate goes
    stand_in = StandIn([(0, 0, w, h, 0.9, 0)])
    results = fused_with(monkeypatch, stand_in).detect(frames)
    assert all(len(r.detections) == 0 for r in results)
    assert sum(r.extras.fire_fusion.dropped for r in results) == sum(len(d) for d in alone)


def test_candidates_inside_a_model_fire_box_are_kept_with_their_scores(media, monkeypatch) -> None:
    frames = room_frames(media)
    alone = [r.detections for r in ClassicalFireDetector(ClassicalFireConfig(smoke=False)).detect(frames)]
    h, w = frames[0].image.shape[:2]
    results = fused_with(monkeypatch, StandIn([(0, 0, w, h, 0.9, 1)])).detect(frames)
    for before, result in zip(alone, results, strict=True):
        np.testing.assert_array_equal(result.detections.xyxy, before.xyxy)
        np.testing.assert_array_equal(result.detections.scores, before.scores)


def test_a_weak_model_box_does_not_confirm(media, monkeypatch) -> None:
    frames = room_frames(media)
    h, w = frames[0].image.shape[:2]
    results = fused_with(monkeypatch, StandIn([(0, 0, w, h, 0.2, 1)]), model_min_score=0.25).detect(frames)
    assert all(len(r.detections) == 0 for r in results)


def test_model_runs_only_on_frames_with_candidates(media, monkeypatch) -> None:
    stand_in = StandIn([])
    street = list(media.video(CROSSWALK, every_s=0.2, max_s=4.0))
    results = fused_with(monkeypatch, stand_in).detect(street)
    assert stand_in.seen == [] and not any(r.extras.fire_fusion.model_ran for r in results)


def test_overlap_is_containment_not_iou() -> None:
    flame = np.asarray([[10, 10, 20, 20]], np.float32)  # heuristic: a tongue of flame
    fire = np.asarray([[0, 0, 100, 100], [50, 50, 60, 60]], np.float32)  # model: the whole fire; elsewhere
    np.testing.assert_allclose(overlap_of_smaller(flame, fire), [[1.0, 0.0]])


def test_without_weights_it_is_the_classical_detector(media) -> None:
    frames = room_frames(media, 2.0)
    fused = build_detector(parse_detector_config({"kind": "fire_fusion", "classical": {"smoke": False}}))
    alone = ClassicalFireDetector(ClassicalFireConfig(smoke=False))
    for a, b in zip(fused.detect(frames), alone.detect(frames), strict=True):
        np.testing.assert_array_equal(a.detections.xyxy, b.detections.xyxy)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sharpeyes train` on 8 + 2 generated images, one epoch at 64 px, in a child with no network."""
    helpers = _train_helpers()
    base = tmp_path_factory.mktemp("fusion-train")
    data, out, net_log = helpers.make_dataset(base / "data"), base / "out", base / "net.log"
    env = {**os.environ, "NET_LOG": str(net_log), "PYTHONPATH": str(REPO)}
    env["YOLO_CONFIG_DIR"] = str(base / "ultralytics-config")
    args = [str(data), "--model", "yolov8n.yaml", "--epochs", "1", "--imgsz", "64", "--batch", "4"]
    args += ["--workers", "0", "--no-plots", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", helpers.GUARDED_MAIN, "train", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=base,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert not net_log.exists(), net_log.read_text()
    return out / "fire_smoke.onnx"


def _model_config(onnx: Path, conf: float) -> dict:
    return {"kind": "onnx", "model": str(onnx), "classes": {"smoke": "smoke", "fire": "fire"}, "conf": conf}


@pytest.mark.parametrize("conf", [1e-4, 1e-3])
def test_trained_model_confirms_exactly_the_candidates_it_overlaps(media, tiny_model: Path, conf) -> None:
    """End to end with the real export: each kept candidate overlaps a model fire box, each dropped one
    none, judged independently with the same model run on its own. The untrained model's few boxes span
    the frame: at 1e-4 some are fire (candidates kept), at 1e-3 only smoke is left (all dropped)."""
    frames = room_frames(media)
    options = {"classical": {"smoke": False}, "model_min_score": 0.0, "min_overlap": 0.2}
    fused = build_detector(
        parse_detector_config({"kind": "fire_fusion", "model": _model_config(tiny_model, conf), **options})
    )
    model = build_detector(parse_detector_config(_model_config(tiny_model, conf)))
    alone = ClassicalFireDetector(ClassicalFireConfig(smoke=False))
    checked = kept_total = 0
    for frame in frames:
        (fused_result,) = fused.detect([frame])
        (candidates,) = alone.detect([frame])
        (seen,) = model.detect([frame])
        fire_boxes = seen.detections.of_class("fire").xyxy
        for box in candidates.detections.xyxy:
            overlaps = len(fire_boxes) and (overlap_of_smaller(box[None], fire_boxes) >= 0.2).any()
            kept = any(np.array_equal(box, k) for k in fused_result.detections.xyxy)
            assert kept == bool(overlaps)
            checked += 1
            kept_total += kept
        assert fused_result.extras.fire_fusion.model_ran == bool(len(candidates.detections))
    assert checked >= 5
    assert (kept_total > 0) == (conf < 1e-3), (kept_total, checked)


def test_trained_model_that_sees_nothing_drops_every_candidate(media, tiny_model: Path) -> None:
    """A 1-epoch model at a 0.99 threshold finds no fire: the fused detector raises nothing on a real fire
    the heuristic alone reports on most frames: a candidate the model rejects is dropped."""
    frames = room_frames(media)
    fused = build_detector(
        parse_detector_config(
            {"kind": "fire_fusion", "classical": {"smoke": False}, "model": _model_config(tiny_model, 0.99)}
        )
    )
    start = time.perf_counter()
    results = fused.detect(frames)
    assert time.perf_counter() - start < 30
    assert all(len(r.detections) == 0 for r in results)
    assert sum(r.extras.fire_fusion.dropped for r in results) >= 5
