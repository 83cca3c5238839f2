"""Crowd fusion on the real weights: boxes count a sparse scene, the density map a dense crowd."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pydantic import ValidationError

from alarms.rules.measure import count_people
from detectors.base import build_detector
from detectors.config import CrowdFusionConfig, parse_detector_config
from ingest.types import Frame


def fusion_config(media, dense_above: float = 200) -> dict:
    return {
        "kind": "crowd_fusion",
        "boxes": {
            "kind": "onnx",
            "model": str(media.path("weights/yolox_nano.onnx")),
            "input_size": [256, 416],
            "threads": 1,
            "classes": {"person": "person"},
        },
        "density": {"kind": "density", "model": str(media.path("weights/mcnn_shtechA_660.h5")), "threads": 1},
        "dense_above": dense_above,
    }


@pytest.fixture(scope="module")
def fused(media):
    detector = build_detector(parse_detector_config(fusion_config(media)))
    yield detector
    detector.close()


def frame(image: np.ndarray, seq: int = 0) -> Frame:
    return Frame("CAM-F", seq, time.time(), time.monotonic_ns(), image)


def test_sparse_scene_is_counted_by_boxes_and_dense_one_by_density(fused, media) -> None:
    bus, crowd = media.image("images/people/bus.jpg"), media.image("images/crowd/IMG_4.jpg")
    sparse, dense = fused.detect([frame(bus, 1), frame(crowd, 2)])
    assert sparse.extra["crowd_mode"] == "boxes" and "count" not in sparse.extra
    assert 3 <= count_people(sparse).count <= 5  # 4 people; MCNN-A alone says ~115
    assert count_people(sparse).method == "boxes" and 50 < sparse.extra["density_count"] < 200
    assert dense.extra["crowd_mode"] == "density"
    assert count_people(dense).method == "density" and 300 < count_people(dense).count < 450  # 413 true
    assert sparse.model == dense.model == "crowd_fusion"


def test_threshold_decides_the_mode(media) -> None:
    detector = build_detector(parse_detector_config(fusion_config(media, dense_above=50)))
    try:
        (result,) = detector.detect([frame(media.image("images/people/bus.jpg"))])
    finally:
        detector.close()
    assert result.extra["crowd_mode"] == "density" and count_people(result).method == "density"


def test_config_needs_a_box_backend_and_a_density_backend(media) -> None:
    config = fusion_config(media)
    assert isinstance(parse_detector_config(config), CrowdFusionConfig)
    with pytest.raises(ValidationError, match="boxes"):
        parse_detector_config({**config, "boxes": config["density"]})
    with pytest.raises(ValidationError, match="dense_above"):
        parse_detector_config({**config, "dense_above": 0})
