"""What a condition at a source does to its incident, inside one transaction: raise it, observe it (a
confirmation, or a clearing that only goes on the timeline), clear a system condition, and a dead letter's
"dispatch not reached". Buttons, cameras, devices and the system all come here as triggers."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update

from alarms.categories import SYSTEM_CATEGORIES, certainty_rank
from alarms.grids import GridDirectory
from alarms.incident_writer import Change, IncidentWriter
from alarms.lifecycle import State
from alarms.silences import note_reraise, suppressed_by_silence
from alarms.storage.schema import incidents
from alarms.storage.unit_of_work import UnitOfWork
from alarms.triggers import Trigger

log = logging.getLogger(__name__)


def raise_in_tx(w: IncidentWriter, uow: UnitOfWork, trigger: Trigger) -> Change | None:
    """Open or update the condition's incident; None for an event id seen before."""
    if w.seen_before(uow, trigger):
        return None
    return w.open_or_update(uow, trigger)


def observe_in_tx(w: IncidentWriter, uow: UnitOfWork, trigger: Trigger, cleared: bool) -> Change | None:
    """A camera rule's observation: a surer certainty is a ``confirmed`` change, ``cleared`` only a timeline
    entry on the open incident. None for a repeated event id, or a clearing with no incident open."""
    current = w.active(uow, f"{trigger.category}:{trigger.source_id}")
    if cleared and current is None:
        return None
    if current is None and suppressed_by_silence(uow, trigger):
        return None  # a false alarm's silence on this camera and category: counted, nothing opens
    if w.seen_before(uow, trigger):
        return None
    if current is None:
        change = w.open_or_update(uow, trigger)
        note_reraise(w, uow, change)
        return change
    values: dict[str, Any] = {"evidence": {**current.evidence, **trigger.evidence}}
    action = "cleared"
    if not cleared:
        values |= {"trigger_count": current.trigger_count + 1, "last_trigger_at": trigger.ts}
        surer = certainty_rank(trigger.certainty) > certainty_rank(current.certainty)
        action = "confirmed" if surer else "retrigger"
        if surer:
            values["certainty"] = trigger.certainty
    return w.update(
        uow, current, action, trigger.source_id, trigger.note, values, trigger.ts, trigger.source_ts
    )


def clear_in_tx(
    w: IncidentWriter, uow: UnitOfWork, category_name: str, source_id: str, now: float, note: str
) -> list[Change]:
    """Close a system condition's open incident, unless a newer raise of it came first."""
    if category_name not in SYSTEM_CATEGORIES:
        return []
    current = w.active(uow, f"{category_name}:{source_id}")
    if current is None:
        return []
    # Episode guard: with several engine processes a clear can be applied after a newer raise of the
    # same condition (video lost again); a clear older than the open incident's last trigger is stale.
    last = max(current.created_at, current.last_trigger_at)
    if now < last:
        w.metrics.stale_clears.labels(category_name).inc()
        log.debug(
            "stale clear of %s ignored: cleared at %.3f, incident %s last triggered at %.3f",
            current.open_key,
            now,
            current.id,
            last,
        )
        return []
    values: dict[str, Any] = {"state": State.CLOSED.value, "closed_at": now, "open_key": None}
    if current.resolved_at is None:
        values["resolved_at"] = now
    return [w.update(uow, current, "auto_close", "system", note, values=values, now=now)]


def dispatch_failed_in_tx(
    w: IncidentWriter,
    uow: UnitOfWork,
    directory: GridDirectory,
    incident_id: int,
    endpoint: str,
    error: str,
    now: float,
) -> list[Change]:
    """The incident shows "dispatch not reached" (no version bump: the worker's column) and the endpoint
    gets a dispatch_failure incident of its own."""
    note = f"dispatch not reached: {endpoint}: {error}"
    uow.conn.execute(
        update(incidents).where(incidents.c.id == incident_id).values(dispatch_status="not_reached")
    )
    current = w.load(uow, incident_id)
    if current.open_key is not None:
        w.remember(uow.conn, current)
    data = {"code": "dispatch_not_reached", "endpoint": endpoint, "error": error}
    w.timeline(uow, current, "dispatch_not_reached", "system", note, None, now, data)
    placement = directory.grid_placement(current.grid_id)
    trigger = Trigger(
        "dispatch_failure",
        "system",
        endpoint,
        placement,
        now,
        note,
        evidence={"endpoint": endpoint, "error": error, "incident_id": incident_id},
    )
    return [Change(current, "dispatch_not_reached"), w.open_or_update(uow, trigger)]
