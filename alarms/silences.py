"""A false alarm silences, it does not blind: cancelling a camera incident as a false alarm silences that
camera and category until an expiry (or until an operator lifts it). While silenced, a sighting opens
nothing; when the silence ends the camera's rules are re-armed (video side), so a condition that is still
there opens a new incident, linked to the cancelled one and saying so. Buttons are never silenced."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, insert, select, update

from alarms.incident_writer import Change, IncidentWriter
from alarms.incidents import Incident
from alarms.silence_config import SilenceConfig
from alarms.storage.rows import by_name
from alarms.storage.schema import silences
from alarms.storage.unit_of_work import UnitOfWork
from alarms.triggers import Trigger

ENDED_ACTIONS = {"expired": "silence_expired", "lifted": "silence_lifted"}


class SilenceNotFound(LookupError):
    """No such silence, or not in the caller's scope (answered alike)."""


class SilenceEnded(ValueError):
    """The silence has already expired or been lifted."""


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    camera_id: str
    category: str
    rule: str | None
    incident_id: int
    grid_id: str
    street_id: str
    created_by: str
    reason: str | None
    created_at: float
    until: float
    ended_at: float | None
    ended_by: str | None
    end_reason: str | None
    suppressed: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Silence:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


def active_silence(conn: Connection, camera_id: str, category: str, now: float) -> Silence | None:
    row = (
        conn.execute(
            select(silences)
            .where(
                silences.c.camera_id == camera_id,
                silences.c.category == category,
                silences.c.ended_at.is_(None),
                silences.c.until > now,
            )
            .order_by(silences.c.until.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else Silence.from_row(by_name(row))


def get_silence(conn: Connection, silence_id: int) -> Silence | None:
    row = conn.execute(select(silences).where(silences.c.id == silence_id)).mappings().first()
    return None if row is None else Silence.from_row(by_name(row))


def list_silences(
    conn: Connection, *, active: bool = True, camera_id: str | None = None, limit: int = 200
) -> list[Silence]:
    q = select(silences).order_by(silences.c.id.desc()).limit(limit)
    if active:
        q = q.where(silences.c.ended_at.is_(None))
    if camera_id is not None:
        q = q.where(silences.c.camera_id == camera_id)
    return [Silence.from_row(by_name(r)) for r in conn.execute(q).mappings()]


def silence_after_cancel(
    w: IncidentWriter,
    uow: UnitOfWork,
    cancelled: Incident,
    config: SilenceConfig,
    chosen_s: float | None,
    actor: str,
    reason: str | None,
    now: float,
) -> Silence | None:
    """The silence a camera incident cancelled as a false alarm starts; None for anything else. Raises
    ValueError for a duration outside the category's range (the caller turns it into a 422)."""
    if cancelled.source_kind != "camera" or cancelled.disposition != "false_alarm":
        return None
    duration = config.duration(cancelled.category, chosen_s)
    if duration is None:
        return None
    # A new false alarm replaces a silence still running on the same camera and category.
    uow.conn.execute(
        update(silences)
        .where(
            silences.c.camera_id == cancelled.source_id,
            silences.c.category == cancelled.category,
            silences.c.ended_at.is_(None),
        )
        .values(ended_at=now, ended_by=actor, end_reason="replaced")
    )
    values = {
        "camera_id": cancelled.source_id,
        "category": cancelled.category,
        "rule": (cancelled.evidence or {}).get("rule"),
        "incident_id": cancelled.id,
        "grid_id": cancelled.grid_id,
        "street_id": cancelled.street_id,
        "created_by": actor,
        "reason": reason,
        "created_at": now,
        "until": now + duration,
        "suppressed": 0,
    }
    new_id = uow.conn.execute(insert(silences).values(**values).returning(silences.c.id)).scalar_one()
    silence = Silence.from_row(
        {**values, "id": new_id, "ended_at": None, "ended_by": None, "end_reason": None}
    )
    minutes = f"{duration / 60:.1f}".removesuffix(".0")
    data = {
        "code": "silenced",
        "silence_id": new_id,
        "until": silence.until,
        "duration_s": duration,
        "minutes": minutes,
    }
    _timeline(uow, cancelled, "silenced", actor, None, now, data)
    return silence


def suppressed_by_silence(uow: UnitOfWork, trigger: Trigger) -> bool:
    """A camera sighting while its camera and category are silenced opens nothing (only counted)."""
    if trigger.source_kind != "camera":
        return False
    found = active_silence(uow.conn, trigger.source_id, trigger.category, trigger.ts)
    if found is None:
        return False
    uow.conn.execute(
        update(silences).where(silences.c.id == found.id).values(suppressed=silences.c.suppressed + 1)
    )
    return True


def note_reraise(w: IncidentWriter, uow: UnitOfWork, change: Change) -> None:
    """A new camera incident right after a silence ended says why it opened: the cancelled incident's
    silence is over and the condition is still there."""
    inc = change.incident
    if change.action != "created" or inc.source_kind != "camera" or inc.linked_incident_id is None:
        return
    row = (
        uow.conn.execute(
            select(silences)
            .where(silences.c.incident_id == inc.linked_incident_id, silences.c.ended_at.is_not(None))
            .order_by(silences.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        return
    ended = Silence.from_row(by_name(row))
    data = {
        "code": "reraised",
        "linked_incident_id": ended.incident_id,
        "silence_id": ended.id,
        "end_reason": ended.end_reason,
    }
    note = f"silence after false alarm #{ended.incident_id} {ended.end_reason}; condition still present"
    _timeline(uow, inc, "reraised", "system", note, inc.created_at, data)


def end_silence(
    w: IncidentWriter, uow: UnitOfWork, silence: Silence, how: str, actor: str, now: float
) -> Change | None:
    """Mark it ended (expired or lifted) and put it on the cancelled incident's timeline; None when another
    process ended it first."""
    done = uow.conn.execute(
        update(silences)
        .where(silences.c.id == silence.id, silences.c.ended_at.is_(None))
        .values(ended_at=now, ended_by=actor, end_reason=how)
    )
    if done.rowcount == 0:
        return None
    incident = w.load(uow, silence.incident_id)
    action = ENDED_ACTIONS[how]
    data = {
        "code": action,
        "silence_id": silence.id,
        "camera_id": silence.camera_id,
        "category": silence.category,
    }
    _timeline(uow, incident, action, actor, None, now, data)
    return Change(incident, action)


def expire_due(w: IncidentWriter, uow: UnitOfWork, now: float) -> list[Change]:
    rows = uow.conn.execute(
        select(silences).where(silences.c.ended_at.is_(None), silences.c.until <= now)
    ).mappings()
    due = [Silence.from_row(by_name(r)) for r in rows]
    changes = [end_silence(w, uow, s, "expired", "system", now) for s in due]
    return [c for c in changes if c is not None]


def lift(
    w: IncidentWriter,
    uow: UnitOfWork,
    silence_id: int,
    actor: str,
    allows: Callable[[str, str], bool],
    now: float,
) -> Change:
    """An operator ends a silence early: the camera's rules are re-armed at once."""
    row = uow.conn.execute(select(silences).where(silences.c.id == silence_id)).mappings().first()
    if row is None or not allows(row["street_id"], row["grid_id"]):
        raise SilenceNotFound(silence_id)
    silence = Silence.from_row(by_name(row))
    change = None if silence.ended_at is not None else end_silence(w, uow, silence, "lifted", actor, now)
    if change is None:
        raise SilenceEnded(silence_id)
    return change


def _timeline(
    uow: UnitOfWork,
    inc: Incident,
    action: str,
    actor: str,
    note: str | None,
    now: float,
    data: dict[str, Any],
) -> None:
    """A timeline entry that changes no state and no version (nothing is sent to dispatch)."""
    uow.add_timeline(
        {
            "incident_id": inc.id,
            "ts": now,
            "actor": actor,
            "action": action,
            "from_state": inc.state,
            "to_state": inc.state,
            "note": note,
            "version": inc.version,
            "data": data,
        }
    )
