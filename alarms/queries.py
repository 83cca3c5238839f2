"""Read-side queries for the API: incidents with filters and scope, timelines, deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, or_, select, update

from alarms.incidents import Incident
from alarms.lifecycle import ACTIVE_STATES
from alarms.storage.rows import by_name
from alarms.storage.schema import incidents, outbox, timeline


@dataclass(frozen=True, slots=True)
class Scope:
    """What a principal may see: None means everything."""

    streets: frozenset[str] | None = None
    grids: frozenset[str] | None = None

    def allows(self, street_id: str, grid_id: str) -> bool:
        if self.streets is None and self.grids is None:
            return True
        return (self.streets is not None and street_id in self.streets) or (
            self.grids is not None and grid_id in self.grids
        )

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        if self.streets is None and self.grids is None:
            return stmt
        conds = []
        if self.streets is not None:
            conds.append(incidents.c.street_id.in_(self.streets))
        if self.grids is not None:
            conds.append(incidents.c.grid_id.in_(self.grids))
        return stmt.where(or_(*conds))


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    states: Sequence[str] = ()
    categories: Sequence[str] = ()
    grids: Sequence[str] = ()
    streets: Sequence[str] = ()
    active: bool | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100
    offset: int = 0


def list_incidents(conn: Connection, f: IncidentFilter, scope: Scope) -> list[Incident]:
    stmt = scope.apply(select(incidents))
    if f.states:
        stmt = stmt.where(incidents.c.state.in_(f.states))
    if f.categories:
        stmt = stmt.where(incidents.c.category.in_(f.categories))
    if f.grids:
        stmt = stmt.where(incidents.c.grid_id.in_(f.grids))
    if f.streets:
        stmt = stmt.where(incidents.c.street_id.in_(f.streets))
    if f.active is not None:
        active = [s.value for s in ACTIVE_STATES]
        stmt = stmt.where(incidents.c.state.in_(active) if f.active else incidents.c.state.not_in(active))
    if f.since is not None:
        stmt = stmt.where(incidents.c.created_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(incidents.c.created_at < f.until)
    stmt = stmt.order_by(incidents.c.priority, incidents.c.created_at.desc()).limit(f.limit).offset(f.offset)
    return [Incident.from_row(by_name(r)) for r in conn.execute(stmt).mappings()]


def incident_timeline(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(timeline).where(timeline.c.incident_id == incident_id).order_by(timeline.c.id))
    return [dict(r) for r in rows.mappings()]


KPI_COLUMNS = (
    "state",
    "created_at",
    "acknowledged_at",
    "closed_at",
    "ack_deadline",
    "close_deadline",
    "street_id",
    "grid_id",
)
"""What alarms/kpis.py `summarise` reads of an incident: every KPI read (the page's KPIs, the field KPIs,
the meeting reports) selects these, plus what it needs of its own."""


def kpi_select(scope: Scope, since: float | None, until: float | None, *extra: str) -> Select[Any]:
    """The incidents in scope reported in [since, until) (open-ended where None), narrow: KPI_COLUMNS and
    ``extra`` only, so a month of rows is read without the wide columns."""
    stmt = scope.apply(select(*(incidents.c[n] for n in (*KPI_COLUMNS, *extra))))
    if since is not None:
        stmt = stmt.where(incidents.c.created_at >= since)
    if until is not None:
        stmt = stmt.where(incidents.c.created_at < until)
    return stmt


def kpi_rows(
    conn: Connection, scope: Scope, since: float | None, until: float | None
) -> list[dict[str, Any]]:
    stmt = kpi_select(scope, since, until, "category", "source_kind", "disposition", "evidence")
    return [dict(r) for r in conn.execute(stmt).mappings()]


_DELIVERY_COLS = [c for c in outbox.c if c.name != "payload"]


def list_deliveries(
    conn: Connection, status: str | None, incident_id: int | None, channel: str | None, limit: int
) -> list[dict[str, Any]]:
    stmt = select(*_DELIVERY_COLS, incidents.c.street_id, incidents.c.grid_id).join(
        incidents, incidents.c.id == outbox.c.incident_id, isouter=True
    )
    if status:
        stmt = stmt.where(outbox.c.status == status)
    if incident_id is not None:
        stmt = stmt.where(outbox.c.incident_id == incident_id)
    if channel:
        stmt = stmt.where(outbox.c.channel == channel)
    return [dict(r) for r in conn.execute(stmt.order_by(outbox.c.id.desc()).limit(limit)).mappings()]


def delivery_place(conn: Connection, delivery_id: int) -> tuple[str | None, str | None] | None:
    """(street, grid) of a delivery's incident for scope checks; None when there is no such delivery."""
    row = conn.execute(
        select(incidents.c.street_id, incidents.c.grid_id)
        .select_from(outbox)
        .join(incidents, incidents.c.id == outbox.c.incident_id, isouter=True)
        .where(outbox.c.id == delivery_id)
    ).first()
    return None if row is None else (row[0], row[1])


def requeue_delivery(conn: Connection, delivery_id: int, now: float) -> dict[str, Any] | None:
    """An operator's retry of a dead letter: a fresh schedule, the same webhook-id."""
    row = conn.execute(select(outbox).where(outbox.c.id == delivery_id)).mappings().first()
    if row is None:
        return None
    conn.execute(
        update(outbox)
        .where(outbox.c.id == delivery_id)
        .values(status="pending", attempts=0, next_attempt_at=now, last_error=None)
    )
    return dict(conn.execute(select(outbox).where(outbox.c.id == delivery_id)).mappings().one())
