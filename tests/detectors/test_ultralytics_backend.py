"""Ultralytics adapter: duck-typed result conversion, and the real backend on the int8 YOLOv8n export.

ultralytics is part of the test install: if it is missing the real-model test fails, it does not skip.
"""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from detectors.base import build_detector
from detectors.classes import ClassMapper
from detectors.config import parse_detector_config
from detectors.ultralytics_backend import UltralyticsDetector, from_ultralytics


class FakeTensor:
    """Quacks like a torch tensor on a GPU: must go through .cpu() before .numpy()."""

    def __init__(self, values: list) -> None:
        self.values = np.asarray(values, dtype=np.float32)
        self.on_cpu = False

    def cpu(self) -> FakeTensor:
        self.on_cpu = True
        return self

    def numpy(self) -> np.ndarray:
        assert self.on_cpu, "numpy() before cpu()"
        return self.values


class FakeBoxes:
    """Quacks like ultralytics `Boxes`: xyxy, conf, cls tensors and a length."""

    def __init__(self, xyxy: list, conf: list, cls: list) -> None:
        self.xyxy, self.conf, self.cls = FakeTensor(xyxy), FakeTensor(conf), FakeTensor(cls)

    def __len__(self) -> int:
        return len(self.conf.values)


def fake_result(xyxy: list, conf: list, cls: list, names: dict[int, str]) -> SimpleNamespace:
    return SimpleNamespace(boxes=FakeBoxes(xyxy, conf, cls), names=names)


NAMES = {0: "smoke", 1: "fire"}


@pytest.mark.parametrize(
    ("mapping", "expected_names", "expected"),
    [
        (None, ("smoke", "fire"), ["fire", "smoke", "fire"]),
        ({"fire": "fire"}, ("fire",), ["fire", "fire"]),
        ({"fire": "flame", "smoke": "flame"}, ("flame",), ["flame", "flame", "flame"]),
    ],
)
def test_from_ultralytics_reads_boxes_by_duck_typing(mapping, expected_names, expected) -> None:
    result = fake_result([[0, 0, 10, 10], [5, 5, 20, 20], [1, 2, 3, 4]], [0.9, 0.5, 0.3], [1, 0, 1], NAMES)
    mapper = ClassMapper(("smoke", "fire"), mapping) if mapping is not None else None
    detections = from_ultralytics(result, mapper)
    assert detections.class_names == expected_names
    assert [detections.name_of(int(c)) for c in detections.class_ids] == expected
    assert detections.xyxy.dtype == np.float32 and detections.xyxy.shape == (len(expected), 4)


def test_from_ultralytics_handles_no_boxes() -> None:
    empty = fake_result(np.zeros((0, 4)).tolist(), [], [], NAMES)
    detections = from_ultralytics(empty)
    assert len(detections) == 0 and detections.class_names == ("smoke", "fire")


def test_class_mapping_must_name_model_classes() -> None:
    with pytest.raises(ValueError, match=r"\['flame'\] are not among the model's classes"):
        ClassMapper(("smoke", "fire"), {"flame": "fire"})


@pytest.fixture(scope="module")
def ultralytics_detector(media) -> UltralyticsDetector:
    config = parse_detector_config(
        {
            "kind": "ultralytics",
            "model": str(media.path("weights/yolov8n_int8.onnx")),
            "classes": {"person": "person", "bus": "vehicle", "car": "vehicle"},
        }
    )
    detector = build_detector(config)
    assert isinstance(detector, UltralyticsDetector)
    return detector


@pytest.mark.parametrize(
    ("image", "expected"),
    [("images/people/bus.jpg", {"person": 4, "vehicle": 1}), ("images/people/zidane.jpg", {"person": 2})],
)
def test_real_ultralytics_model_finds_people(media, ultralytics_detector, image, expected) -> None:
    (result,) = ultralytics_detector.detect([media.frame(image)])
    assert ultralytics_detector.class_names == ("person", "vehicle")
    assert Counter(result.detections.name_of(int(c)) for c in result.detections.class_ids) == expected


def test_ultralytics_and_our_onnx_backend_agree(media, ultralytics_detector) -> None:
    """Same weights, two pipelines: every person box from ultralytics has a twin from ours.

    Not identical: the export quantises its DFL conv, which we decode in fp32.
    """
    ours = build_detector(
        parse_detector_config(
            {
                "kind": "onnx",
                "model": str(media.path("weights/yolov8n_int8.onnx")),
                "classes": {"person": "person"},
            }
        )
    )
    frames = [media.frame("images/people/bus.jpg", "a"), media.frame("images/people/zidane.jpg", "b")]
    for theirs, mine in zip(ultralytics_detector.detect(frames), ours.detect(frames), strict=True):
        a = theirs.detections.of_class("person").xyxy
        b = mine.detections.xyxy
        assert len(a) == len(b)
        for box in a:
            width = (np.minimum(b[:, 2], box[2]) - np.maximum(b[:, 0], box[0])).clip(0)
            height = (np.minimum(b[:, 3], box[3]) - np.maximum(b[:, 1], box[1])).clip(0)
            inter = width * height
            union = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) + (box[2] - box[0]) * (box[3] - box[1]) - inter
            assert (inter / union).max() > 0.95, f"no twin for {box}"
