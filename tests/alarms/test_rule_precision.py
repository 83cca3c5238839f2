"""Per-rule precision from operators' verdicts: a false-alarm cancel counts against the rule, a dispatch or
a handled disposition for it, drills and duplicates count for nothing."""

from __future__ import annotations

import pytest

from alarms.kpis import kpis, rule_of, rule_precision, verdict


def row(state: str, disposition: str | None = None, rule: str | None = None, **kw: object) -> dict:
    return {
        "state": state,
        "disposition": disposition,
        "category": kw.get("category", "fire"),
        "source_kind": kw.get("source_kind", "camera"),
        "evidence": {"rule": rule} if rule else {},
        "created_at": 0.0,
        "acknowledged_at": None,
        "closed_at": None,
        "ack_deadline": 60.0,
        "close_deadline": 600.0,
        "street_id": "S-1",
        "grid_id": "G-001",
    }


@pytest.mark.parametrize(
    ("state", "disposition", "expected"),
    [
        ("cancelled", "false_alarm", False),
        ("cancelled", "test", None),
        ("cancelled", "duplicate", None),
        ("merged", None, None),
        ("reported", None, None),
        ("acknowledged", None, None),
        ("dispatched", None, True),
        ("closed", None, True),
        ("evaluated", None, True),
        ("cancelled", "handled", True),
    ],
)
def test_verdict(state: str, disposition: str | None, expected: bool | None) -> None:
    assert verdict(row(state, disposition)) is expected


def test_rule_names_come_from_evidence_or_source_and_category() -> None:
    assert rule_of(row("reported", rule="fire-cam")) == "fire-cam"
    assert rule_of(row("reported", category="sos", source_kind="button")) == "button:sos"


def test_precision_per_rule() -> None:
    rows = [
        row("closed", rule="fire-cam"),
        row("dispatched", rule="fire-cam"),
        row("cancelled", "false_alarm", rule="fire-cam"),
        row("reported", rule="fire-cam"),
        row("cancelled", "false_alarm", rule="smoke-cam"),
        row("cancelled", "test", rule="crowd-cam"),
    ]
    out = rule_precision(rows)
    assert out["fire-cam"] == {"confirmed": 2, "false_alarms": 1, "undecided": 1, "precision": 2 / 3}
    assert out["smoke-cam"]["precision"] == 0.0
    assert out["crowd-cam"]["precision"] is None
    assert kpis(rows, 0.0)["rules"] == out
