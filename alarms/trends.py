"""Trends for the KPI page: incidents per day by category, closure and on-time rates per week, time to
acknowledge per day. Days and weeks are calendar days in ``locale.timezone`` (weeks start on Monday, as
Chinese district reports do), so a 23:30 alarm counts on the day operators lived it, not the UTC one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from alarms.kpis import summarise
from alarms.locale import zone


def window(now: float, days: int, timezone: str) -> tuple[float, list[date]]:
    """Unix seconds of the first day's local midnight and the ``days`` local dates ending today."""
    today = datetime.fromtimestamp(now, zone(timezone)).date()
    dates = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    return midnight(dates[0], timezone), dates


def midnight(d: date, timezone: str) -> float:
    return datetime.combine(d, time(0), zone(timezone)).timestamp()


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def trends(rows: Iterable[Mapping[str, Any]], dates: list[date], timezone: str, now: float) -> dict[str, Any]:
    """Series over ``dates`` from incident rows (kpi_rows); rows outside the dates are ignored."""
    tz = zone(timezone)
    index = {d: i for i, d in enumerate(dates)}
    per_category: dict[str, list[int]] = defaultdict(lambda: [0] * len(dates))
    by_week: dict[date, list[Mapping[str, Any]]] = defaultdict(list)
    by_day: dict[date, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        day = datetime.fromtimestamp(r["created_at"], tz).date()
        i = index.get(day)
        if i is None:
            continue
        per_category[r["category"]][i] += 1
        by_week[_monday(day)].append(r)
        by_day[day].append(r)
    weeks = sorted({_monday(d) for d in dates})
    week_rows = []
    for w in weeks:
        s = summarise(by_week.get(w, []), now)
        week_rows.append(
            {
                "week": w.isoformat(),
                "total": s["total"],
                "closed": s["closed"],
                "closure_rate": _round(s["closure_rate"]),
                "closed_within_deadline_rate": _round(s["closed_within_deadline_rate"]),
            }
        )
    ack = []
    for d in dates:
        s = summarise(by_day.get(d, []), now)
        ack.append({"p50_s": s["time_to_acknowledge_p50_s"], "p90_s": s["time_to_acknowledge_p90_s"]})
    return {
        "days": [d.isoformat() for d in dates],
        "categories": dict(sorted(per_category.items())),
        "weeks": week_rows,
        "acknowledge": ack,
    }
