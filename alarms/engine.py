"""The incident engine: turns signals and observations into incidents, drives the closed loop, and
writes every change together with its timeline entry and outbox rows in one transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from alarms.categories import SYSTEM_CATEGORIES, category
from alarms.config import SlaConfig
from alarms.devices import touch_device
from alarms.grids import GridDirectory, Placement
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
from alarms.outbox import OutboxItem, Routing, insert_rows
from alarms.schema import incidents, seen_events, timeline
from alarms.store import StorageError
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


@dataclass(frozen=True, slots=True)
class Trigger:
    """Something happened at a source that should open or update an incident."""

    category: str
    source_kind: str  # button | camera | device | system
    source_id: str
    placement: Placement
    ts: float
    note: str
    evidence: dict[str, Any] = field(default_factory=dict)
    source_ts: float | None = None
    status: str = "Actual"
    certainty: str = "Observed"
    event_id: str | None = None


Listener = Callable[[Change], None]

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
        # Sources with an open device_offline incident (a cache, so the hot path skips a query).
        self._offline_sources: set[str] = set()
        self._insert_seen = (postgresql.insert if store.dialect == "postgresql" else sqlite.insert)(
            seen_events
        )

    # ----- listeners -------------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def _publish(self, changes: list[Change]) -> None:
        for change in changes:
            self.metrics.incidents.labels(change.incident.category, change.action).inc()
            for listener in self.listeners:
                try:
                    listener(change)
                except Exception:
                    log.exception("incident listener failed for incident %s", change.incident.id)

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
        changes: list[Change] = []
        with self.store.write() as conn:
            stored = self._ingest_in_tx(conn, sig, changes)
        self._after_signals([sig] if stored else [], changes)
        return changes if stored else None

    def ingest_signals(self, sigs: list[PanicSignal]) -> list[str]:
        """Group commit: many button events in one transaction (one fsync), one outcome label each.
        A bug in one event must not poison the others, so a failing batch is retried one by one."""
        changes: list[Change] = []
        outcomes: list[str] = []
        try:
            with self.store.write() as conn:
                for sig in sigs:
                    outcomes.append("stored" if self._ingest_in_tx(conn, sig, changes) else "duplicate")
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

    def _ingest_in_tx(self, conn: Connection, sig: PanicSignal, changes: list[Change]) -> bool:
        placement = self.directory.placement(sig.button_id)
        if placement is None:
            raise KeyError(sig.button_id)
        if not self._first_sighting(conn, sig.event_id, sig.received_at):
            self.metrics.duplicates.inc()
            return False
        touch_device(conn, sig, placement)
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
            changes.append(self._open_or_update(conn, trigger))
        elif sig.kind is SignalKind.CANCEL:
            change = self._note_cancel(conn, sig)
            if change is not None:
                changes.append(change)
        if sig.button_id in self._offline_sources:
            changes.extend(
                self._clear_in_tx(conn, "device_offline", sig.button_id, sig.received_at, "device heard")
            )
        return True

    def _first_sighting(self, conn: Connection, event_id: str, now: float) -> bool:
        # RETURNING, not rowcount: SQLAlchemy 2.1 with psycopg reports rowcount -1 for this INSERT.
        result = conn.execute(
            self._insert_seen.values(event_id=event_id, received_at=now)
            .on_conflict_do_nothing()
            .returning(seen_events.c.event_id)
        )
        return result.first() is not None

    def _note_cancel(self, conn: Connection, sig: PanicSignal) -> Change | None:
        """A cancel from the button goes on the timeline; only an operator closes the incident."""
        current = self._active(conn, f"sos:{sig.button_id}")
        if current is None:
            return None
        return self._update(
            conn,
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
        with self.store.write() as conn:
            if trigger.event_id and not self._first_sighting(conn, trigger.event_id, trigger.ts):
                self.metrics.duplicates.inc()
                return None
            change = self._open_or_update(conn, trigger)
        self._publish([change])
        return change

    def clear_condition(
        self, category_name: str, source_id: str, note: str, now: float | None = None
    ) -> list[Change]:
        """Close a system condition (device back, video back) that was opened automatically."""
        now = self.clock() if now is None else now
        with self.store.write() as conn:
            changes = self._clear_in_tx(conn, category_name, source_id, now, note)
        self._publish(changes)
        return changes

    def _clear_in_tx(
        self, conn: Connection, category_name: str, source_id: str, now: float, note: str
    ) -> list[Change]:
        if category_name not in SYSTEM_CATEGORIES:
            return []
        current = self._active(conn, f"{category_name}:{source_id}")
        if category_name == "device_offline":
            self._offline_sources.discard(source_id)
        if current is None:
            return []
        values = {"state": State.CLOSED.value, "closed_at": now, "open_key": None}
        if current.resolved_at is None:
            values["resolved_at"] = now
        return [self._update(conn, current, "auto_close", "system", note, values=values, now=now)]

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
        with self.store.write() as conn:
            current = self._load(conn, incident_id)
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
                self._load(conn, merged_into)
                values["merged_into"] = merged_into
            change = self._update(conn, current, action, actor, note, values=values, now=now)
        self._publish([change])
        return change.incident

    # ----- deadlines -------------------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> list[Change]:
        """Raise the escalation level of every unacknowledged incident past its deadline."""
        now = self.clock() if now is None else now
        changes: list[Change] = []
        with self.store.write() as conn:
            rows = conn.execute(
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
                        conn, current, "escalate", "system", note, values={"escalation_level": level}, now=now
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
        with self.store.write() as conn:
            conn.execute(
                update(incidents).where(incidents.c.id == incident_id).values(dispatch_status="not_reached")
            )
            current = self._load(conn, incident_id)
            self._timeline(conn, current, "dispatch_not_reached", "system", note, None, now)
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
            changes = [Change(current, "dispatch_not_reached"), self._open_or_update(conn, trigger)]
        self._publish(changes)
        return changes

    def warm_up(self) -> None:
        """Fill the caches from the database after a restart."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(incidents.c.source_id).where(
                    incidents.c.category == "device_offline", incidents.c.open_key.is_not(None)
                )
            )
            self._offline_sources = {r[0] for r in rows}

    def prune_seen(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        with self.store.write() as conn:
            return conn.execute(
                seen_events.delete().where(seen_events.c.received_at < now - self.dedup_window_s)
            ).rowcount

    # ----- internals -------------------------------------------------------------------------------------
    def _load(self, conn: Connection, incident_id: int) -> Incident:
        row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().first()
        if row is None:
            raise IncidentNotFound(incident_id)
        return Incident.from_row(row)

    def _active(self, conn: Connection, open_key: str) -> Incident | None:
        row = conn.execute(select(incidents).where(incidents.c.open_key == open_key)).mappings().first()
        return Incident.from_row(row) if row else None

    def _open_or_update(self, conn: Connection, trig: Trigger) -> Change:
        open_key = f"{trig.category}:{trig.source_id}"
        current = self._active(conn, open_key)
        if current is not None:
            evidence = {**current.evidence, **trig.evidence}
            values = {
                "trigger_count": current.trigger_count + 1,
                "last_trigger_at": trig.ts,
                "evidence": evidence,
            }
            return self._update(
                conn, current, "retrigger", trig.source_id, trig.note, values, trig.ts, trig.source_ts
            )
        return self._open(conn, trig, open_key)

    def _open(self, conn: Connection, trig: Trigger, open_key: str) -> Change:
        cat = category(trig.category)
        deadline = self.sla.for_category(trig.category)
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
        if trig.category == "device_offline":
            self._offline_sources.add(trig.source_id)
        self._timeline(conn, incident, "created", trig.source_id, trig.note, None, trig.ts)
        if previous is not None:
            prev = self._load(conn, previous)
            self._timeline(
                conn, prev, "retriggered", "system", f"new incident {new_id} opened", None, trig.ts
            )
        return self._with_outbox(
            conn, incident, "created", trig.source_id, trig.note, trig.ts, trig.source_ts
        )

    def _update(
        self,
        conn: Connection,
        current: Incident,
        action: str,
        actor: str,
        note: str | None,
        values: dict[str, Any],
        now: float,
        source_ts: float | None = None,
    ) -> Change:
        values = {**values, "version": current.version + 1, "updated_at": now}
        if current.dispatch_status in ("none", "delivered") and self.routing.sends_webhook(
            current.category, action
        ):
            values["dispatch_status"] = "pending"
        conn.execute(update(incidents).where(incidents.c.id == current.id).values(**values))
        incident = replace(current, **values)
        self._timeline(conn, incident, action, actor, note, current.state, now)
        return self._with_outbox(conn, incident, action, actor, note, now, source_ts)

    def _timeline(
        self,
        conn: Connection,
        inc: Incident,
        action: str,
        actor: str,
        note: str | None,
        from_state: str | None,
        now: float,
    ) -> None:
        conn.execute(
            insert(timeline).values(
                incident_id=inc.id,
                ts=now,
                actor=actor,
                action=action,
                from_state=from_state,
                to_state=inc.state,
                note=note,
                version=inc.version,
            )
        )

    def _with_outbox(
        self,
        conn: Connection,
        incident: Incident,
        action: str,
        actor: str,
        note: str | None,
        now: float,
        source_ts: float | None,
    ) -> Change:
        public = incident.public(now)
        change = {"action": action, "actor": actor, "note": note, "version": incident.version}
        rows = self.routing.rows_for(public, action, change, now, source_ts)
        return Change(incident, action, insert_rows(conn, rows))
