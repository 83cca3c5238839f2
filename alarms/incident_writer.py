"""The write side every engine path shares: one transaction per call, the cache of active incidents, and
the rows one change writes together (the incident, its timeline entry, its outbox rows).

Kept apart from the engine's rules (which change to make for a press, an observation, an operator action)
so that those read as rules, while the bookkeeping that makes every change consistent lives in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from alarms.categories import category
from alarms.config import SlaConfig
from alarms.delivery.outbox import OutboxItem, Routing
from alarms.incidents import Incident
from alarms.lifecycle import State
from alarms.metrics import AlarmMetrics
from alarms.storage.port import Database
from alarms.storage.rows import by_name
from alarms.storage.schema import incidents, seen_events
from alarms.storage.unit_of_work import StaleIncident, UnitOfWork
from alarms.triggers import Trigger

log = logging.getLogger(__name__)

T = TypeVar("T")

_EMPTY_ROW: dict[str, Any] = {f.name: None for f in fields(Incident)}


class IncidentNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Change:
    """A committed incident change, handed to listeners (delivery worker, live push) after commit."""

    incident: Incident
    action: str
    outbox: list[OutboxItem] = field(default_factory=list)
    # The JSON view sent with this change (computed once for webhooks, MQTT and live clients).
    view: dict[str, Any] | None = None


class IncidentWriter:
    """Opens and updates incidents inside a :class:`UnitOfWork`; every change gets its timeline entry and
    outbox rows in the same transaction. Not thread-safe by itself: the store's write lock serialises it."""

    def __init__(self, store: Database, sla: SlaConfig, routing: Routing, metrics: AlarmMetrics) -> None:
        self.store = store
        self.sla = sla
        self.routing = routing
        self.metrics = metrics
        # Active incidents by open_key, so a retrigger needs no query. Loaded lazily, dropped whenever a
        # transaction fails (it may hold uncommitted changes); a version guard on every incident update
        # catches a copy made stale by another engine process.
        self._open_cache: dict[str, Incident] | None = None
        self._insert_seen = (
            (postgresql.insert if store.dialect == "postgresql" else sqlite.insert)(seen_events)
            .on_conflict_do_nothing()
            .returning(seen_events.c.event_id)
        )

    # ----- transactions ----------------------------------------------------------------------------------
    @contextmanager
    def tx(self) -> Iterator[UnitOfWork]:
        """One write transaction whose incident, timeline and outbox rows are flushed in batches."""
        try:
            with self.store.write() as conn:
                uow = UnitOfWork(conn)
                yield uow
                uow.flush()
        except BaseException:
            self._open_cache = None
            raise

    def with_retry(self, body: Callable[[UnitOfWork], T]) -> T:
        """Run body in a transaction; once more with a fresh cache if an incident changed elsewhere."""
        try:
            with self.tx() as uow:
                return body(uow)
        except StaleIncident as exc:
            log.info("incident cache was stale (%s); reloading and retrying", exc)
            with self.tx() as uow:
                return body(uow)

    # ----- the cache of active incidents -----------------------------------------------------------------
    def cache(self, conn: Connection) -> dict[str, Incident]:
        if self._open_cache is None:
            rows = conn.execute(select(incidents).where(incidents.c.open_key.is_not(None))).mappings()
            self._open_cache = {r["open_key"]: Incident.from_row(by_name(r)) for r in rows}
        return self._open_cache

    def reload(self, conn: Connection) -> None:
        """Fill the cache afresh (after a restart)."""
        self._open_cache = None
        self.cache(conn)

    def remember(self, conn: Connection, incident: Incident, old_key: str | None = None) -> None:
        cache = self.cache(conn)
        if old_key is not None and old_key != incident.open_key:
            cache.pop(old_key, None)
        if incident.open_key is not None:
            cache[incident.open_key] = incident

    def delivered(self, incident_ids: set[int]) -> None:
        """Keep cached copies in step with a dispatch_status the delivery worker wrote."""
        if self._open_cache is not None:
            for key, inc in list(self._open_cache.items()):
                if inc.id in incident_ids and inc.dispatch_status != "delivered":
                    self._open_cache[key] = replace(inc, dispatch_status="delivered")

    def active(self, uow: UnitOfWork, open_key: str) -> Incident | None:
        return self.cache(uow.conn).get(open_key)

    def load(self, uow: UnitOfWork, incident_id: int) -> Incident:
        uow.flush()  # a read must see this transaction's own pending writes
        row = uow.conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().first()
        if row is None:
            raise IncidentNotFound(incident_id)
        return Incident.from_row(by_name(row))

    # ----- idempotency -----------------------------------------------------------------------------------
    def first_sightings(self, conn: Connection, events: Iterable[tuple[str, float]]) -> set[str]:
        """The event ids among these that were never seen before, recorded as seen: one statement."""
        # RETURNING, not rowcount: SQLAlchemy 2.1 with psycopg reports rowcount -1 for this INSERT. One
        # prepared statement for every batch size (SQLAlchemy packs an executemany into multi-row VALUES).
        params = [{"event_id": e, "received_at": t} for e, t in events]
        if not params:
            return set()
        result = conn.execute(self._insert_seen, params[0] if len(params) == 1 else params)
        return {row[0] for row in result}

    def seen_before(self, uow: UnitOfWork, trigger: Trigger) -> bool:
        """True (and counted as a duplicate) when the trigger's event id was stored before."""
        if trigger.event_id and not self.first_sightings(uow.conn, [(trigger.event_id, trigger.ts)]):
            self.metrics.duplicates.inc()
            return True
        return False

    # ----- writing changes -------------------------------------------------------------------------------
    def open_or_update(self, uow: UnitOfWork, trig: Trigger) -> Change:
        """A new incident for the trigger's condition, or a retrigger of the one already open."""
        open_key = f"{trig.category}:{trig.source_id}"
        current = self.active(uow, open_key)
        if current is not None:
            evidence = {**current.evidence, **trig.evidence}
            values = {
                "trigger_count": current.trigger_count + 1,
                "last_trigger_at": trig.ts,
                "evidence": evidence,
            }
            return self.update(
                uow,
                current,
                "retrigger",
                trig.source_id,
                trig.note,
                values,
                trig.ts,
                trig.source_ts,
                data=trig.note_data,
            )
        return self._open(uow, trig, open_key)

    def _open(self, uow: UnitOfWork, trig: Trigger, open_key: str) -> Change:
        cat = category(trig.category)
        deadline = self.sla.for_category(trig.category)
        # No flush first: pending writes never change an incident's id, source or category, so this
        # lookup sees the same; a burst of new incidents then still shares one flush per table.
        conn = uow.conn
        previous = conn.execute(_PREVIOUS, {"p_source": trig.source_id, "p_category": trig.category}).scalar()
        values = {
            "category": trig.category,
            "priority": cat.priority,
            "state": State.REPORTED.value,
            "status": trig.status,
            "urgency": cat.urgency,
            "severity": cat.severity,
            "certainty": trig.certainty,
            "title": f"{cat.title_zh} · {trig.source_id}",
            "grid_id": trig.placement.grid_id,
            "community_id": trig.placement.community_id,
            "street_id": trig.placement.street_id,
            "source_kind": trig.source_kind,
            "source_id": trig.source_id,
            "created_at": trig.ts,
            "updated_at": trig.ts,
            "ack_deadline": trig.ts + deadline.acknowledge_s,
            "close_deadline": trig.ts + deadline.close_s,
            "escalation_level": 0,
            "trigger_count": 1,
            "last_trigger_at": trig.ts,
            "evidence": {"cameras": list(trig.placement.cameras), **trig.evidence},
            "linked_incident_id": previous,
            "dispatch_status": "none",
            "open_key": open_key,
            "version": 1,
            "place": trig.placement.place or None,
        }
        if self.routing.sends_webhook(trig.category, "created"):
            values["dispatch_status"] = "pending"
        new_id = conn.execute(_INSERT, values).scalar_one()
        incident = Incident.from_row({**_EMPTY_ROW, **values, "id": new_id})
        self.remember(conn, incident)
        self.timeline(uow, incident, "created", trig.source_id, trig.note, None, trig.ts, trig.note_data)
        if previous is not None:
            prev = self.load(uow, previous)
            note = f"new incident {new_id} opened"
            data = {"code": "new_incident_opened", "incident_id": new_id}
            self.timeline(uow, prev, "retriggered", "system", note, None, trig.ts, data)
        return self._with_outbox(uow, incident, "created", trig.source_id, trig.note, trig.ts, trig.source_ts)

    def update(
        self,
        uow: UnitOfWork,
        current: Incident,
        action: str,
        actor: str,
        note: str | None,
        values: dict[str, Any],
        now: float,
        source_ts: float | None = None,
        confirms: bool = False,
        data: dict[str, Any] | None = None,
    ) -> Change:
        """Apply values with a version bump, on the timeline and (as routing says) to the outbox. `data`
        holds a system note as a code and its parameters, for pages to say it in the reader's language."""
        values = {**values, "version": current.version + 1, "updated_at": now}
        pending = current.dispatch_status in ("none", "delivered") and self.routing.sends_webhook(
            current.category, action
        )
        if pending:
            values["dispatch_status"] = "pending"
        incident = replace(current, **values)
        uow.update(current, incident, dispatch_pending=pending)
        self.remember(uow.conn, incident, old_key=current.open_key)
        self.timeline(uow, incident, action, actor, note, current.state, now, data)
        return self._with_outbox(uow, incident, action, actor, note, now, source_ts, confirms)

    def timeline(
        self,
        uow: UnitOfWork,
        inc: Incident,
        action: str,
        actor: str,
        note: str | None,
        from_state: str | None,
        now: float,
        data: dict[str, Any] | None = None,
    ) -> None:
        uow.add_timeline(
            {
                "incident_id": inc.id,
                "ts": now,
                "actor": actor,
                "action": action,
                "from_state": from_state,
                "to_state": inc.state,
                "note": note,
                "version": inc.version,
                "data": data,
            }
        )

    def _with_outbox(
        self,
        uow: UnitOfWork,
        incident: Incident,
        action: str,
        actor: str,
        note: str | None,
        now: float,
        source_ts: float | None,
        confirms: bool = False,
    ) -> Change:
        public = incident.public(now)
        change = {"action": action, "actor": actor, "note": note, "version": incident.version}
        rows = self.routing.rows_for(public, action, change, now, source_ts, confirms)
        return Change(incident, action, uow.add_outbox(rows), public)


# Built once: a statement with its values as parameters compiles from SQLAlchemy's cache; one made with
# .values(**row) or literal where-clauses computed a fresh cache key over every value (~0.6 ms an incident).
_INSERT = insert(incidents).returning(incidents.c.id)
_PREVIOUS = (
    select(incidents.c.id)
    .where(incidents.c.source_id == bindparam("p_source"), incidents.c.category == bindparam("p_category"))
    .order_by(incidents.c.id.desc())
    .limit(1)
)
