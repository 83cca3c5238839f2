"""KPI reports for the district's weekly and monthly meetings: 办结率, 限时办结率 and 满意率 by street,
grid and worker over a day, week or month of the configured time zone (the same figures as alarms/kpis.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection

from alarms.kpis import summarise
from alarms.locale import zone
from alarms.queries import Scope, kpi_select

Period = Literal["day", "week", "month"]
Grouping = Literal["street", "grid", "worker"]
GROUPINGS: tuple[Grouping, ...] = ("street", "grid", "worker")
SATISFIED_SCORE = 4  # of 5: the evaluation scores people count as satisfied


@dataclass(frozen=True, slots=True)
class Window:
    period: Period
    first_day: date
    since: float
    until: float


def window(period: Period, day: date, timezone: str) -> Window:
    """The local day, ISO week (Monday first) or calendar month that holds ``day``."""
    if period == "day":
        first, last = day, day + timedelta(days=1)
    elif period == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    else:
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
    tz = zone(timezone)

    def start(d: date) -> float:
        return datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()

    return Window(period, first, start(first), start(last))


def report_rows(conn: Connection, scope: Scope, w: Window) -> list[dict[str, Any]]:
    """The incidents reported in the window, in scope: a month of a large district is tens of thousands of
    narrow rows, read once through ix_incidents_created."""
    stmt = kpi_select(scope, w.since, w.until, "assignee", "evaluation")
    return [dict(r) for r in conn.execute(stmt).mappings()]


def satisfaction(rows: Iterable[Mapping[str, Any]]) -> tuple[int, float | None]:
    """(incidents evaluated with a score, share of them scored SATISFIED_SCORE or better)."""
    scores = [
        r["evaluation"]["score"]
        for r in rows
        if isinstance(r.get("evaluation"), Mapping) and isinstance(r["evaluation"].get("score"), int | float)
    ]
    if not scores:
        return 0, None
    return len(scores), sum(1 for s in scores if s >= SATISFIED_SCORE) / len(scores)


def _line(name: str, rows: Sequence[Mapping[str, Any]], now: float) -> dict[str, Any]:
    evaluated, satisfied = satisfaction(rows)
    return {"name": name, **summarise(rows, now), "evaluated": evaluated, "satisfaction_rate": satisfied}


def report(
    rows: Sequence[Mapping[str, Any]],
    now: float,
    worker_name: Callable[[str], str] = str,
    street_names: Mapping[str, str] | None = None,
    grid_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Overall and one line per street, grid and worker, by name (config's names; incidents never
    dispatched have no worker and count only overall). Names, not the place JSON, so a month of rows is
    read without decoding a document per row."""
    streets, grids = street_names or {}, grid_names or {}
    groups: dict[Grouping, dict[str, list[Mapping[str, Any]]]] = {g: defaultdict(list) for g in GROUPINGS}
    for r in rows:
        groups["street"][streets.get(r["street_id"], r["street_id"])].append(r)
        groups["grid"][grids.get(r["grid_id"], r["grid_id"])].append(r)
        if r.get("assignee"):
            groups["worker"][worker_name(r["assignee"])].append(r)
    return {
        "overall": _line("", rows, now),
        **{g: [_line(name, rs, now) for name, rs in sorted(groups[g].items())] for g in GROUPINGS},
    }
