"""The incident engine: turns signals and observations into incidents, drives the closed loop, and
writes every change together with its timeline entry and outbox rows in one transaction.

This is the front the rest of the service calls. It owns the transactions' boundaries and tells listeners
after each commit; what a change is lives beside it: ``button_triggers`` (signals as triggers),
``conditions`` (raise, observe, clear), ``operator_actions``, ``deadlines``, and ``incident_writer`` (the
rows every change writes and the cache of active incidents)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from alarms.action_effects import ActionContext, act_in_tx
from alarms.button_triggers import button_trigger, offline_key, placements, sos_key
from alarms.conditions import clear_in_tx, dispatch_failed_in_tx, observe_in_tx, raise_in_tx
from alarms.config import SlaConfig
from alarms.deadlines import escalate_overdue
from alarms.delivery.outbox import Routing
from alarms.delivery.worker import mark_delivered_sql
from alarms.devices import touch_devices
from alarms.field_deadlines import field_overdue
from alarms.grids import GridDirectory, Placement
from alarms.incident_writer import Change, IncidentNotFound, IncidentWriter
from alarms.incidents import Incident
from alarms.metrics import AlarmMetrics
from alarms.operator_actions import ActionRequest, BadRequest
from alarms.silence_config import SilenceConfig
from alarms.silences import expire_due, lift
from alarms.storage.port import Database
from alarms.storage.rows import by_name
from alarms.storage.schema import incidents, seen_events
from alarms.storage.store import StorageError
from alarms.storage.unit_of_work import UnitOfWork
from alarms.triggers import Trigger
from ingest import hop_trace
from ingest.types import PanicSignal, SignalKind

# Callers import these from here, where they met them first.
__all__ = ["BadRequest", "Change", "IncidentEngine", "IncidentNotFound", "Trigger"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Listener = Callable[[Change], None]
BatchListener = Callable[[list[Change]], None]


class IncidentEngine:
    """Thread-safe: every write runs under the store's write lock."""

    def __init__(
        self,
        store: Database,
        directory: GridDirectory,
        sla: SlaConfig,
        routing: Routing,
        metrics: AlarmMetrics,
        clock: Clock = time.time,
        dedup_window_s: float = 86400.0,
        silences: SilenceConfig | None = None,
    ) -> None:
        self.store = store
        self.silences = silences or SilenceConfig()
        self.directory = directory
        self.sla = sla
        self.routing = routing
        self.metrics = metrics
        self.clock = clock
        self.dedup_window_s = dedup_window_s
        self.listeners: list[Listener] = []
        self.batch_listeners: list[BatchListener] = []
        self.writer = IncidentWriter(store, sla, routing, metrics)

    # ----- listeners -------------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def subscribe_batch(self, listener: BatchListener) -> None:
        """Get every committed transaction's changes in one call (one thread hop per group commit)."""
        self.batch_listeners.append(listener)

    def _publish(self, changes: list[Change]) -> None:
        """After commit only: a listener never hears of a change that was rolled back."""
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
        return Incident.from_row(by_name(row))

    # ----- button signals --------------------------------------------------------------------------------
    def ingest_signal(self, sig: PanicSignal) -> list[Change] | None:
        """Store one button event idempotently: None when it was seen before. Raises StorageError if it
        could not be stored, so the caller does not acknowledge it upstream."""
        outcomes, changes = self.writer.with_retry(lambda uow: self._ingest_in_tx(uow, [sig]))
        stored = outcomes[0] == "stored"
        self._after_signals([sig] if stored else [], changes)
        return changes if stored else None

    def ingest_signals(self, sigs: list[PanicSignal]) -> list[str]:
        """Group commit: many button events in one transaction (one fsync), one outcome label each.
        A bug in one event must not poison the others, so a failing batch is retried one by one."""
        try:
            outcomes, changes = self.writer.with_retry(lambda uow: self._ingest_in_tx(uow, sigs))
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
                if hop_trace.ENABLED:
                    hop_trace.mark(sig.button_id, sig.seq, "received", sig.received_at)
                    hop_trace.mark(sig.button_id, sig.seq, "committed", now)
        self._publish(changes)

    def _ingest_in_tx(self, uow: UnitOfWork, sigs: list[PanicSignal]) -> tuple[list[str], list[Change]]:
        """Dedupe the batch by event id in one statement, then each fresh signal's changes."""
        places = placements(self.directory, sigs)
        fresh = self.writer.first_sightings(uow.conn, [(s.event_id, s.received_at) for s in sigs])
        outcomes: list[str] = []
        changes: list[Change] = []
        touched: list[tuple[PanicSignal, Placement]] = []
        for sig, placement in zip(sigs, places, strict=True):
            if sig.event_id not in fresh:
                self.metrics.duplicates.inc()
                outcomes.append("duplicate")
                changes.extend(self._receipt_again(uow, sig))
                continue
            fresh.discard(sig.event_id)  # a second copy in the same batch is a duplicate too
            outcomes.append("stored")
            touched.append((sig, placement))
            changes.extend(self._signal_changes(uow, sig, placement))
        touch_devices(uow.conn, touched)
        return outcomes, changes

    def _signal_changes(self, uow: UnitOfWork, sig: PanicSignal, placement: Placement) -> list[Change]:
        """One fresh signal: its trigger's incident, or a cancel's timeline note; and since any signal means
        the button is heard, its device_offline incident closes."""
        changes: list[Change] = []
        trigger = button_trigger(sig, placement)
        if trigger is not None:
            changes.append(self.writer.open_or_update(uow, trigger))
        elif sig.kind is SignalKind.CANCEL:
            change = self._note_cancel(uow, sig)
            if change is not None:
                changes.append(change)
        if offline_key(sig.button_id) in self.writer.cache(uow.conn):
            changes.extend(
                clear_in_tx(
                    self.writer, uow, "device_offline", sig.button_id, sig.received_at, "device heard"
                )
            )
        return changes

    def _receipt_again(self, uow: UnitOfWork, sig: PanicSignal) -> list[Change]:
        """A press sent again means its pole heard no receipt (the firmware contract, docs/mqtt/BUTTONS.md):
        the receipt again, for the button's SOS incident (open, or else its latest)."""
        if sig.kind is not SignalKind.PRESS:
            return []
        incident = self.writer.active(uow, sos_key(sig.button_id)) or self._latest_sos(uow, sig.button_id)
        if incident is None:
            return []
        now = self.clock()
        rows = self.routing.receipt_rows(incident.public(now), sig.seq, sig.boot, now)
        return [Change(incident, "receipt", uow.add_outbox(rows))]

    def _latest_sos(self, uow: UnitOfWork, button_id: str) -> Incident | None:
        uow.flush()
        row = (
            uow.conn.execute(
                select(incidents)
                .where(
                    incidents.c.source_kind == "button",
                    incidents.c.source_id == button_id,
                    incidents.c.category == "sos",
                )
                .order_by(incidents.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        return None if row is None else Incident.from_row(by_name(row))

    def _note_cancel(self, uow: UnitOfWork, sig: PanicSignal) -> Change | None:
        """A cancel from the button goes on the timeline; only an operator closes the incident."""
        current = self.writer.active(uow, sos_key(sig.button_id))
        if current is None:
            return None
        return self.writer.update(
            uow,
            current,
            "button_cancel",
            f"button {sig.button_id}",
            f"cancel pressed (seq={sig.seq})",
            values={},
            now=sig.received_at,
            source_ts=sig.device_ts,
            data={"code": "cancel_pressed", "seq": sig.seq},
        )

    # ----- generic conditions (devices, cameras, system) -------------------------------------------------
    def raise_condition(self, trigger: Trigger) -> Change | None:
        """Open or update an incident for a condition; an event id seen before is ignored."""
        change = self.writer.with_retry(lambda uow: raise_in_tx(self.writer, uow, trigger))
        if change is not None:
            self._publish([change])
        return change

    def observe_condition(self, trigger: Trigger, *, cleared: bool = False) -> Change | None:
        """A camera rule's observation, like raise_condition, plus the two things a retrigger does not say:
        a confirmation raises the incident's certainty (Likely → Observed, action ``confirmed``: dispatch
        endpoints that wait for confirmed incidents get it as ``incident.created``), and ``cleared`` (smoke
        gone, crowd below its clear level) goes on the open incident's timeline without closing it or
        opening one. None for a repeated event id, or a clearing with no incident open."""
        change = self.writer.with_retry(lambda uow: observe_in_tx(self.writer, uow, trigger, cleared))
        if change is not None:
            self._publish([change])
        return change

    def clear_condition(
        self, category_name: str, source_id: str, note: str, now: float | None = None
    ) -> list[Change]:
        """Close a system condition (device back, video back) that was opened automatically."""
        at = self.clock() if now is None else now
        changes = self.writer.with_retry(
            lambda uow: clear_in_tx(self.writer, uow, category_name, source_id, at, note)
        )
        self._publish(changes)
        return changes

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
        silence_s: float | None = None,
        allows: Callable[[str, str], bool] | None = None,
    ) -> Incident:
        """Apply an operator action. InvalidTransition when the state machine forbids it, ActionRefused
        (with a code) for a merge that would go wrong or a silence out of range."""
        req = ActionRequest(
            incident_id, action, actor, note, assignee, disposition, evaluation, merged_into, expected_version
        )
        now = self.clock()
        ctx = ActionContext(self.silences, silence_s, allows)
        with self.writer.tx() as uow:
            changes = act_in_tx(self.writer, uow, req, ctx, now)
        self._publish(changes)
        return changes[0].incident

    def run_tx(self, body: Callable[[IncidentWriter, UnitOfWork, float], list[Change]]) -> list[Change]:
        """Run a change written elsewhere (alarms/field_actions.py) in one transaction; listeners hear it
        after commit like any action."""
        now = self.clock()
        with self.writer.tx() as uow:
            changes = body(self.writer, uow, now)
        self._publish(changes)
        return changes

    def lift_silence(self, silence_id: int, actor: str, allows: Callable[[str, str], bool]) -> Change:
        """End a false alarm's silence early: SilenceNotFound, SilenceEnded."""
        now = self.clock()
        with self.writer.tx() as uow:
            change = lift(self.writer, uow, silence_id, actor, allows, now)
        self._publish([change])
        return change

    # ----- deadlines -------------------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> list[Change]:
        """Raise the escalation level of every unacknowledged incident past its deadline."""
        at = self.clock() if now is None else now
        with self.writer.tx() as uow:
            changes = escalate_overdue(self.writer, uow, at)
            changes.extend(field_overdue(self.writer, uow, at))  # people sent who missed accept/arrival
            changes.extend(expire_due(self.writer, uow, at))  # silences over: the cameras re-arm
        self._publish(changes)
        return changes

    # ----- delivery feedback -----------------------------------------------------------------------------
    def dispatch_failed(self, incident_id: int | None, endpoint: str, error: str) -> list[Change]:
        """A dead letter is an alarm: the incident shows "dispatch not reached" and operators get a
        priority-1 dispatch_failure incident for the endpoint (one while it stays open)."""
        if incident_id is None:
            return []
        now = self.clock()
        with self.writer.tx() as uow:
            changes = dispatch_failed_in_tx(
                self.writer, uow, self.directory, incident_id, endpoint, error, now
            )
        self._publish(changes)
        return changes

    def mark_delivered(self, conn: Connection, incident_ids: set[int]) -> Callable[[], None]:
        """The delivery worker reached dispatch for these incidents (inside its own transaction). Operators'
        pages hear "delivered" once that transaction committed, so a page that reloads the incident then
        reads the delivery as landed (no version bump: the worker's column, as above)."""
        mark_delivered_sql(conn, incident_ids)
        self.writer.delivered(incident_ids)
        rows = conn.execute(select(incidents).where(incidents.c.id.in_(incident_ids))).mappings()
        changes = [Change(Incident.from_row(by_name(r)), "delivered") for r in rows]
        return lambda: self._publish(changes)

    def announce_delivered(self, incident_ids: set[int]) -> None:
        """Another process (the local runtime's sender, `delivery.sender: own_process`) recorded these as
        delivered and committed: cached copies follow, and pages hear it as from :meth:`mark_delivered`."""
        self.writer.delivered(incident_ids)
        with self.store.read() as conn:
            rows = conn.execute(select(incidents).where(incidents.c.id.in_(incident_ids))).mappings()
            changes = [Change(Incident.from_row(by_name(r)), "delivered") for r in rows]
        self._publish(changes)

    # ----- housekeeping ----------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Fill the cache of active incidents from the database after a restart."""
        with self.store.write() as conn:
            self.writer.reload(conn)

    def prune_seen(self, now: float | None = None) -> int:
        """Forget event ids older than the dedup window (a redelivery after that would count again)."""
        at = self.clock() if now is None else now
        with self.store.write() as conn:
            result = conn.execute(
                seen_events.delete().where(seen_events.c.received_at < at - self.dedup_window_s)
            )
            return result.rowcount
