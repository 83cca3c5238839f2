"""The production count path (`RuleGroup`) with a crowd-fusion detector: each zone is counted by the
backend its own density calls for, the choice has hysteresis across frames, and crowd rules can trigger on
people per m² of a zone's real area, which shows in the observation's evidence."""

from __future__ import annotations

import numpy as np
import pytest

from alarms.grids import Placement
from detectors.crowd_fusion import FusionSwitch
from detectors.types import DetectionExtras, DetectionResult, Detections
from ingest.types import Frame
from sharpeyes.settings import ConfigError, parse_settings
from video.config import CameraConfig
from video.rule_group import RuleGroup

W, H = 400, 100  # left half: zone "plaza", right half: zone "stop", ~20,000 px = 0.02 Mpx each
SWITCH = FusionSwitch(dense_per_mpx=250, sparse_per_mpx=150, hold_s=0)
ZONES = [
    {"name": "plaza", "polygon": [[0, 0], [200, 0], [200, 100], [0, 100]], "area_m2": 40},
    {"name": "stop", "polygon": [[200, 0], [400, 0], [400, 100], [200, 100]], "area_m2": 10},
]


def fused_result(seq: int, plaza_people: float, stop_people: float, boxes_left: int, boxes_right: int):
    """What the crowd_fusion detector hands over: person boxes and a density map (1/4 resolution)."""
    density = np.zeros((H // 4, W // 4), dtype=np.float32)
    density[:, : W // 8] = plaza_people / density[:, : W // 8].size
    density[:, W // 8 :] = stop_people / density[:, W // 8 :].size
    feet = [(20 + 15 * i, 90) for i in range(boxes_left)] + [(220 + 15 * i, 90) for i in range(boxes_right)]
    xyxy = np.array([[x - 5, y - 30, x + 5, y] for x, y in feet], dtype=np.float32).reshape(-1, 4)
    dets = Detections(xyxy, np.full(len(feet), 0.9, np.float32), np.zeros(len(feet), np.int64), ("person",))
    total = plaza_people + stop_people
    extras = DetectionExtras(density=density, density_count=total, fusion=SWITCH, crowd_mode="boxes")
    frame = Frame("CAM-Z", seq, 1000.0 + seq, seq, np.zeros((H, W, 3), np.uint8))
    return DetectionResult(frame, dets, "crowd_fusion", 1.0, extras)


def group(rules: list[dict]) -> RuleGroup:
    cam = CameraConfig.model_validate(
        {"id": "CAM-Z", "url": "/a.mp4", "grid": "G-1", "zones": ZONES, "rules": rules}
    )
    return RuleGroup(cam, Placement("G-1", "C-1", "S-1"), "fused", list(cam.rules))


def test_zones_are_counted_by_their_own_backend_with_hysteresis() -> None:
    rules = [
        {"kind": "crowd", "zone": "plaza", "threshold": 50, "dwell_s": 0, "name": "plaza"},
        {"kind": "crowd", "zone": "stop", "threshold": 50, "dwell_s": 0, "name": "stop"},
    ]
    g = group(rules)
    # plaza: 8 people per 0.02 Mpx = 400/Mpx (dense); stop: 1 = 50/Mpx (sparse); boxes find 3 and 2.
    seen, _ = g.feed(fused_result(1, 8.0, 1.0, 3, 2))
    assert seen.extras.crowd_modes == {"": "boxes", "plaza": "density", "stop": "boxes"}
    assert seen.extras.crowd_per_mpx == pytest.approx({"": 225.0, "plaza": 400.0, "stop": 50.0}, rel=0.02)
    plaza, stop = (r.rule.measure(seen) for r in g.rules.runners)  # type: ignore[union-attr]
    assert (plaza.method, plaza.count) == ("density", pytest.approx(8.0, rel=0.01))
    assert (stop.method, stop.count) == ("boxes", 2.0)
    # The plaza thins to 4 (200/Mpx): between the thresholds it stays on density; below 150/Mpx it leaves.
    seen, _ = g.feed(fused_result(2, 4.0, 1.0, 3, 2))
    assert seen.extras.crowd_modes["plaza"] == "density"
    seen, _ = g.feed(fused_result(3, 2.0, 1.0, 3, 2))
    assert seen.extras.crowd_modes["plaza"] == "boxes"
    assert g.rules.runners[0].rule.measure(seen).count == 3.0  # type: ignore[union-attr]


def test_density_per_m2_triggers_a_crowd_and_shows_in_the_evidence() -> None:
    # stop: 10 m²; 25 people/Mpx → 0.5 people there by density, so boxes count; 6 boxes = 0.6 people/m².
    rules = [
        {"kind": "crowd", "zone": "stop", "threshold": 20, "min_density_per_m2": 0.5, "dwell_s": 0},
        {"kind": "crowd", "zone": "plaza", "threshold": 20, "min_density_per_m2": 0.5, "dwell_s": 0},
    ]
    _, obs = group(rules).feed(fused_result(1, 4.0, 0.5, 2, 6))
    [o] = obs  # the plaza (sparse at 200/Mpx: 2 boxes on 40 m², 0.05/m²) stays quiet
    assert o.rule == "crowd@stop" and o.count == 6
    ev = o.evidence
    assert ev["trigger"] == "density" and ev["method"] == "boxes"
    assert (ev["area_m2"], ev["density_per_m2"], ev["min_density_per_m2"]) == (10, 0.6, 0.5)


def test_a_density_option_without_a_zone_area_is_a_located_config_error() -> None:
    text = """\
grids: [{id: G-1, community: C-1, street: S-1}]
cameras:
  - id: CAM-Z
    url: /a.mp4
    grid: G-1
    zones: [{name: plaza, polygon: [[0, 0], [10, 0], [10, 10]]}]
    rules:
      - {kind: crowd, zone: plaza, threshold: 12}
      - {kind: crowd, zone: plaza, threshold: 12, min_density_per_m2: 2, name: dense}
"""
    with pytest.raises(ConfigError) as info:
        parse_settings(text, "site.yaml", {})
    assert str(info.value).splitlines() == [
        "site.yaml:9 cameras[0].rules[1].min_density_per_m2: min_density_per_m2 needs the zone's area: "
        "zone 'plaza' has no area_m2 (set it on the zone, or area_m2 on the rule)"
    ]
    fixed = text.replace("min_density_per_m2: 2,", "min_density_per_m2: 2, area_m2: 30,")
    assert parse_settings(fixed, "site.yaml", {}).cameras[0].rules[1].area_m2 == 30
