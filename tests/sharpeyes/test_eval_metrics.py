"""Scoring rules of `sharpeyes eval`, table-driven: what counts as detected, a false alarm, negative time."""

from __future__ import annotations

import pytest

from alarms.observations import ObservationLevel
from sharpeyes.evaluation.evaluate import check_limits
from sharpeyes.evaluation.metrics import Alert, ClipOutcome, Window, count_errors, score_events

S, C = ObservationLevel.SUSPECTED, ObservationLevel.CONFIRMED


def clip(events=(), alerts=(), dont_care=(), end=60.0, watched=("fire", "smoke")) -> ClipOutcome:
    return ClipOutcome("c", 0.0, end, frozenset(watched), tuple(events), tuple(dont_care), tuple(alerts))


@pytest.mark.parametrize(
    ("alert_t", "detected", "false_alarms", "ttfa"),
    [
        (12.0, 1, 0, 2.0),  # inside the event
        (9.5, 1, 0, 0.0),  # within early_s before the start: detected, no negative delay
        (8.0, 0, 1, None),  # too early: a false alarm, and the event is missed
        (24.0, 1, 0, 14.0),  # after the end but within late_s
        (26.0, 0, 1, None),  # too late
    ],
)
def test_alert_matching_window(alert_t, detected, false_alarms, ttfa) -> None:
    out = clip([Window("fire", 10, 20)], [Alert("fire", "fire", alert_t, S)])
    s = score_events([out], ["fire"], early_s=1.0, late_s=5.0)["fire"].as_dict()
    assert (s["detected"], s["false_alarms"], s["ttfa_median_s"]) == (detected, false_alarms, ttfa)


def test_negative_time_false_alarm_rate_and_precision() -> None:
    events = [Window("fire", 10, 20)]
    alerts = [
        Alert("fire", "fire", 11, S, 12.5),
        Alert("fire", "fire", 40, S),
        Alert("smoke", "smoke", 50, S),
    ]
    s = score_events([clip(events, alerts, end=3600)], ["fire"], early_s=1.0, late_s=5.0)["fire"].as_dict()
    # negative: 3600 s minus the window [9, 25] = 3584 s; one false alarm in it
    assert s["negative_s"] == 3584.0
    assert s["false_alarms_per_h"] == pytest.approx(3600 / 3584, abs=0.01)
    assert s["precision"] == 0.5 and s["recall"] == 1.0
    assert s["ttfc_median_s"] == 2.5
    assert s["false_alarm_at"] == ["c@40.0s"]


def test_dont_care_neither_credits_nor_penalises() -> None:
    out = clip([], [Alert("smoke", "smoke", 5, S)], dont_care=[Window("smoke", 0, 60)])
    s = score_events([out], ["smoke"], 1.0, 5.0)["smoke"].as_dict()
    assert (s["alerts"], s["false_alarms"], s["negative_s"], s["precision"]) == (0, 0, 0.0, None)


def test_kind_not_watched_by_the_camera_is_not_scored() -> None:
    out = clip([Window("crowd", 0, 10)], [], watched=("fire",))
    s = score_events([out], ["crowd"], 1.0, 5.0)["crowd"].as_dict()
    assert s["events"] == 0 and s["recall"] is None and s["false_alarms_per_h"] is None


def test_missed_event_is_named() -> None:
    s = score_events([clip([Window("fire", 10, 20)])], ["fire"], 1.0, 5.0)["fire"].as_dict()
    assert s["recall"] == 0.0 and s["missed"] == ["c@10s"]


def test_count_errors() -> None:
    m = count_errors([(10, 12), (4, 2), (0, 1)])
    assert m["mae"] == pytest.approx(5 / 3, abs=0.01)
    assert m["rmse"] == pytest.approx(((4 + 4 + 1) / 3) ** 0.5, abs=0.01)
    assert m["mre"] == pytest.approx((0.2 + 0.5) / 2)  # the zero-count image is left out of the ratio
    assert count_errors([])["mae"] is None


@pytest.mark.parametrize(
    ("value", "floors", "ceilings", "ok"),
    [
        (0.9, {"events.fire.recall": 0.8}, {}, True),
        (0.7, {"events.fire.recall": 0.8}, {}, False),
        (None, {"events.fire.recall": 0.0}, {}, False),  # a missing metric never passes
        (0.7, {}, {"events.fire.recall": 0.8}, True),
    ],
)
def test_limits(value, floors, ceilings, ok) -> None:
    checks = check_limits({"events": {"fire": {"recall": value}}}, floors, ceilings)
    assert [c["ok"] for c in checks] == [ok]
