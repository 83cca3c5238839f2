"""Zones: bottom-centre anchoring, frame bounds, ignore masks and density per m²."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.types import Detections
from detectors.zones import IgnoreMask, PolygonZone

FRAME_WH = (640, 360)
SQUARE = [(100, 100), (300, 100), (300, 300), (100, 300)]


def boxes(*xyxy: tuple[float, float, float, float]) -> Detections:
    n = len(xyxy)
    return Detections(
        xyxy=np.array(xyxy, np.float32).reshape(n, 4),
        scores=np.ones(n, np.float32),
        class_ids=np.zeros(n, np.int64),
        class_names=("person",),
    )


@pytest.mark.parametrize(
    ("box", "inside"),
    [
        ((150, 150, 200, 250), True),  # feet at (175, 250): inside
        ((150, 20, 200, 120), True),  # head above the zone, feet inside
        ((150, 250, 200, 340), False),  # head inside, feet below the zone
        ((20, 150, 80, 250), False),  # left of the zone
        ((280, 200, 320, 299), True),  # feet near the corner, still inside
        ((600, 300, 700, 400), False),  # feet outside the frame
    ],
)
def test_trigger_uses_the_bottom_centre(box, inside) -> None:
    zone = PolygonZone(SQUARE, FRAME_WH)
    assert zone.trigger(boxes(box)).tolist() == [inside]


def test_trigger_is_vectorised_and_counts() -> None:
    zone = PolygonZone(SQUARE, FRAME_WH, name="plaza")
    detections = boxes((150, 150, 200, 250), (20, 150, 80, 250), (120, 100, 140, 200))
    assert zone.trigger(detections).tolist() == [True, False, True]
    assert zone.count(detections) == 2
    assert zone.trigger(Detections.empty()).shape == (0,)


@pytest.mark.parametrize(
    ("area_m2", "count", "expected"), [(None, 10, None), (40.0, 10, 0.25), (2.0, 0, 0.0)]
)
def test_density_per_m2(area_m2, count, expected) -> None:
    assert PolygonZone(SQUARE, FRAME_WH, area_m2=area_m2).density_per_m2(count) == expected


@pytest.mark.parametrize(
    ("polygon", "area_m2", "message"),
    [
        ([(0, 0), (10, 10)], None, "at least 3"),
        (SQUARE, 0.0, "area_m2 must be positive"),
        ([(700, 400), (800, 400), (800, 500)], None, "covers no pixel"),
    ],
)
def test_bad_zones_are_rejected(polygon, area_m2, message) -> None:
    with pytest.raises(ValueError, match=message):
        PolygonZone(polygon, FRAME_WH, area_m2=area_m2)


def test_ignore_mask_drops_detections_centred_in_it() -> None:
    lamp = IgnoreMask([[(500, 0), (640, 0), (640, 100), (500, 100)]], FRAME_WH)
    detections = boxes((520, 10, 560, 50), (100, 100, 200, 200), (480, 60, 540, 160))
    kept = lamp.apply(detections)
    assert lamp.keep(detections).tolist() == [False, True, True]
    assert len(kept) == 2 and kept.class_names == ("person",)
    assert IgnoreMask([], FRAME_WH).apply(detections) is detections
