"""Crowd fusion on the real weights: boxes count a sparse scene, the density map a dense crowd, chosen per
zone with hysteresis so a zone near the switch point keeps one backend."""

from __future__ import annotations

import time
from dataclasses import replace

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from alarms.rules.measure import count_people
from detectors.base import build_detector
from detectors.config import CrowdFusionConfig, parse_detector_config
from detectors.crowd_fusion import FRAME_KEY, CrowdModes, FusionSwitch
from detectors.zones import PolygonZone
from ingest.types import Frame


def fusion_config(media, dense_per_mpx: float = 250) -> dict:
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
        "dense_per_mpx": dense_per_mpx,
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
    assert sparse.extras.crowd_mode == "boxes" and sparse.extras.count is None  # 132 people/Mpx
    assert 3 <= count_people(sparse).count <= 5  # 4 people; MCNN-A alone says ~115
    assert count_people(sparse).method == "boxes" and 50 < sparse.extras.density_count < 200
    assert dense.extras.crowd_mode == "density"
    assert count_people(dense).method == "density" and 300 < count_people(dense).count < 450  # 413 true
    assert sparse.model == dense.model == "crowd_fusion"


def test_threshold_decides_the_mode(media) -> None:
    detector = build_detector(parse_detector_config(fusion_config(media, dense_per_mpx=50)))
    try:
        (result,) = detector.detect([frame(media.image("images/people/bus.jpg"))])
    finally:
        detector.close()
    assert result.extras.crowd_mode == "density" and count_people(result).method == "density"


def test_config_needs_a_box_backend_and_a_density_backend(media) -> None:
    config = fusion_config(media)
    assert isinstance(parse_detector_config(config), CrowdFusionConfig)
    with pytest.raises(ValidationError, match="boxes"):
        parse_detector_config({**config, "boxes": config["density"]})
    with pytest.raises(ValidationError, match="dense_per_mpx"):
        parse_detector_config({**config, "dense_per_mpx": 0})
    with pytest.raises(ValidationError, match="must not exceed dense_per_mpx"):
        parse_detector_config({**config, "sparse_per_mpx": 300})
    with pytest.raises(ValidationError, match=r"dense_above .* was replaced by dense_per_mpx"):
        parse_detector_config(
            {**{k: v for k, v in config.items() if k != "dense_per_mpx"}, "dense_above": 200}
        )


def test_each_zone_gets_its_own_backend(fused, media) -> None:
    """A dense crowd (IMG_4, 413 heads) beside a bus stop (bus.jpg, 4 people) in one frame: the frame as
    a whole is dense, yet the stop is still counted by boxes while the crowd's zone is counted by density."""
    crowd, bus = media.image("images/crowd/IMG_4.jpg"), media.image("images/people/bus.jpg")
    height = crowd.shape[0]
    bus = cv2.resize(bus, (round(bus.shape[1] * height / bus.shape[0]), height))
    image = np.hstack([crowd, bus])
    width, split = image.shape[1], crowd.shape[1]
    zones = {
        "plaza": PolygonZone(
            [[0, 0], [split, 0], [split, height], [0, height]], (width, height), name="plaza"
        ),
        "stop": PolygonZone([[split, 0], [width, 0], [width, height], [split, height]], (width, height)),
    }
    (result,) = fused.detect([frame(image)])
    assert result.extras.crowd_mode == "density"  # what a per-frame choice would use everywhere
    counts = {name: z.count_in_density(result.extras.density) for name, z in zones.items()}
    result = replace(result, extras=replace(result.extras, zone_counts=counts))
    modes, per_mpx = CrowdModes().update(result, zones)  # type: ignore[misc]
    assert modes == {FRAME_KEY: "density", "plaza": "density", "stop": "boxes"}
    assert per_mpx["plaza"] > 400 and per_mpx["stop"] < 150
    result = replace(result, extras=replace(result.extras, crowd_modes=modes))
    plaza = count_people(result, zone_name="plaza", zone_mask=zones["plaza"].trigger)
    stop = count_people(result, zone_name="stop", zone_mask=zones["stop"].trigger)
    assert plaza is not None and plaza.method == "density" and 300 < plaza.count < 450
    assert stop is not None and stop.method == "boxes" and 3 <= stop.count <= 5
    assert counts["stop"] > 2 * stop.count  # density alone would have overcounted the stop


SWITCH = FusionSwitch(dense_per_mpx=250, sparse_per_mpx=150)


def modes(switch: FusionSwitch, values: list[float], dt: float = 0.2) -> str:
    state, out = None, ""
    for i, value in enumerate(values):
        state = switch.step(state, value, i * dt)
        out += "D" if state.mode == "density" else "b"
    return out


# A zone whose density estimate wanders around the upper threshold, as MCNN's does frame to frame.
HOVER = [240, 260, 230, 255, 245, 270, 200, 260, 180, 240, 140, 120]


def test_two_thresholds_stop_a_zone_flapping_between_backends() -> None:
    without = FusionSwitch(dense_per_mpx=250, sparse_per_mpx=250)
    assert modes(without, HOVER) == "bDbDbDbDbbbb"  # 8 switches: the count would jump 7 times
    assert modes(SWITCH, HOVER) == "bDDDDDDDDDbb"  # enters dense once, leaves below 150 once


def test_hold_time_keeps_a_backend_for_a_while() -> None:
    held = FusionSwitch(dense_per_mpx=250, sparse_per_mpx=250, hold_s=1.0)  # 5 frames at 0.2 s
    assert modes(held, HOVER) == "bbbbbDDDDDbb"
    assert modes(held, [300, 100, 100, 100, 100, 100, 100]) == "DDDDDbb"
    assert SWITCH.first(250) == "density" and SWITCH.first(249.9) == "boxes"


def test_bad_switch_levels_are_rejected() -> None:
    with pytest.raises(ValueError, match="sparse_per_mpx"):
        FusionSwitch(dense_per_mpx=100, sparse_per_mpx=150)
    with pytest.raises(ValueError, match="hold_s"):
        FusionSwitch(dense_per_mpx=100, sparse_per_mpx=50, hold_s=-1)
