"""Closed-loop KPIs from the seeds: closure rate, closed-within-deadline rate, time to acknowledge."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from alarms.lifecycle import ACTIVE_STATES, State

_CLOSED = {State.CLOSED.value, State.EVALUATED.value}
_WITHDRAWN = {State.CANCELLED.value, State.MERGED.value}


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def summarise(rows: Iterable[Mapping[str, Any]], now: float) -> dict[str, Any]:
    """KPIs over incident rows (dicts with state, timestamps and deadlines)."""
    total = closed = within = open_ = overdue = withdrawn = 0
    tta: list[float] = []
    for r in rows:
        total += 1
        state = r["state"]
        if state in _WITHDRAWN:
            withdrawn += 1
        if state in _CLOSED:
            closed += 1
            if r["closed_at"] is not None and r["closed_at"] <= r["close_deadline"]:
                within += 1
        if state in {s.value for s in ACTIVE_STATES} or state == State.RESOLVED.value:
            open_ += 1
            if now > r["close_deadline"] or (r["acknowledged_at"] is None and now > r["ack_deadline"]):
                overdue += 1
        if r["acknowledged_at"] is not None:
            tta.append(r["acknowledged_at"] - r["created_at"])
    counted = total - withdrawn
    tta.sort()
    return {
        "total": total,
        "open": open_,
        "overdue": overdue,
        "closed": closed,
        "withdrawn": withdrawn,
        "closure_rate": closed / counted if counted else None,
        "closed_within_deadline_rate": within / closed if closed else None,
        "time_to_acknowledge_p50_s": _quantile(tta, 0.5),
        "time_to_acknowledge_p90_s": _quantile(tta, 0.9),
    }


def kpis(rows: list[Mapping[str, Any]], now: float) -> dict[str, Any]:
    """Overall, per street and per grid."""
    by_street: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    by_grid: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        by_street[r["street_id"]].append(r)
        by_grid[r["grid_id"]].append(r)
    return {
        "overall": summarise(rows, now),
        "streets": {k: summarise(v, now) for k, v in sorted(by_street.items())},
        "grids": {k: summarise(v, now) for k, v in sorted(by_grid.items())},
    }
