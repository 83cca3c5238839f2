"""Batched writes for one engine transaction.

A press costs a handful of rows (incident update, timeline entry, outbox rows). Issued one statement at a
time, SQLAlchemy's per-statement overhead dominated the SOS path; here they are collected while the
transaction runs and flushed as one executemany per table, so a group commit of N presses costs about
the same number of statements as one press."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, update

from alarms.delivery.outbox import OutboxItem, insert_rows
from alarms.incidents import Incident
from alarms.storage import search_terms
from alarms.storage.schema import incidents, timeline

# Everything the engine changes on an incident except dispatch_status, which the delivery worker also
# writes (without a version bump) and so is only ever changed by a conditional statement.
_MUTABLE = tuple(f.name for f in fields(Incident) if f.name not in ("id", "dispatch_status"))

# The SET clause comes from the parameter keys (executemany); the version guard catches a stale copy.
_UPDATE_INCIDENT = update(incidents).where(
    incidents.c.id == bindparam("b_id"), incidents.c.version == bindparam("b_version")
)

# No IN (...) here: an expanding parameter cannot be used with executemany.
_MARK_PENDING = (
    update(incidents)
    .where(
        incidents.c.id == bindparam("b_id"),
        or_(incidents.c.dispatch_status == "none", incidents.c.dispatch_status == "delivered"),
    )
    .values(dispatch_status="pending")
)

_INSERT_TIMELINE = insert(timeline)


class StaleIncident(RuntimeError):
    """An incident changed under us (another engine process): the cached copy must be reloaded."""


@dataclass(slots=True)
class UnitOfWork:
    conn: Connection
    # incident id -> (the copy this unit first changed, its latest in-memory copy)
    dirty: dict[int, tuple[Incident, Incident]] = field(default_factory=dict)
    mark_pending: list[int] = field(default_factory=list)
    timeline_rows: list[dict[str, Any]] = field(default_factory=list)
    outbox_rows: list[tuple[dict[str, Any], list[OutboxItem]]] = field(default_factory=list)

    def update(self, before: Incident, after: Incident, dispatch_pending: bool) -> None:
        first = self.dirty[before.id][0] if before.id in self.dirty else before
        self.dirty[after.id] = (first, after)
        if dispatch_pending:
            self.mark_pending.append(after.id)

    def add_timeline(self, row: dict[str, Any]) -> None:
        self.timeline_rows.append(row)

    def add_outbox(self, rows: list[dict[str, Any]]) -> list[OutboxItem]:
        """The returned list is filled with the stored items (with their ids) at flush."""
        items: list[OutboxItem] = []
        self.outbox_rows.extend((row, items) for row in rows)
        return items

    def flush(self) -> None:
        conn = self.conn
        searched = search_terms.touched(self.timeline_rows, self.dirty.values())
        if self.dirty:
            # Only the columns that changed (untouched indexes stay untouched), one executemany per set.
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for first, inc in self.dirty.values():
                changed = tuple(n for n in _MUTABLE if getattr(inc, n) != getattr(first, n))
                row = {"b_id": inc.id, "b_version": first.version, **{n: getattr(inc, n) for n in changed}}
                groups.setdefault(changed, []).append(row)
            for params in groups.values():
                result = conn.execute(_UPDATE_INCIDENT, params[0] if len(params) == 1 else params)
                if result.rowcount != len(params):
                    raise StaleIncident(f"{len(params) - result.rowcount} incident(s) changed elsewhere")
            self.dirty.clear()
        if self.mark_pending:
            conn.execute(_MARK_PENDING, [{"b_id": i} for i in self.mark_pending])
            self.mark_pending.clear()
        if self.timeline_rows:
            conn.execute(_INSERT_TIMELINE, self.timeline_rows)
            self.timeline_rows.clear()
        search_terms.refresh(conn, searched)  # keyword search (alarms/search.py) reads these
        if self.outbox_rows:
            stored = insert_rows(conn, [row for row, _ in self.outbox_rows])
            for (_, items), item in zip(self.outbox_rows, stored, strict=True):
                items.append(item)
            self.outbox_rows.clear()
