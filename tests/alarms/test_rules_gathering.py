"""Sudden gathering: growth within a window fires once, then a cooldown; too slow a rise never fires."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from alarms.observations import Observation
from alarms.rules import CountMeasurement, GatheringConfig, GatheringRule

BASE: dict[str, Any] = dict(growth=5, within_s=10, cooldown_s=30)


def run(script: Sequence[tuple[float, float | None]], **cfg: Any) -> list[Observation]:
    rule = GatheringRule("CAM-01", "G-001", GatheringConfig(**{**BASE, **cfg}))
    state, out = rule.initial(), []
    for t, count in script:
        m = None if count is None else CountMeasurement(count, "boxes", t)
        state, obs = rule.step(state, m, t)
        out += obs
    return out


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ([(0, 2), (5, 4), (9, 7)], [9]),
        ([(0, 2), (6, 4), (12, 7)], []),  # +5 took 12 s: too slow
        ([(0, 2), (10, 7)], [10]),  # exactly within_s
        ([(0, 2), (10.5, 7)], []),
        ([(0, 2), (5, 6)], []),  # +4 only
        ([(0, 10), (1, 2), (2, 10)], [2]),  # a dip, then +8 in 1 s: sudden gathering
        ([(0, 10), (1, 2)], []),  # a fall never fires
        ([(0, 0), (1, 5), (2, 6), (3, 8), (40, 8), (41, 9)], [1]),  # one per gathering
        ([(0, 0), (1, 5), (2, 0), (3, 6), (35, 0), (36, 6)], [1, 36]),  # cooldown, then re-armed
        ([(0, 0), (1, 5), (2, 5), (3, 10)], [1]),  # a further rise inside the cooldown is held
        ([(0, 0), (5, None), (9, 5)], [9]),
    ],
)
def test_gathering_script(script: Sequence[tuple[float, float | None]], expected: list[float]) -> None:
    assert [o.ts for o in run(script)] == expected


def test_gathering_observation_and_deterministic_id() -> None:
    script = [(100.0, 2.0), (104.0, 3.0), (108.0, 9.0)]
    a, b = run(script), run(script)
    assert (
        [o.event_id for o in a]
        == [o.event_id for o in b]
        == ["cam:CAM-01:gathering:gathering:confirmed:100000"]
    )
    ev = a[0].evidence
    assert (ev["from_count"], ev["growth"], ev["within_s"]) == (2.0, 7.0, 8.0)
    assert a[0].kind == "gathering" and a[0].count == 9.0


@pytest.mark.parametrize(
    "bad", [{"growth": 0}, {"growth": 5, "within_s": 0}, {"growth": 5, "cooldown_s": -1}]
)
def test_gathering_config_rejects(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        GatheringConfig(**bad)


def test_a_change_of_counting_method_is_not_a_gathering() -> None:
    """Crowd fusion moving a zone from boxes (8) to density (30) is a jump of 22 with no one arriving:
    the baseline restarts at the switch, and only a real rise on the new method fires."""
    rule = GatheringRule("CAM-01", "G-001", GatheringConfig(**BASE))
    state, out = rule.initial(), []
    for t, count, method in [(0, 8, "boxes"), (1, 8, "boxes"), (2, 30, "density"), (3, 31, "density"),
                             (4, 37, "density")]:  # fmt: skip
        state, obs = rule.step(state, CountMeasurement(count, method, t), t)  # type: ignore[arg-type]
        out += obs
    assert [(o.ts, o.evidence["from_count"], o.evidence["method"]) for o in out] == [(4, 30, "density")]
