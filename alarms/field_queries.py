"""Read side of the field loop: who was sent to an incident, the photos taken there, the notices sent."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from alarms.field_notices import NOTICE_EVENT
from alarms.incidents import Incident
from alarms.lifecycle import State
from alarms.storage.rows import by_name
from alarms.storage.schema import assignments, field_photos, incidents, outbox, timeline

_OPEN = (
    State.REPORTED.value,
    State.ACKNOWLEDGED.value,
    State.DISPATCHED.value,
    State.IN_PROGRESS.value,
    State.RESOLVED.value,
)


def assignments_of(conn: Connection, incident_id: int, with_withdrawn: bool = False) -> list[dict[str, Any]]:
    stmt = select(assignments).where(assignments.c.incident_id == incident_id)
    if not with_withdrawn:
        stmt = stmt.where(assignments.c.status != "withdrawn")
    rows = conn.execute(stmt.order_by(assignments.c.lead.desc(), assignments.c.id)).mappings()
    return [dict(r) for r in rows]


def photos_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(field_photos).where(field_photos.c.incident_id == incident_id).order_by(field_photos.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def photo(conn: Connection, photo_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(field_photos).where(field_photos.c.id == photo_id)).mappings().first()
    return dict(row) if row else None


def notices_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """Each notice with the name of whom it was for (read from its payload: the gateway serves everyone)."""
    rows = conn.execute(
        select(outbox)
        .where(outbox.c.incident_id == incident_id, outbox.c.event_type == NOTICE_EVENT)
        .order_by(outbox.c.id)
    ).mappings()
    out = []
    for r in rows:
        to = json.loads(r["payload"])["data"]["to"]
        out.append(
            {
                **{k: r[k] for k in ("id", "channel", "status", "attempts", "last_error", "delivered_at")},
                "to": to["name"],
            }
        )
    return out


def tasks_for(conn: Connection, person_id: str) -> list[tuple[Incident, dict[str, Any]]]:
    """The person's live assignments with their incidents, newest first."""
    rows = conn.execute(
        select(assignments)
        .where(
            assignments.c.kind == "person",
            assignments.c.target_id == person_id,
            assignments.c.status != "withdrawn",
        )
        .order_by(assignments.c.id.desc())
    ).mappings()
    mine = {r["incident_id"]: dict(r) for r in rows}
    if not mine:
        return []
    found = conn.execute(select(incidents).where(incidents.c.id.in_(mine))).mappings()
    incs = {r["id"]: Incident.from_row(by_name(r)) for r in found}
    return [(incs[i], a) for i, a in mine.items() if i in incs]


def open_in_grids(conn: Connection, grids: list[str], limit: int = 50) -> list[Incident]:
    rows = conn.execute(
        select(incidents)
        .where(incidents.c.grid_id.in_(grids), incidents.c.state.in_(_OPEN))
        .order_by(incidents.c.id.desc())
        .limit(limit)
    ).mappings()
    return [Incident.from_row(by_name(r)) for r in rows]


_WORDS = ("return", "reopen", "urge")  # what the office says to the people out there
_STEPS = ("dispatch", "reassign", "resolve", *_WORDS)


def last_words(conn: Connection, incident_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The office's latest word to the field per incident (a return's reason, a reopening 回访, a 督办),
    unless the worker has resolved it since or it was sent again: the phone shows why the task came back."""
    if not incident_ids:
        return {}
    rows = conn.execute(
        select(timeline.c.incident_id, timeline.c.action, timeline.c.note, timeline.c.ts)
        .where(timeline.c.incident_id.in_(incident_ids), timeline.c.action.in_(_STEPS))
        .order_by(timeline.c.id)
    ).mappings()
    latest = {r["incident_id"]: dict(r) for r in rows}
    return {i: r for i, r in latest.items() if r["action"] in _WORDS}
