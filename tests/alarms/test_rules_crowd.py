"""Crowding rule: dwell, hysteresis, cooldown, density per m², driven by scripted counts at explicit times."""

from __future__ import annotations

from typing import Any

import pytest

from alarms.observations import Observation, ObservationLevel
from alarms.rules import CountMeasurement, CrowdConfig, CrowdRule

C, X = ObservationLevel.CONFIRMED, ObservationLevel.CLEARED
BASE: dict[str, Any] = dict(
    threshold=10, dwell_s=3, clear_dwell_s=3, cooldown_s=10
)  # clear_below defaults to 8


def run(
    script: list[tuple[float, float | None]], area_m2: float | None = None, **cfg: Any
) -> list[Observation]:
    rule = CrowdRule("CAM-01", "G-001", CrowdConfig(**{**BASE, **cfg}), zone_name="plaza", area_m2=area_m2)
    state, out = rule.initial(), []
    for t, count in script:
        m = None if count is None else CountMeasurement(count, "boxes", t - 0.1, area_m2, "plaza")
        state, obs = rule.step(state, m, t)
        out += obs
    return out


def brief(obs: list[Observation]) -> list[tuple[float, str]]:
    return [(o.ts, o.level.value) for o in obs]


def per_second(*counts: float, t0: float = 0.0) -> list[tuple[float, float | None]]:
    return [(t0 + i, c) for i, c in enumerate(counts)]


# A count that hovers at the threshold for a minute, then drops, then hovers again inside the cooldown.
FLAP = per_second(10, 11, 10, 12, *[9, 10, 11, 9, 8, 10, 12, 9] * 7, 7, 7, 7, 7, 9, 10, 11, 10, 9, 10)


@pytest.mark.parametrize(
    ("script", "cfg", "expected"),
    [
        (per_second(10, 12, 11, 9), {}, []),  # dwell not reached
        ([(0, 10), (2.9, 10)], {}, []),
        ([(0, 10), (3, 10)], {}, [(3, C)]),  # exactly the dwell
        (per_second(10, 9, 10, 9, 10, 9, 10, 9), {}, []),  # flapping before the dwell never arms it
        ([(0, 10), (5, None), (6, 10)], {}, [(6, C)]),  # no measurement: nothing changes
        ([(0, 15), (0.0, 15)], {"dwell_s": 0}, [(0, C)]),
        (per_second(10, 10, 10, 10, 9, 8, 9, 8, 9), {}, [(3, C)]),  # ≥ clear_below: still active
        (per_second(10, 10, 10, 10, 7, 7, 7, 7), {}, [(3, C), (7, X)]),
        (per_second(10, 10, 10, 10, 7, 7, 9, 7, 7, 7, 7), {}, [(3, C), (10, X)]),  # clear dwell restarts
        (per_second(10, 10, 10, 10, 7, 7, 7, 7), {"clear_below": 6}, [(3, C)]),
        (FLAP, {}, [(3, C), (63, X)]),  # hovering: exactly one confirmed and one cleared
        # Re-forms at once after the clear: the cooldown (10 s from t=7) holds it until t=17.
        (per_second(10, 10, 10, 10, 7, 7, 7, 7, *[12] * 12), {}, [(3, C), (7, X), (17, C)]),
        # Re-forms after the cooldown: a normal dwell.
        (per_second(10, 10, 10, 10, 7, 7, 7, 7, *[5] * 10, *[12] * 4), {}, [(3, C), (7, X), (21, C)]),
    ],
)
def test_crowd_script(
    script: list[tuple[float, float | None]], cfg: dict[str, Any], expected: list[tuple[float, str]]
) -> None:
    assert brief(run(script, **cfg)) == expected


def test_flapping_yields_one_confirmed_and_one_cleared_with_matching_ids() -> None:
    obs = run(FLAP)
    assert [o.level for o in obs] == [C, X]
    assert obs[0].event_id == "cam:CAM-01:crowd:crowd:confirmed:0"
    assert obs[1].event_id == "cam:CAM-01:crowd:crowd:cleared:0"  # same episode start
    assert obs[1].evidence["peak"] == 12
    assert obs[0].count == 12 and obs[0].evidence["zone"] == "plaza"


@pytest.mark.parametrize(
    ("count", "expected"),
    [(9, []), (10, [C]), (30, [C])],
)
def test_density_per_m2(count: float, expected: list[str]) -> None:
    """threshold 0.5 people/m² on a 20 m² zone: 10 people is exactly the threshold."""
    obs = run(per_second(count, count, count, count), area_m2=20.0, threshold=0.5, per_m2=True)
    assert [o.level for o in obs] == expected
    if obs:
        assert obs[0].evidence["value"] == pytest.approx(count / 20.0)
        assert obs[0].count == count


def test_per_m2_without_area_is_rejected() -> None:
    with pytest.raises(ValueError, match="area_m2"):
        CrowdRule("CAM-01", "G-001", CrowdConfig(threshold=1.0, per_m2=True))


def test_event_ids_are_deterministic_across_runs() -> None:
    script = per_second(10, 10, 10, 10, 7, 7, 7, 7, *[5] * 10, *[12] * 4)
    a, b = run(script), run(script)
    assert [o.event_id for o in a] == [o.event_id for o in b]
    assert len({o.event_id for o in a}) == 3


@pytest.mark.parametrize(
    "bad",
    [
        {"threshold": 0},
        {"threshold": 10, "clear_below": 11},
        {"threshold": 10, "dwell_s": -1},
    ],
)
def test_crowd_config_rejects(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CrowdConfig(**bad)


def test_min_density_per_m2_triggers_beside_the_count_and_clears_with_hysteresis() -> None:
    """threshold 10 people or 0.5 people/m² on a 6 m² zone (3 people): whichever comes first. The density
    trigger clears at the same fraction as the count (clear_below 8 of 10 → 0.4/m², i.e. 2.4 people)."""
    script = per_second(2, 3, 3, 3, 3, 3, 2.5, 2.5, 2.5, 2.5, 2, 2, 2, 2, 2)
    obs = run(script, area_m2=6.0, min_density_per_m2=0.5)
    assert brief(obs) == [(4.0, "confirmed"), (13.0, "cleared")]  # 2.5 people (0.42/m²) still holds
    ev = obs[0].evidence
    assert (ev["trigger"], ev["density_per_m2"], ev["min_density_per_m2"], ev["count"]) == (
        "density",
        0.5,
        0.5,
        3,
    )
    both = run(per_second(12, 12, 12, 12), area_m2=6.0, min_density_per_m2=0.5)
    assert both[0].evidence["trigger"] == "count+density"
    by_count = run(per_second(12, 12, 12, 12), area_m2=600.0, min_density_per_m2=0.5)
    assert by_count[0].evidence["trigger"] == "count" and by_count[0].evidence["density_per_m2"] == 0.02


def test_min_density_per_m2_needs_an_area() -> None:
    with pytest.raises(ValueError, match="min_density_per_m2 needs area_m2"):
        CrowdRule("CAM-01", "G-001", CrowdConfig(threshold=10, min_density_per_m2=0.5))
    with pytest.raises(ValueError, match="use one of"):
        CrowdConfig(threshold=1, per_m2=True, min_density_per_m2=0.5)
