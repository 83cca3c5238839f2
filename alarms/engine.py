"""The incident engine: turns signals and observations into incidents, drives the closed loop, and
writes every change together with its timeline entry and outbox rows in one transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from alarms.categories import CONFIRMED, SYSTEM_CATEGORIES, category, certainty_rank
from alarms.config import SlaConfig
from alarms.delivery.outbox import OutboxItem, Routing
from alarms.delivery.worker import mark_delivered_sql
from alarms.devices import touch_devices
from alarms.grids import GridDirectory
from alarms.incidents import Incident
from alarms.lifecycle import (
    ACTIVE_STATES,
    ESCALATION_LEVELS,
    InvalidTransition,
    State,
    escalation_level_due,
    next_state,
)
from alarms.metrics import AlarmMetrics
from alarms.storage.schema import incidents, seen_events
from alarms.storage.store import StorageError
from alarms.storage.unit_of_work import StaleIncident, UnitOfWork
from alarms.triggers import Trigger
from ingest.types import PanicSignal, SignalKind

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class IncidentNotFound(LookupError):
    pass


class BadRequest(ValueError):
    """An action's arguments are incomplete (a required note, an unknown merge target)."""


@dataclass(frozen=True, slots=True)
class Change:
    """A committed incident change, handed to listeners (delivery worker, live push) after commit."""

    incident: Incident
    action: str
    outbox: list[OutboxItem] = field(default_factory=list)
    # The JSON view sent with this change (computed once for webhooks, MQTT and live clients).
    view: dict[str, Any] | None = None


Listener = Callable[[Change], None]
BatchListener = Callable[[list[Change]], None]

_EMPTY_ROW: dict[str, Any] = {f.name: None for f in fields(Incident)}

_SIGNAL_CATEGORY = {
    SignalKind.PRESS: "sos",
    SignalKind.TAMPER: "tamper",
    SignalKind.LOW_BATTERY: "low_battery",
}


class IncidentEngine:
    """Thread-safe: every write runs under the store's write lock."""

    def __init__(
        self,
        store: Any,
        directory: GridDirectory,
        sla: SlaConfig,
        routing: Routing,
        metrics: AlarmMetrics,
        clock: Clock = time.time,
        dedup_window_s: float = 86400.0,
    ) -> None:
        self.store = store
        self.directory = directory
        self.sla = sla
        self.routing = routing
        self.metrics = metrics
        self.clock = clock
        self.dedup_window_s = dedup_window_s
        self.listeners: list[Listener] = []
        self.batch_listeners: list[BatchListener] = []
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
    def _tx(self) -> Iterator[UnitOfWork]:
        """One write transaction whose incident, timeline and outbox rows are flushed in batches."""
        try:
            with self.store.write() as conn:
                uow = UnitOfWork(conn)
                yield uow
                uow.flush()
        except BaseException:
            self._open_cache = None
            raise

    def _with_retry(self, body: Callable[[UnitOfWork], Any]) -> Any:
        """Run body in a transaction; once more with a fresh cache if an incident changed elsewhere."""
        try:
            with self._tx() as uow:
                return body(uow)
        except StaleIncident as exc:
            log.info("incident cache was stale (%s); reloading and retrying", exc)
            with self._tx() as uow:
                return body(uow)

    def _cache(self, conn: Connection) -> dict[str, Incident]:
        if self._open_cache is None:
            rows = conn.execute(select(incidents).where(incidents.c.open_key.is_not(None))).mappings()
            self._open_cache = {r["open_key"]: Incident.from_row(r) for r in rows}
        return self._open_cache

    def _remember(self, conn: Connection, incident: Incident, old_key: str | None = None) -> None:
        cache = self._cache(conn)
        if old_key is not None and old_key != incident.open_key:
            cache.pop(old_key, None)
        if incident.open_key is not None:
            cache[incident.open_key] = incident

    # ----- listeners -------------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def subscribe_batch(self, listener: BatchListener) -> None:
        """Get every committed transaction's changes in one call (one thread hop per group commit)."""
        self.batch_listeners.append(listener)

    def _publish(self, changes: list[Change]) -> None:
        for change in changes:
            self.metrics.incidents.labels(change.incident.category, change.action).inc()
            for listener in self.listeners:
                try:
                    listener(change)
                except Exception:
                    log.exception("incident listener failed for incident %s", change.incident.id)
        if changes:
            for batch_listener in self.batch_listeners:
                try:
                    batch_listener(changes)
                except Exception:
                    log.exception("incident listener failed for %d changes", len(changes))

    # ----- reading ---------------------------------------------------------------------------------------
    def get(self, incident_id: int) -> Incident:
        with self.store.read() as conn:
            row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().first()
        if row is None:
            raise IncidentNotFound(incident_id)
        return Incident.from_row(row)

    # ----- button signals --------------------------------------------------------------------------------
    def ingest_signal(self, sig: PanicSignal) -> list[Change] | None:
        """Store one button event idempotently: None when it was seen before. Raises StorageError if it
        could not be stored, so the caller does not acknowledge it upstream."""
        outcomes, changes = self._with_retry(lambda uow: self._ingest_in_tx(uow, [sig]))
        stored = outcomes[0] == "stored"
        self._after_signals([sig] if stored else [], changes)
        return changes if stored else None

    def ingest_signals(self, sigs: list[PanicSignal]) -> list[str]:
        """Group commit: many button events in one transaction (one fsync), one outcome label each.
        A bug in one event must not poison the others, so a failing batch is retried one by one."""
        try:
            outcomes, changes = self._with_retry(lambda uow: self._ingest_in_tx(uow, sigs))
        except StorageError:
            raise
        except Exception:
            if len(sigs) == 1:
                raise
            log.exception("batch of %d button events failed; retrying them one by one", len(sigs))
            return [self._ingest_alone(sig) for sig in sigs]
        self._after_signals([s for s, o in zip(sigs, outcomes, strict=True) if o == "stored"], changes)
        return outcomes

    def _ingest_alone(self, sig: PanicSignal) -> str:
        try:
            return "duplicate" if self.ingest_signal(sig) is None else "stored"
        except StorageError:
            raise
        except Exception:
            log.exception("button event %s from %s could not be processed", sig.event_id, sig.button_id)
            return "error"

    def _after_signals(self, stored: list[PanicSignal], changes: list[Change]) -> None:
        now = self.clock()
        for sig in stored:
            if sig.kind is SignalKind.PRESS:
                self.metrics.press_to_incident.observe(max(0.0, now - sig.received_at))
        self._publish(changes)

    def _ingest_in_tx(self, uow: UnitOfWork, sigs: list[PanicSignal]) -> tuple[list[str], list[Change]]:
        conn = uow.conn
        placements = []
        for sig in sigs:
            placement = self.directory.placement(sig.button_id)
            if placement is None:
                raise KeyError(sig.button_id)
            placements.append(placement)
        fresh = self._first_sightings(conn, [(s.event_id, s.received_at) for s in sigs])
        outcomes: list[str] = []
        changes: list[Change] = []
        touched = []
        for sig, placement in zip(sigs, placements, strict=True):
            if sig.event_id not in fresh:
                self.metrics.duplicates.inc()
                outcomes.append("duplicate")
                continue
            fresh.discard(sig.event_id)  # a second copy in the same batch is a duplicate too
            outcomes.append("stored")
            touched.append((sig, placement))
            cat = _SIGNAL_CATEGORY.get(sig.kind)
            if cat is not None:
                trigger = Trigger(
                    category=cat,
                    source_kind="button",
                    source_id=sig.button_id,
                    placement=placement,
                    ts=sig.received_at,
                    note=f"{sig.kind.value} seq={sig.seq}",
                    evidence={"last_seq": sig.seq, "device_ts": sig.device_ts},
                    source_ts=sig.device_ts,
                    status=str(sig.extra.get("status", "Actual")),
                    event_id=sig.event_id,
                )
                changes.append(self._open_or_update(uow, trigger))
            elif sig.kind is SignalKind.CANCEL:
                change = self._note_cancel(uow, sig)
                if change is not None:
                    changes.append(change)
            if f"device_offline:{sig.button_id}" in self._cache(conn):
                changes.extend(
                    self._clear_in_tx(uow, "device_offline", sig.button_id, sig.received_at, "device heard")
                )
        touch_devices(conn, touched)
        return outcomes, changes

    def _first_sightings(self, conn: Connection, events: list[tuple[str, float]]) -> set[str]:
        """The event ids among these that were never seen before, recorded as seen: one statement."""
        if not events:
            return set()
        # RETURNING, not rowcount: SQLAlchemy 2.1 with psycopg reports rowcount -1 for this INSERT. One
        # prepared statement for every batch size (SQLAlchemy packs an executemany into multi-row VALUES).
        params = [{"event_id": e, "received_at": t} for e, t in events]
        result = conn.execute(self._insert_seen, params[0] if len(params) == 1 else params)
        return {row[0] for row in result}

    def _note_cancel(self, uow: UnitOfWork, sig: PanicSignal) -> Change | None:
        """A cancel from the button goes on the timeline; only an operator closes the incident."""
        current = self._active(uow, f"sos:{sig.button_id}")
        if current is None:
            return None
        return self._update(
            uow,
            current,
            "button_cancel",
            f"button {sig.button_id}",
            f"cancel pressed (seq={sig.seq})",
            values={},
            now=sig.received_at,
            source_ts=sig.device_ts,
        )

    # ----- generic conditions (devices, cameras, system) -------------------------------------------------
    def raise_condition(self, trigger: Trigger) -> Change | None:
        """Open or update an incident for a condition; an event id seen before is ignored."""

        def body(uow: UnitOfWork) -> Change | None:
            if trigger.event_id and not self._first_sightings(uow.conn, [(trigger.event_id, trigger.ts)]):
                self.metrics.duplicates.inc()
                return None
            return self._open_or_update(uow, trigger)

        change = self._with_retry(body)
        if change is not None:
            self._publish([change])
        return change

    def clear_condition(
        self, category_name: str, source_id: str, note: str, now: float | None = None
    ) -> list[Change]:
        """Close a system condition (device back, video back) that was opened automatically."""
        now = self.clock() if now is None else now
        changes = self._with_retry(lambda uow: self._clear_in_tx(uow, category_name, source_id, now, note))
        self._publish(changes)
        return changes

    def _clear_in_tx(
        self, uow: UnitOfWork, category_name: str, source_id: str, now: float, note: str
    ) -> list[Change]:
        if category_name not in SYSTEM_CATEGORIES:
            return []
        current = self._active(uow, f"{category_name}:{source_id}")
        if current is None:
            return []
        # Episode guard: with several engine processes a clear can be applied after a newer raise of the
        # same condition (video lost again); a clear older than the open incident's last trigger is stale.
        last = max(current.created_at, current.last_trigger_at)
        if now < last:
            self.metrics.stale_clears.labels(category_name).inc()
            log.debug(
                "stale clear of %s ignored: cleared at %.3f, incident %s last triggered at %.3f",
                current.open_key,
                now,
                current.id,
                last,
            )
            return []
        values = {"state": State.CLOSED.value, "closed_at": now, "open_key": None}
        if current.resolved_at is None:
            values["resolved_at"] = now
        return [self._update(uow, current, "auto_close", "system", note, values=values, now=now)]

    # ----- operator actions ------------------------------------------------------------------------------
    def act(
        self,
        incident_id: int,
        action: str,
        actor: str,
        note: str | None = None,
        *,
        assignee: str | None = None,
        disposition: str | None = None,
        evaluation: dict[str, Any] | None = None,
        merged_into: int | None = None,
        expected_version: int | None = None,
    ) -> Incident:
        """Apply an operator action. InvalidTransition when the state machine forbids it."""
        now = self.clock()
        with self._tx() as uow:
            current = self._load(uow, incident_id)
            if expected_version is not None and current.version != expected_version:
                raise InvalidTransition(action, current.state)
            transition = next_state(current.state, action)
            if transition.note_required and not (note and note.strip()):
                raise BadRequest(f"{action} needs a note")
            if action == "dispatch" and not (assignee and assignee.strip()):
                raise BadRequest("dispatch needs an assignee (who is sent)")
            values: dict[str, Any] = {"state": transition.target.value}
            if transition.timestamp_field:
                values[transition.timestamp_field] = now
            if transition.target not in ACTIVE_STATES:
                values["open_key"] = None
            if assignee:
                values["assignee"] = assignee
            if action == "resolve":
                values["resolution_note"] = note
            if action == "cancel":
                values["disposition"] = disposition or "false_alarm"
            elif disposition:
                values["disposition"] = disposition
            if action == "evaluate":
                values["evaluation"] = evaluation or {}
            if action == "merge":
                if merged_into is None or merged_into == incident_id:
                    raise BadRequest("merge needs another incident id (merged_into)")
                self._load(uow, merged_into)
                values["merged_into"] = merged_into
            # An operator who sends people to a suspected fire has verified it: dispatch endpoints that wait
            # for confirmed incidents hear of it now, as created.
            confirms = (
                action == "dispatch"
                and category(current.category).graded
                and certainty_rank(current.certainty) < certainty_rank(CONFIRMED)
            )
            if confirms:
                values["certainty"] = CONFIRMED
            change = self._update(
                uow, current, action, actor, note, values=values, now=now, confirms=confirms
            )
        self._publish([change])
        return change.incident

    # ----- deadlines -------------------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> list[Change]:
        """Raise the escalation level of every unacknowledged incident past its deadline."""
        now = self.clock() if now is None else now
        changes: list[Change] = []
        with self._tx() as uow:
            rows = uow.conn.execute(
                select(incidents).where(
                    incidents.c.state == State.REPORTED.value,
                    incidents.c.ack_deadline <= now,
                    incidents.c.escalation_level < len(ESCALATION_LEVELS) - 1,
                )
            ).mappings()
            for row in list(rows):
                current = Incident.from_row(row)
                every = self.sla.escalate_every_s or self.sla.for_category(current.category).acknowledge_s
                level = escalation_level_due(current.ack_deadline, every, now)
                if level <= current.escalation_level:
                    continue
                note = f"acknowledge deadline missed: escalated to {ESCALATION_LEVELS[level]}"
                changes.append(
                    self._update(
                        uow, current, "escalate", "system", note, values={"escalation_level": level}, now=now
                    )
                )
                self.metrics.escalations.labels(ESCALATION_LEVELS[level]).inc()
        self._publish(changes)
        return changes

    # ----- delivery feedback -----------------------------------------------------------------------------
    def dispatch_failed(self, incident_id: int | None, endpoint: str, error: str) -> list[Change]:
        """A dead letter is an alarm: the incident shows "dispatch not reached" and operators get a
        priority-1 dispatch_failure incident for the endpoint (one while it stays open)."""
        if incident_id is None:
            return []
        now = self.clock()
        note = f"dispatch not reached: {endpoint}: {error}"
        with self._tx() as uow:
            uow.conn.execute(
                update(incidents).where(incidents.c.id == incident_id).values(dispatch_status="not_reached")
            )
            current = self._load(uow, incident_id)
            if current.open_key is not None:
                self._remember(uow.conn, current)
            self._timeline(uow, current, "dispatch_not_reached", "system", note, None, now)
            placement = self.directory.grid_placement(current.grid_id)
            trigger = Trigger(
                "dispatch_failure",
                "system",
                endpoint,
                placement,
                now,
                note,
                evidence={"endpoint": endpoint, "error": error, "incident_id": incident_id},
            )
            changes = [Change(current, "dispatch_not_reached"), self._open_or_update(uow, trigger)]
        self._publish(changes)
        return changes

    def warm_up(self) -> None:
        """Fill the cache of active incidents from the database after a restart."""
        with self.store.write() as conn:
            self._open_cache = None
            self._cache(conn)

    def mark_delivered(self, conn: Connection, incident_ids: set[int]) -> None:
        """The delivery worker reached dispatch for these incidents (inside its own transaction)."""
        mark_delivered_sql(conn, incident_ids)
        if self._open_cache is not None:
            for key, inc in list(self._open_cache.items()):
                if inc.id in incident_ids and inc.dispatch_status != "delivered":
                    self._open_cache[key] = replace(inc, dispatch_status="delivered")

    def prune_seen(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        with self.store.write() as conn:
            return conn.execute(
                seen_events.delete().where(seen_events.c.received_at < now - self.dedup_window_s)
            ).rowcount

    # ----- internals -------------------------------------------------------------------------------------
    def _load(self, uow: UnitOfWork, incident_id: int) -> Incident:
        uow.flush()  # a read must see this transaction's own pending writes
        row = uow.conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().first()
        if row is None:
            raise IncidentNotFound(incident_id)
        return Incident.from_row(row)

    def _active(self, uow: UnitOfWork, open_key: str) -> Incident | None:
        return self._cache(uow.conn).get(open_key)

    def _open_or_update(self, uow: UnitOfWork, trig: Trigger) -> Change:
        open_key = f"{trig.category}:{trig.source_id}"
        current = self._active(uow, open_key)
        if current is not None:
            evidence = {**current.evidence, **trig.evidence}
            values = {
                "trigger_count": current.trigger_count + 1,
                "last_trigger_at": trig.ts,
                "evidence": evidence,
            }
            return self._update(
                uow, current, "retrigger", trig.source_id, trig.note, values, trig.ts, trig.source_ts
            )
        return self._open(uow, trig, open_key)

    def _open(self, uow: UnitOfWork, trig: Trigger, open_key: str) -> Change:
        cat = category(trig.category)
        deadline = self.sla.for_category(trig.category)
        # No flush first: pending writes never change an incident's id, source or category, so this
        # lookup sees the same; a burst of new incidents then still shares one flush per table.
        conn = uow.conn
        previous = conn.execute(
            select(incidents.c.id)
            .where(incidents.c.source_id == trig.source_id, incidents.c.category == trig.category)
            .order_by(incidents.c.id.desc())
            .limit(1)
        ).scalar()
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
        }
        if self.routing.sends_webhook(trig.category, "created"):
            values["dispatch_status"] = "pending"
        new_id = conn.execute(insert(incidents).values(**values).returning(incidents.c.id)).scalar_one()
        incident = Incident.from_row({**_EMPTY_ROW, **values, "id": new_id})
        self._remember(conn, incident)
        self._timeline(uow, incident, "created", trig.source_id, trig.note, None, trig.ts)
        if previous is not None:
            prev = self._load(uow, previous)
            self._timeline(uow, prev, "retriggered", "system", f"new incident {new_id} opened", None, trig.ts)
        return self._with_outbox(uow, incident, "created", trig.source_id, trig.note, trig.ts, trig.source_ts)

    def _update(
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
    ) -> Change:
        values = {**values, "version": current.version + 1, "updated_at": now}
        pending = current.dispatch_status in ("none", "delivered") and self.routing.sends_webhook(
            current.category, action
        )
        if pending:
            values["dispatch_status"] = "pending"
        incident = replace(current, **values)
        uow.update(current, incident, dispatch_pending=pending)
        self._remember(uow.conn, incident, old_key=current.open_key)
        self._timeline(uow, incident, action, actor, note, current.state, now)
        return self._with_outbox(uow, incident, action, actor, note, now, source_ts, confirms)

    def _timeline(
        self,
        uow: UnitOfWork,
        inc: Incident,
        action: str,
        actor: str,
        note: str | None,
        from_state: str | None,
        now: float,
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
                "data": None,
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

    # ----- camera observations: confirmation and clearing (issue 3) --------------------------------------
    def observe_condition(self, trigger: Trigger, *, cleared: bool = False) -> Change | None:
        """A camera rule's observation, like raise_condition, plus the two things a retrigger does not say:
        a confirmation raises the incident's certainty (Likely → Observed, action ``confirmed``: dispatch
        endpoints that wait for confirmed incidents get it as ``incident.created``), and ``cleared`` (smoke
        gone, crowd below its clear level) goes on the open incident's timeline without closing it or
        opening one. None for a repeated event id, or a clearing with no incident open."""

        def body(uow: UnitOfWork) -> Change | None:
            current = self._active(uow, f"{trigger.category}:{trigger.source_id}")
            if cleared and current is None:
                return None
            if trigger.event_id and not self._first_sightings(uow.conn, [(trigger.event_id, trigger.ts)]):
                self.metrics.duplicates.inc()
                return None
            if current is None:
                return self._open_or_update(uow, trigger)
            values: dict[str, Any] = {"evidence": {**current.evidence, **trigger.evidence}}
            action = "cleared"
            if not cleared:
                values |= {"trigger_count": current.trigger_count + 1, "last_trigger_at": trigger.ts}
                surer = certainty_rank(trigger.certainty) > certainty_rank(current.certainty)
                action = "confirmed" if surer else "retrigger"
                if surer:
                    values["certainty"] = trigger.certainty
            return self._update(
                uow, current, action, trigger.source_id, trigger.note, values, trigger.ts, trigger.source_ts
            )

        change = self._with_retry(body)
        if change is not None:
            self._publish([change])
        return change
