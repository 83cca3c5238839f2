"""Accept and arrival deadlines of the people sent: a missed one escalates the incident one level, like a
missed acknowledge deadline (alarms/deadlines.py), on the timeline and in the webhook (incident.escalated)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select, update

from alarms.deadlines import escalate_to
from alarms.incident_writer import Change, IncidentWriter
from alarms.lifecycle import ESCALATION_LEVELS, State
from alarms.storage.schema import assignments
from alarms.storage.unit_of_work import UnitOfWork

_OUT = (State.DISPATCHED.value, State.IN_PROGRESS.value)


def field_overdue(w: IncidentWriter, uow: UnitOfWork, now: float) -> list[Change]:
    """Each person who has not accepted (or arrived) by their deadline escalates their incident once."""
    missed_accept = and_(
        assignments.c.status == "assigned",
        assignments.c.accept_deadline <= now,
        assignments.c.missed.is_(None),
    )
    missed_arrive = and_(
        assignments.c.status.in_(("assigned", "accepted")),
        assignments.c.arrive_deadline <= now,
        or_(assignments.c.missed.is_(None), assignments.c.missed == "accept"),
    )
    rows = uow.conn.execute(
        select(assignments).where(assignments.c.kind == "person", or_(missed_accept, missed_arrive))
    ).mappings()
    by_incident: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        r = dict(row)
        by_incident.setdefault(r["incident_id"], []).append(r)
    changes: list[Change] = []
    for incident_id, missed in sorted(by_incident.items()):
        current = w.load(uow, incident_id)
        kinds = []
        for r in missed:
            kind = "arrive" if r["arrive_deadline"] <= now else "accept"
            kinds.append((kind, r["name"]))
            uow.conn.execute(update(assignments).where(assignments.c.id == r["id"]).values(missed=kind))
        if current.state not in _OUT:
            continue
        level = min(len(ESCALATION_LEVELS) - 1, current.escalation_level + 1)
        kind = "arrive" if any(k == "arrive" for k, _ in kinds) else "accept"
        people = [n for _, n in kinds]
        note = f"{kind} deadline missed by {', '.join(people)}: escalated to {ESCALATION_LEVELS[level]}"
        data = {"code": f"{kind}_missed_escalated", "level": ESCALATION_LEVELS[level], "people": people}
        changes.append(escalate_to(w, uow, current, level, note, data, now))
    return changes
