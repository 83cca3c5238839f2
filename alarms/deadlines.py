"""Deadlines: an incident nobody acknowledged in time is escalated one level per missed interval, so a
missed press reaches someone with more authority instead of waiting on a screen."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from alarms.incident_writer import Change, IncidentWriter
from alarms.incidents import Incident
from alarms.lifecycle import ESCALATION_LEVELS, State, escalation_level_due
from alarms.storage.rows import by_name
from alarms.storage.schema import incidents
from alarms.storage.unit_of_work import UnitOfWork


def escalate_overdue(w: IncidentWriter, uow: UnitOfWork, now: float) -> list[Change]:
    """Raise the escalation level of every unacknowledged incident past its acknowledge deadline."""
    rows = uow.conn.execute(
        select(incidents).where(
            incidents.c.state == State.REPORTED.value,
            incidents.c.ack_deadline <= now,
            incidents.c.escalation_level < len(ESCALATION_LEVELS) - 1,
        )
    ).mappings()
    changes: list[Change] = []
    for row in list(rows):
        current = Incident.from_row(by_name(row))
        every = w.sla.escalate_every_s or w.sla.for_category(current.category).acknowledge_s
        level = escalation_level_due(current.ack_deadline, every, now)
        if level <= current.escalation_level:
            continue
        note = f"acknowledge deadline missed: escalated to {ESCALATION_LEVELS[level]}"
        data = {"code": "ack_missed_escalated", "level": ESCALATION_LEVELS[level]}
        changes.append(escalate_to(w, uow, current, level, note, data, now))
    return changes


def escalate_to(
    w: IncidentWriter,
    uow: UnitOfWork,
    current: Incident,
    level: int,
    note: str,
    data: dict[str, Any],
    now: float,
) -> Change:
    """One escalation step on the timeline (by "system"), counted by the level it reached."""
    change = w.update(
        uow, current, "escalate", "system", note, values={"escalation_level": level}, now=now, data=data
    )
    w.metrics.escalations.labels(ESCALATION_LEVELS[level]).inc()
    return change
