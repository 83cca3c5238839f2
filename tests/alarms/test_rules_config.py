"""Rule config (YAML edge), the measurement helper and the per-camera runner wiring."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from alarms.observations import ObservationLevel
from alarms.rules import (
    CameraRules,
    CrowdRule,
    CrowdRuleConfig,
    FireRuleConfig,
    FlameRule,
    GatheringRule,
    SmokeRuleConfig,
    build_runner,
    check_unique_rule_ids,
    count_people,
    event_id,
    parse_rules,
)
from detectors.types import DetectionExtras, DetectionResult, Detections
from ingest.types import Frame

NAMES = ("person", "fire", "smoke")
IMAGE = np.zeros((100, 100, 3), np.uint8)

ISSUE_YAML = """
rules:
  - {kind: fire}
  - {kind: smoke}
  - {kind: crowd, threshold: 12, dwell_s: 3}
"""


def result(
    t: float,
    boxes: Sequence[tuple[str, float, float]] = (),
    cam: str = "CAM-01",
    **extra: Any,
) -> DetectionResult:
    """boxes: (class, score, x0) 20×20 boxes."""
    frame = Frame(cam, int(t), t, 0, IMAGE)
    if not boxes:
        return DetectionResult(frame, Detections.empty(NAMES), "test", 1.0, DetectionExtras(**extra))
    dets = Detections(
        xyxy=np.array([[x, 0, x + 20, 20] for _, _, x in boxes], np.float32),
        scores=np.array([s for _, s, _ in boxes], np.float32),
        class_ids=np.array([NAMES.index(c) for c, _, _ in boxes]),
        class_names=NAMES,
    )
    return DetectionResult(frame, dets, "test", 1.0, DetectionExtras(**extra))


class NoArea:
    def trigger(self, detections: Detections) -> np.ndarray:
        return np.ones(len(detections), dtype=bool)


class RightHalf:
    """Stands in for a detectors zone: `trigger` gives the mask, `area_m2` the real-world area."""

    area_m2 = 20.0

    def trigger(self, detections: Detections) -> np.ndarray:
        return detections.xyxy[:, 0] >= 50


def test_issue_yaml_validates_with_defaults() -> None:
    rules = parse_rules(yaml.safe_load(ISSUE_YAML)["rules"])
    fire, smoke, crowd = rules
    assert isinstance(fire, FireRuleConfig) and isinstance(smoke, SmokeRuleConfig)
    assert isinstance(crowd, CrowdRuleConfig)
    f, s, c = fire.to_core(), smoke.to_core(), crowd.to_core()
    assert (f.kind, f.emit_cleared, f.class_set) == ("fire", False, frozenset({"fire"}))
    assert (s.kind, s.emit_cleared, s.class_set) == ("smoke", True, frozenset({"smoke"}))
    assert (c.threshold, c.dwell_s) == (12, 3) and c.clear_level == pytest.approx(9.6)
    assert [r.rule_id for r in rules] == ["fire", "smoke", "crowd"]
    check_unique_rule_ids(rules)


@pytest.mark.parametrize(
    ("rule", "match"),
    [
        ({"kind": "flood"}, "does not match any of the expected tags"),
        ({"kind": "fire", "emit_cleared": True}, "Extra inputs are not permitted"),  # fire is latched
        ({"kind": "fire", "min_scor": 0.5}, "Extra inputs are not permitted"),
        ({"kind": "fire", "min_score": 1.5}, "less than or equal to 1"),
        ({"kind": "smoke", "confirm_k": 6, "confirm_n": 5}, "confirm_k"),
        ({"kind": "fire", "growth": 1.2, "confirm_k": 1}, "growth"),
        ({"kind": "crowd"}, "threshold"),
        ({"kind": "crowd", "threshold": 10, "clear_below": 11}, "clear_below"),
        ({"kind": "crowd", "threshold": 1, "per_m2": True}, "per_m2"),
        ({"kind": "crowd", "threshold": 9, "min_density_per_m2": 2}, "min_density_per_m2 needs a zone"),
        ({"kind": "crowd", "threshold": 9, "min_density_per_m2": 0, "area_m2": 5}, "greater than 0"),
        ({"kind": "crowd", "threshold": 1, "per_m2": True, "min_density_per_m2": 2, "area_m2": 5}, "one of"),
        ({"kind": "crowd", "threshold": 10, "source": "lidar"}, "source"),
        ({"kind": "gathering"}, "growth"),
        ({"kind": "gathering", "growth": 5, "within_s": 0}, "within_s"),
        ({"kind": "fire", "name": "a:b"}, "pattern"),
    ],
)
def test_bad_rule_configs_are_rejected(rule: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        parse_rules([rule])


@pytest.mark.parametrize(
    ("rules", "ok"),
    [
        (
            [{"kind": "crowd", "threshold": 5, "zone": "a"}, {"kind": "crowd", "threshold": 5, "zone": "b"}],
            True,
        ),
        ([{"kind": "crowd", "threshold": 5}, {"kind": "crowd", "threshold": 9}], False),
        ([{"kind": "fire"}, {"kind": "fire", "name": "fire-strict", "min_score": 0.7}], True),
    ],
)
def test_rule_ids_must_be_unique_per_camera(rules: list[dict[str, Any]], ok: bool) -> None:
    parsed = parse_rules(rules)
    if ok:
        check_unique_rule_ids(parsed)
    else:
        with pytest.raises(ValueError, match="duplicate rule id"):
            check_unique_rule_ids(parsed)


@pytest.mark.parametrize(
    ("kwargs", "res", "expected"),
    [
        ({}, result(0, [("person", 0.9, 0), ("person", 0.3, 60), ("fire", 0.9, 0)]), (2.0, "boxes")),
        ({"min_score": 0.5}, result(0, [("person", 0.9, 0), ("person", 0.3, 60)]), (1.0, "boxes")),
        (
            {"zone_mask": RightHalf().trigger},
            result(0, [("person", 0.9, 0), ("person", 0.9, 60)]),
            (1.0, "boxes"),
        ),
        ({}, result(0, count=37.4), (37.4, "density")),  # auto: the density backend's count
        ({"source": "boxes"}, result(0, [("person", 0.9, 0)], count=37.4), (1.0, "boxes")),
        ({"zone_name": "plaza"}, result(0, count=37.4, zone_counts={"plaza": 12.5}), (12.5, "density")),
        ({"zone_name": "gate"}, result(0, count=37.4, zone_counts={"plaza": 12.5}), None),  # no zone count
        ({"source": "density"}, result(0, [("person", 0.9, 0)]), None),  # not a density backend
    ],
)
def test_count_people(
    kwargs: dict[str, Any], res: DetectionResult, expected: tuple[float, str] | None
) -> None:
    m = count_people(res, **kwargs)
    if expected is None:
        assert m is None
    else:
        assert m is not None and m.method == expected[1]
        assert m.count == pytest.approx(expected[0])


def test_runner_per_camera_feeds_all_rules() -> None:
    rules = parse_rules(
        [
            {"kind": "fire", "confirm_k": 2, "confirm_n": 3},
            {
                "kind": "crowd",
                "threshold": 0.1,
                "per_m2": True,
                "zone": "right",
                "dwell_s": 1,
                "source": "boxes",
            },
            {"kind": "gathering", "growth": 2, "within_s": 5, "source": "boxes"},
        ]
    )
    cam = CameraRules("CAM-01", "G-001", rules, zones={"right": RightHalf()})
    assert [type(r.rule) for r in cam.runners] == [FlameRule, CrowdRule, GatheringRule]
    assert [r.rule_id for r in cam.runners] == ["fire", "crowd@right", "gathering"]
    people = [("person", 0.9, x) for x in (0, 50, 60, 70)]  # 3 of 4 in the right half: 3/20 m² ≥ 0.1
    out = cam.feed(result(0.0), 0.0)
    out += cam.feed(result(1.0, [("fire", 0.9, 0), *people]), 1.0)
    out += cam.feed(result(2.0, [("fire", 0.9, 0), *people]), 2.0)
    got = sorted((o.ts, o.kind, o.level.value) for o in out)
    assert got == [
        (1.0, "fire", "suspected"),
        (1.0, "gathering", "confirmed"),
        (2.0, "crowd", "confirmed"),
        (2.0, "fire", "confirmed"),
    ]
    crowd = next(o for o in out if o.kind == "crowd")
    assert crowd.evidence["area_m2"] == 20.0 and crowd.count == 3
    assert crowd.event_id == event_id("CAM-01", "crowd@right", "crowd", ObservationLevel.CONFIRMED, 1.0)


def test_runner_rejects_wrong_camera_and_unknown_zone() -> None:
    runner = build_runner("CAM-01", "G-001", FireRuleConfig())
    with pytest.raises(ValueError, match="CAM-02"):
        runner.feed(result(0, cam="CAM-02"), 0.0)
    with pytest.raises(ValueError, match="unknown zone"):
        build_runner("CAM-01", "G-001", CrowdRuleConfig(threshold=3, zone="nowhere"), zones={})
    with pytest.raises(ValueError, match="per_m2"):
        build_runner(
            "CAM-01", "G-001", CrowdRuleConfig(threshold=3, zone="z", per_m2=True), zones={"z": NoArea()}
        )


def test_runner_none_tick_lets_smoke_clear() -> None:
    runner = build_runner(
        "CAM-01", "G-001", SmokeRuleConfig(confirm_k=1, confirm_n=1, clear_after_s=5, cooldown_s=5)
    )
    assert [o.level for o in runner.feed(result(0, [("smoke", 0.9, 0)]), 0.0)] == [ObservationLevel.CONFIRMED]
    assert runner.feed(None, 4.0) == []
    assert [o.level for o in runner.feed(None, 5.0)] == [ObservationLevel.CLEARED]
