"""Field KPIs (issue 15): 满意率 beside 办结率 and 限时办结率, per grid, street and worker, with
the time people took to accept and to arrive and each worker's open load. 满意率 counts 满意 and
基本满意 among the incidents whose latest 回访 is recorded."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from alarms.kpis import summarise
from alarms.queries import Scope, kpi_select
from alarms.storage.schema import assignments

SATISFIED = ("satisfied", "basically_satisfied")


def field_rows(
    conn: Connection, scope: Scope, since: float | None, until: float | None
) -> list[dict[str, Any]]:
    """Incidents of the period with their people sent (withdrawn ones left out)."""
    stmt = kpi_select(scope, since, until, "id", "evaluation")
    rows = {r["id"]: {**r, "people": []} for r in conn.execute(stmt).mappings()}
    if rows:
        sent = conn.execute(
            select(assignments).where(
                assignments.c.incident_id.in_(rows), assignments.c.status != "withdrawn"
            )
        ).mappings()
        for a in sent:
            rows[a["incident_id"]]["people"].append(dict(a))
    return list(rows.values())


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _figures(rows: list[Mapping[str, Any]], now: float) -> dict[str, Any]:
    base = summarise(rows, now)
    rated = satisfied = 0
    to_accept: list[float] = []
    to_arrive: list[float] = []
    for r in rows:
        verdict = (r.get("evaluation") or {}).get("satisfaction")
        if verdict:
            rated += 1
            satisfied += verdict in SATISFIED
        for a in r["people"]:
            if a["accepted_at"] is not None:
                to_accept.append(a["accepted_at"] - a["assigned_at"])
            if a["arrived_at"] is not None:
                to_arrive.append(a["arrived_at"] - a["assigned_at"])
    return {
        "total": base["total"],
        "closed": base["closed"],
        "closure_rate": base["closure_rate"],
        "closed_within_deadline_rate": base["closed_within_deadline_rate"],
        "callbacks": rated,
        "satisfaction_rate": satisfied / rated if rated else None,
        "time_to_accept_mean_s": _mean(to_accept),
        "time_to_arrive_mean_s": _mean(to_arrive),
    }


def field_kpis(rows: Iterable[Mapping[str, Any]], now: float, names: Mapping[str, str]) -> dict[str, Any]:
    """Overall, per street, per grid and per worker (by name); a worker's workload is what they hold open."""
    rows = list(rows)
    groups: dict[str, dict[str, list[Mapping[str, Any]]]] = {
        k: defaultdict(list) for k in ("streets", "grids")
    }
    workers: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    load: dict[str, int] = defaultdict(int)
    for r in rows:
        groups["streets"][r["street_id"]].append(r)
        groups["grids"][r["grid_id"]].append(r)
        for a in r["people"]:
            if a["kind"] != "person":
                continue
            workers[a["target_id"]].append({**r, "people": [a]})
            if r["state"] in ("dispatched", "in_progress"):
                load[a["target_id"]] += 1
    return {
        "overall": _figures(rows, now),
        "streets": {k: _figures(v, now) for k, v in sorted(groups["streets"].items())},
        "grids": {k: _figures(v, now) for k, v in sorted(groups["grids"].items())},
        "workers": {
            k: {**_figures(v, now), "name": names.get(k, k), "workload": load.get(k, 0)}
            for k, v in sorted(workers.items())
        },
    }
