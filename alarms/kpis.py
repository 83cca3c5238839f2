"""Closed-loop KPIs from the seeds: closure rate, closed-within-deadline rate, time to acknowledge."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from alarms.lifecycle import ACTIVE_STATES, State

_CLOSED = {State.CLOSED.value, State.EVALUATED.value}
_WITHDRAWN = {State.CANCELLED.value, State.MERGED.value}
# Built once, not per row: a month is 40,000 rows.
_OPEN = frozenset({s.value for s in ACTIVE_STATES} | {State.RESOLVED.value})


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
        if state in _OPEN:
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


_CONFIRMED = {
    State.DISPATCHED.value,
    State.IN_PROGRESS.value,
    State.RESOLVED.value,
    State.CLOSED.value,
    State.EVALUATED.value,
}
_NO_VERDICT = {"test", "duplicate"}


def rule_of(r: Mapping[str, Any]) -> str:
    """The rule that raised an incident: camera rules name themselves in the evidence; buttons and
    devices are `source_kind:category`."""
    evidence = r.get("evidence") or {}
    rule = evidence.get("rule") if isinstance(evidence, Mapping) else None
    return str(rule) if rule else f"{r.get('source_kind') or 'unknown'}:{r['category']}"


def verdict(r: Mapping[str, Any]) -> bool | None:
    """Operators' verdict on an alarm: False for a false alarm, True once it was real enough to dispatch
    or was handled, None while undecided (and for drills, tests and duplicates, which prove nothing)."""
    disposition = r.get("disposition")
    if disposition == "false_alarm":
        return False
    if disposition in _NO_VERDICT or r["state"] == State.MERGED.value:
        return None
    if disposition == "handled" or r["state"] in _CONFIRMED:
        return True
    return None


def rule_precision(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per rule: confirmed / (confirmed + false alarms), from operators' verdicts."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # confirmed, false, undecided
    for r in rows:
        v = verdict(r)
        counts[rule_of(r)][0 if v is True else 1 if v is False else 2] += 1
    out: dict[str, dict[str, Any]] = {}
    for rule, (confirmed, false, undecided) in sorted(counts.items()):
        judged = confirmed + false
        out[rule] = {
            "confirmed": confirmed,
            "false_alarms": false,
            "undecided": undecided,
            "precision": confirmed / judged if judged else None,
        }
    return out


def kpis(rows: list[Mapping[str, Any]], now: float) -> dict[str, Any]:
    """Overall, per street and per grid, and per-rule precision."""
    by_street: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    by_grid: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        by_street[r["street_id"]].append(r)
        by_grid[r["grid_id"]].append(r)
    return {
        "overall": summarise(rows, now),
        "streets": {k: summarise(v, now) for k, v in sorted(by_street.items())},
        "grids": {k: summarise(v, now) for k, v in sorted(by_grid.items())},
        "rules": rule_precision(rows),
    }
