"""Closed-loop KPIs on hand-built incident rows, overall and per street and grid, and from the store."""

from __future__ import annotations

from typing import Any

import pytest

from alarms.kpis import kpis, summarise
from alarms.queries import Scope, kpi_rows

NOW = 10_000.0


def row(
    state: str,
    created: float = 0.0,
    ack: float | None = None,
    closed: float | None = None,
    ack_deadline: float = 60.0,
    close_deadline: float = 1800.0,
    street: str = "S-1",
    grid: str = "G-001",
) -> dict[str, Any]:
    return {
        "state": state,
        "created_at": created,
        "acknowledged_at": ack,
        "closed_at": closed,
        "ack_deadline": created + ack_deadline,
        "close_deadline": created + close_deadline,
        "street_id": street,
        "grid_id": grid,
        "category": "sos",
    }


def test_empty() -> None:
    assert summarise([], NOW) == {
        "total": 0,
        "open": 0,
        "overdue": 0,
        "closed": 0,
        "withdrawn": 0,
        "closure_rate": None,
        "closed_within_deadline_rate": None,
        "time_to_acknowledge_p50_s": None,
        "time_to_acknowledge_p90_s": None,
    }


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # 4 counted (cancelled and merged are withdrawn), 2 closed (one evaluated), 1 of them late
        (
            [
                row("closed", ack=10, closed=600),
                row("evaluated", ack=20, closed=2000),
                row("cancelled", closed=5),
                row("merged", closed=5),
                row("resolved", ack=30),
                row("reported"),
            ],
            {"total": 6, "closed": 2, "withdrawn": 2, "open": 2, "closure_rate": 0.5, "within": 0.5},
        ),
        ([row("closed", ack=1, closed=1800)], {"closure_rate": 1.0, "within": 1.0}),  # on the deadline
        ([row("closed", ack=1, closed=1800.5)], {"closure_rate": 1.0, "within": 0.0}),
        ([row("cancelled", closed=1)], {"closure_rate": None, "within": None, "withdrawn": 1}),
        ([row("reported"), row("acknowledged", ack=5)], {"closure_rate": 0.0, "within": None, "open": 2}),
    ],
)
def test_rates(rows: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    out = summarise(rows, NOW)
    within = expected.pop("within")
    assert out["closed_within_deadline_rate"] == within
    for key, value in expected.items():
        assert out[key] == value, key


@pytest.mark.parametrize(
    ("ttas", "p50", "p90"),
    [
        ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 55.0, 91.0),
        ([100, 90, 80, 70, 60, 50, 40, 30, 20, 10], 55.0, 91.0),  # order does not matter
        ([5], 5.0, 5.0),
        ([4, 8], 6.0, 7.6),
        ([1, 2, 3], 2.0, 2.8),
        ([7, 7, 7, 7], 7.0, 7.0),
    ],
)
def test_time_to_acknowledge_quantiles(ttas: list[float], p50: float, p90: float) -> None:
    rows = [row("acknowledged", created=1000.0 * i, ack=1000.0 * i + t) for i, t in enumerate(ttas)]
    rows.append(row("reported", created=5))  # not acknowledged: not in the sample
    out = summarise(rows, NOW)
    assert out["time_to_acknowledge_p50_s"] == pytest.approx(p50)
    assert out["time_to_acknowledge_p90_s"] == pytest.approx(p90)


@pytest.mark.parametrize(
    ("r", "overdue"),
    [
        (row("reported", created=NOW - 59), 0),
        (row("reported", created=NOW - 61), 1),  # acknowledge deadline passed
        (row("acknowledged", created=NOW - 61, ack=NOW - 60), 0),
        (row("dispatched", created=NOW - 1801, ack=NOW - 1700), 1),  # close deadline passed
        (row("resolved", created=NOW - 1801, ack=NOW - 1700), 1),
        (row("closed", created=NOW - 5000, ack=NOW - 4990, closed=NOW - 10), 0),
    ],
)
def test_overdue(r: dict[str, Any], overdue: int) -> None:
    assert summarise([r], NOW)["overdue"] == overdue


def test_per_street_and_grid() -> None:
    rows = [
        row("closed", ack=10, closed=100, street="S-1", grid="G-001"),
        row("reported", street="S-1", grid="G-002"),
        row("closed", ack=30, closed=5000, street="S-2", grid="G-003"),
        row("closed", ack=50, closed=200, street="S-2", grid="G-003"),
    ]
    out = kpis(rows, NOW)
    assert out["overall"]["total"] == 4 and out["overall"]["closure_rate"] == 0.75
    assert list(out["streets"]) == ["S-1", "S-2"] and list(out["grids"]) == ["G-001", "G-002", "G-003"]
    assert out["streets"]["S-1"]["closure_rate"] == 0.5
    assert out["streets"]["S-2"]["closed_within_deadline_rate"] == 0.5
    assert out["streets"]["S-2"]["time_to_acknowledge_p50_s"] == 40.0
    assert out["grids"]["G-001"]["closure_rate"] == 1.0
    assert out["grids"]["G-002"]["closure_rate"] == 0.0 and out["grids"]["G-002"]["overdue"] == 1
    assert out["grids"]["G-003"]["total"] == 2


def test_kpis_from_store(rig) -> None:  # type: ignore[no-untyped-def]
    t0 = rig.clock.now
    [a] = rig.press("B-001", seq=1)
    [b] = rig.press("B-003", seq=1)
    rig.clock.now = t0 + 20
    rig.engine.act(a.incident.id, "acknowledge", "op")
    rig.clock.now = t0 + 40
    rig.engine.act(b.incident.id, "acknowledge", "op")
    for action, kw in (
        ("dispatch", {"note": "go", "assignee": "u"}),
        ("resolve", {"note": "ok"}),
        ("close", {}),
    ):
        rig.engine.act(a.incident.id, action, "op", **kw)
    with rig.store.read() as conn:
        everything = kpi_rows(conn, Scope(), None, None)
        s2_only = kpi_rows(conn, Scope(streets=frozenset({"S-2"})), None, None)
        later = kpi_rows(conn, Scope(), t0 + 1, None)
    out = kpis(everything, t0 + 100)
    assert out["overall"]["closure_rate"] == 0.5
    assert out["overall"]["closed_within_deadline_rate"] == 1.0
    assert out["overall"]["time_to_acknowledge_p50_s"] == pytest.approx(30.0)
    assert out["streets"]["S-1"]["time_to_acknowledge_p50_s"] == pytest.approx(20.0)
    assert out["streets"]["S-2"]["time_to_acknowledge_p50_s"] == pytest.approx(40.0)
    assert [r["street_id"] for r in s2_only] == ["S-2"]
    assert later == []
