"""The field loop's actions (issue 15): dispatch to named people, reassign, 督办, the worker's accept, arrive,
note and resolve, the operator's review (close or return) and the 回访 callback. Each runs inside the
engine's transaction, so the incident, its timeline, the assignments and the notices (outbox rows, see
alarms/field_notices.py) commit together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from alarms.field_config import FieldConfig
from alarms.field_notices import notice_rows
from alarms.incident_writer import Change, IncidentWriter
from alarms.incidents import Incident
from alarms.lifecycle import State
from alarms.operator_actions import ActionRequest, apply_action
from alarms.refusals import ActionRefused
from alarms.storage.schema import assignments
from alarms.storage.unit_of_work import UnitOfWork

SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")
WORKING = (State.DISPATCHED.value, State.IN_PROGRESS.value)


@dataclass(frozen=True, slots=True)
class Target:
    """A person or unit to send, with what a notice needs to reach them."""

    kind: str  # person | unit
    id: str
    name: str
    phone: str | None = None
    channels: tuple[str, ...] = ("gateway",)


@dataclass(frozen=True, slots=True)
class FieldContext:
    config: FieldConfig
    timezone: str


def _refuse(code: str, message: str, **params: Any) -> ActionRefused:
    return ActionRefused(code, message, **params)


def _active(uow: UnitOfWork, incident_id: int) -> list[dict[str, Any]]:
    rows = uow.conn.execute(
        select(assignments)
        .where(assignments.c.incident_id == incident_id, assignments.c.status != "withdrawn")
        .order_by(assignments.c.lead.desc(), assignments.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def _notify(
    w: IncidentWriter,
    uow: UnitOfWork,
    ctx: FieldContext,
    change: Change,
    targets: Sequence[Target],
    notice: str,
    now: float,
    deadlines: tuple[float, float] | None = None,
) -> Change:
    rows: list[dict[str, Any]] = []
    for t in targets:
        rows.extend(
            notice_rows(
                ctx.config, ctx.timezone, w.routing.prefix, change.incident, t, notice, now, deadlines
            )
        )
    items = uow.add_outbox(rows)
    return Change(change.incident, change.action, [*change.outbox, *items], change.view) if rows else change


def _targets_of(rows: Sequence[dict[str, Any]], people_by_id: dict[str, Target]) -> list[Target]:
    return [people_by_id.get(r["target_id"]) or Target(r["kind"], r["target_id"], r["name"]) for r in rows]


def dispatch(
    w: IncidentWriter,
    uow: UnitOfWork,
    ctx: FieldContext,
    incident_id: int,
    actor: str,
    lead: Target,
    helpers: Sequence[Target],
    note: str | None,
    now: float,
) -> list[Change]:
    """Send a lead and helpers: an unacknowledged incident is acknowledged on the way; one already out is
    reassigned instead."""
    current = w.load(uow, incident_id)
    if current.state in WORKING:
        return reassign(w, uow, ctx, incident_id, actor, lead, helpers, note, now)
    changes: list[Change] = []
    if current.state == State.REPORTED.value:
        changes.append(apply_action(w, uow, ActionRequest(incident_id, "acknowledge", actor), now))
    names = " · ".join(t.name for t in (lead, *helpers))
    req = ActionRequest(incident_id, "dispatch", actor, (note or "").strip() or names, assignee=lead.name)
    change = apply_action(w, uow, req, now)
    deadlines = _assign(uow, ctx, change.incident, actor, lead, helpers, now)
    changes.append(_notify(w, uow, ctx, change, (lead, *helpers), "dispatch", now, deadlines))
    return changes


def _assign(
    uow: UnitOfWork,
    ctx: FieldContext,
    inc: Incident,
    actor: str,
    lead: Target,
    helpers: Sequence[Target],
    now: float,
) -> tuple[float, float]:
    ids = [lead.id, *(h.id for h in helpers)]
    if len(set(ids)) != len(ids):
        raise _refuse("field_duplicate_person", "a person is listed twice")
    limits = ctx.config.for_category(inc.category)
    accept_by, arrive_by = now + limits.accept_s, now + limits.arrive_s
    rows = [
        {
            "incident_id": inc.id,
            "kind": t.kind,
            "target_id": t.id,
            "name": t.name,
            "lead": t is lead,
            "status": "assigned",
            "assigned_by": actor,
            "assigned_at": now,
            "accept_deadline": accept_by,
            "arrive_deadline": arrive_by,
        }
        for t in (lead, *helpers)
    ]
    uow.conn.execute(insert(assignments), rows)
    return accept_by, arrive_by


def reassign(
    w: IncidentWriter,
    uow: UnitOfWork,
    ctx: FieldContext,
    incident_id: int,
    actor: str,
    lead: Target,
    helpers: Sequence[Target],
    note: str | None,
    now: float,
) -> list[Change]:
    current = w.load(uow, incident_id)
    if current.state not in WORKING:
        raise _refuse(
            "field_not_working", "only an incident out in the field can be reassigned", state=current.state
        )
    uow.conn.execute(
        update(assignments)
        .where(assignments.c.incident_id == incident_id, assignments.c.status != "withdrawn")
        .values(status="withdrawn")
    )
    data = {"code": "field_reassigned", "lead": lead.name, "helpers": [h.name for h in helpers]}
    values = {"assignee": lead.name, "state": State.DISPATCHED.value}
    change = w.update(uow, current, "reassign", actor, note, values=values, now=now, data=data)
    deadlines = _assign(uow, ctx, change.incident, actor, lead, helpers, now)
    return [_notify(w, uow, ctx, change, (lead, *helpers), "dispatch", now, deadlines)]


def urge(
    w: IncidentWriter,
    uow: UnitOfWork,
    ctx: FieldContext,
    incident_id: int,
    actor: str,
    note: str | None,
    people_by_id: dict[str, Target],
    now: float,
) -> list[Change]:
    """督办: a supervisor's urge with a note, on the timeline and told again to everyone sent."""
    if not (note and note.strip()):
        raise _refuse("field_note_required", "督办 needs a note")
    current = w.load(uow, incident_id)
    if current.state not in WORKING:
        raise _refuse(
            "field_not_working", "only an incident out in the field can be urged", state=current.state
        )
    change = w.update(uow, current, "urge", actor, note, values={}, now=now, data={"code": "field_urged"})
    targets = _targets_of(_active(uow, incident_id), people_by_id)
    return [_notify(w, uow, ctx, change, targets, "urge", now)]


def _mine(uow: UnitOfWork, incident_id: int, person_id: str) -> dict[str, Any]:
    for row in _active(uow, incident_id):
        if row["kind"] == "person" and row["target_id"] == person_id:
            return row
    raise _refuse("field_not_assigned", "you are not sent to this incident")


def accept(
    w: IncidentWriter, uow: UnitOfWork, incident_id: int, actor: str, person_id: str, now: float
) -> list[Change]:
    """接单: the first acceptance starts the work (dispatched → in progress)."""
    current = w.load(uow, incident_id)
    mine = _mine(uow, incident_id, person_id)
    if current.state not in WORKING or mine["status"] != "assigned":
        raise _refuse("field_already_accepted", "already accepted", state=current.state)
    uow.conn.execute(
        update(assignments).where(assignments.c.id == mine["id"]).values(status="accepted", accepted_at=now)
    )
    values: dict[str, Any] = {}
    if current.state == State.DISPATCHED.value:
        values = {"state": State.IN_PROGRESS.value, "started_at": now}
    data = {"code": "field_accepted", "person": mine["name"]}
    return [w.update(uow, current, "accept", actor, None, values=values, now=now, data=data)]


def arrive(
    w: IncidentWriter,
    uow: UnitOfWork,
    incident_id: int,
    actor: str,
    person_id: str,
    location: dict[str, float] | None,
    now: float,
) -> list[Change]:
    """到场, with the phone's position when the worker allowed it."""
    current = w.load(uow, incident_id)
    mine = _mine(uow, incident_id, person_id)
    if current.state not in WORKING or mine["status"] == "arrived":
        raise _refuse("field_already_arrived", "already arrived", state=current.state)
    uow.conn.execute(
        update(assignments)
        .where(assignments.c.id == mine["id"])
        .values(status="arrived", arrived_at=now, accepted_at=mine["accepted_at"] or now, location=location)
    )
    values: dict[str, Any] = {}
    if current.state == State.DISPATCHED.value:
        values = {"state": State.IN_PROGRESS.value, "started_at": now}
    data = {"code": "field_arrived", "person": mine["name"], "location": location}
    return [w.update(uow, current, "arrive", actor, None, values=values, now=now, data=data)]


def _with_photos(current: Incident, photos: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Photos go into the evidence, so the webhook body links them."""
    if not photos:
        return {}
    known = list(current.evidence.get("photos", []))
    return {"evidence": {**current.evidence, "photos": [*known, *photos]}}


def note(
    w: IncidentWriter,
    uow: UnitOfWork,
    incident_id: int,
    actor: str,
    person_id: str | None,
    text: str | None,
    photos: Sequence[dict[str, Any]],
    now: float,
) -> list[Change]:
    """A progress note (跟进记录) from the field, with photos."""
    if not (text and text.strip()) and not photos:
        raise _refuse("field_note_required", "a note or a photo is needed")
    current = w.load(uow, incident_id)
    if person_id is not None:
        _mine(uow, incident_id, person_id)
    data = {"code": "field_progress", "photos": [p["id"] for p in photos]}
    return [
        w.update(
            uow, current, "follow_up", actor, text, values=_with_photos(current, photos), now=now, data=data
        )
    ]


def resolve(
    w: IncidentWriter,
    uow: UnitOfWork,
    incident_id: int,
    actor: str,
    person_id: str,
    result: str,
    text: str | None,
    photos: Sequence[dict[str, Any]],
    now: float,
) -> list[Change]:
    """办结 from the field: the result, a note and photos; the operator reviews it next."""
    if not (text and text.strip()):
        raise _refuse("field_note_required", "办结 needs a note")
    current = w.load(uow, incident_id)
    _mine(uow, incident_id, person_id)
    if current.state not in WORKING:
        raise _refuse("field_not_working", "not out in the field", state=current.state)
    values = {
        "state": State.RESOLVED.value,
        "resolved_at": now,
        "resolution_note": text,
        "disposition": result,
        **_with_photos(current, photos),
    }
    data = {"code": "field_resolved", "result": result, "photos": [p["id"] for p in photos]}
    return [w.update(uow, current, "resolve", actor, text, values=values, now=now, data=data)]


def review(
    w: IncidentWriter,
    uow: UnitOfWork,
    ctx: FieldContext,
    incident_id: int,
    actor: str,
    decision: str,
    reason: str | None,
    people_by_id: dict[str, Target],
    now: float,
) -> list[Change]:
    """审核: close a resolved incident, or return it to the worker with a reason."""
    current = w.load(uow, incident_id)
    if current.state != State.RESOLVED.value:
        raise _refuse("field_not_resolved", "only a resolved incident is reviewed", state=current.state)
    if decision == "close":
        return [apply_action(w, uow, ActionRequest(incident_id, "close", actor, reason), now)]
    if not (reason and reason.strip()):
        raise _refuse("field_note_required", "returning needs a reason")
    values = {"state": State.IN_PROGRESS.value, "resolved_at": None}
    change = w.update(
        uow, current, "return", actor, reason, values=values, now=now, data={"code": "field_returned"}
    )
    targets = _targets_of(_active(uow, incident_id), people_by_id)
    return [_notify(w, uow, ctx, change, targets, "returned", now)]


def callback(
    w: IncidentWriter,
    uow: UnitOfWork,
    ctx: FieldContext,
    incident_id: int,
    actor: str,
    satisfaction: str,
    text: str | None,
    reopen: bool,
    people_by_id: dict[str, Target],
    now: float,
) -> list[Change]:
    """回访 after closing: 满意 / 基本满意 / 不满意 with a note; 不满意 may reopen it for the field."""
    if satisfaction not in SATISFACTION:
        raise _refuse("field_bad_satisfaction", f"satisfaction must be one of {SATISFACTION}")
    current = w.load(uow, incident_id)
    if current.state != State.CLOSED.value:
        raise _refuse("field_not_closed", "a callback follows closing", state=current.state)
    previous = list((current.evaluation or {}).get("callbacks", []))
    entry = {"satisfaction": satisfaction, "note": text, "by": actor, "at": now}
    evaluation = {"satisfaction": satisfaction, "note": text, "callbacks": [*previous, entry]}
    data = {"code": "field_callback", "satisfaction": satisfaction}
    if satisfaction == "unsatisfied" and reopen:
        values: dict[str, Any] = {
            "state": State.IN_PROGRESS.value,
            "closed_at": None,
            "resolved_at": None,
            "evaluation": evaluation,
        }
        change = w.update(uow, current, "reopen", actor, text, values=values, now=now, data=data)
        targets = _targets_of(_active(uow, incident_id), people_by_id)
        return [_notify(w, uow, ctx, change, targets, "reopened", now)]
    values = {"state": State.EVALUATED.value, "evaluated_at": now, "evaluation": evaluation}
    return [w.update(uow, current, "evaluate", actor, text, values=values, now=now, data=data)]
