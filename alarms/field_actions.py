"""The field loop's actions (issue 15): dispatch to named people, reassign, 督办, the worker's accept, arrive,
note and resolve, the operator's review (close or return) and the 回访 callback. Each runs inside the
engine's transaction, so the incident, its timeline, the assignments and the notices (outbox rows, see
alarms/field_notices.py) commit together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from alarms.field_config import FieldConfig
from alarms.field_notices import notice_rows
from alarms.incident_writer import Change, IncidentWriter
from alarms.incidents import Incident
from alarms.lifecycle import State
from alarms.operator_actions import ActionRequest, apply_action
from alarms.refusals import ActionRefused
from alarms.roster import load_people, roster_units
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


@dataclass(frozen=True, slots=True)
class Step:
    """What every field action works with: the engine's writer and transaction, the field config, the
    incident, who acts and when (one object, so each action's own arguments stand out)."""

    w: IncidentWriter
    uow: UnitOfWork
    ctx: FieldContext
    incident_id: int
    actor: str
    now: float

    def load(self) -> Incident:
        return self.w.load(self.uow, self.incident_id)

    def update(
        self, current: Incident, action: str, note: str | None, values: dict[str, Any], data: dict[str, Any]
    ) -> Change:
        return self.w.update(
            self.uow, current, action, self.actor, note, values=values, now=self.now, data=data
        )

    def apply(self, action: str, note: str | None = None, assignee: str | None = None) -> Change:
        req = ActionRequest(self.incident_id, action, self.actor, note, assignee=assignee)
        return apply_action(self.w, self.uow, req, self.now)


def _refuse(code: str, message: str, **params: Any) -> ActionRefused:
    return ActionRefused(code, message, **params)


def sendable(conn: Connection) -> dict[str, Target]:
    """Everyone who can be sent, people by id and units by ``unit:<id>``."""
    out = {p.id: Target("person", p.id, p.name, p.phone, p.channels) for p in load_people(conn)}
    for entry in roster_units(conn):
        out[f"unit:{entry['id']}"] = Target("unit", entry["id"], entry["name"], entry["phone"])
    return out


def _active(s: Step) -> list[dict[str, Any]]:
    rows = s.uow.conn.execute(
        select(assignments)
        .where(assignments.c.incident_id == s.incident_id, assignments.c.status != "withdrawn")
        .order_by(assignments.c.lead.desc(), assignments.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def _notify(
    s: Step,
    change: Change,
    targets: Sequence[Target],
    notice: str,
    deadlines: tuple[float, float] | None = None,
) -> Change:
    prefix = s.w.routing.prefix
    rows: list[dict[str, Any]] = []
    for t in targets:
        rows.extend(
            notice_rows(s.ctx.config, s.ctx.timezone, prefix, change.incident, t, notice, s.now, deadlines)
        )
    items = s.uow.add_outbox(rows)
    return Change(change.incident, change.action, [*change.outbox, *items], change.view) if rows else change


def _notify_sent(s: Step, change: Change, notice: str) -> Change:
    """Tell everyone still sent to the incident (not those withdrawn by a reassignment)."""
    known = sendable(s.uow.conn)
    targets = [known.get(r["target_id"]) or Target(r["kind"], r["target_id"], r["name"]) for r in _active(s)]
    return _notify(s, change, targets, notice)


@dataclass(frozen=True, slots=True)
class Crew:
    """Who is sent: the lead, the helpers, and the operator's note (the names stand in for a missing one)."""

    lead: Target
    helpers: tuple[Target, ...] = ()
    note: str | None = None

    @property
    def everyone(self) -> tuple[Target, ...]:
        return (self.lead, *self.helpers)


def dispatch(s: Step, crew: Crew) -> list[Change]:
    """Send a lead and helpers: an unacknowledged incident is acknowledged on the way; one already out is
    reassigned instead."""
    current = s.load()
    if current.state in WORKING:
        return reassign(s, crew)
    changes: list[Change] = []
    if current.state == State.REPORTED.value:
        changes.append(s.apply("acknowledge"))
    names = " · ".join(t.name for t in crew.everyone)
    change = s.apply("dispatch", (crew.note or "").strip() or names, assignee=crew.lead.name)
    changes.append(_send(s, change, crew))
    return changes


def _send(s: Step, change: Change, crew: Crew) -> Change:
    """Assign the crew with their accept and arrive deadlines, and send each of them a dispatch notice."""
    ids = [t.id for t in crew.everyone]
    if len(set(ids)) != len(ids):
        raise _refuse("field_duplicate_person", "a person is listed twice")
    limits = s.ctx.config.for_category(change.incident.category)
    accept_by, arrive_by = s.now + limits.accept_s, s.now + limits.arrive_s
    rows = [
        {
            "incident_id": change.incident.id,
            "kind": t.kind,
            "target_id": t.id,
            "name": t.name,
            "lead": t is crew.lead,
            "status": "assigned",
            "assigned_by": s.actor,
            "assigned_at": s.now,
            "accept_deadline": accept_by,
            "arrive_deadline": arrive_by,
        }
        for t in crew.everyone
    ]
    s.uow.conn.execute(insert(assignments), rows)
    return _notify(s, change, crew.everyone, "dispatch", (accept_by, arrive_by))


def reassign(s: Step, crew: Crew) -> list[Change]:
    current = s.load()
    if current.state not in WORKING:
        raise _refuse(
            "field_not_working", "only an incident out in the field can be reassigned", state=current.state
        )
    s.uow.conn.execute(
        update(assignments)
        .where(assignments.c.incident_id == s.incident_id, assignments.c.status != "withdrawn")
        .values(status="withdrawn")
    )
    data = {"code": "field_reassigned", "lead": crew.lead.name, "helpers": [h.name for h in crew.helpers]}
    values = {"assignee": crew.lead.name, "state": State.DISPATCHED.value}
    return [_send(s, s.update(current, "reassign", crew.note, values, data), crew)]


def urge(s: Step, note: str | None) -> list[Change]:
    """督办: a supervisor's urge with a note, on the timeline and told again to everyone sent."""
    if not (note and note.strip()):
        raise _refuse("field_note_required", "督办 needs a note")
    current = s.load()
    if current.state not in WORKING:
        raise _refuse(
            "field_not_working", "only an incident out in the field can be urged", state=current.state
        )
    change = s.update(current, "urge", note, {}, {"code": "field_urged"})
    return [_notify_sent(s, change, "urge")]


def _mine(s: Step, person_id: str) -> dict[str, Any]:
    for row in _active(s):
        if row["kind"] == "person" and row["target_id"] == person_id:
            return row
    raise _refuse("field_not_assigned", "you are not sent to this incident")


def _started(current: Incident, now: float) -> dict[str, Any]:
    """The first accept or arrival starts the work (dispatched → in progress)."""
    if current.state == State.DISPATCHED.value:
        return {"state": State.IN_PROGRESS.value, "started_at": now}
    return {}


def accept(s: Step, person_id: str) -> list[Change]:
    """接单: the first acceptance starts the work (dispatched → in progress)."""
    current = s.load()
    mine = _mine(s, person_id)
    if current.state not in WORKING or mine["status"] != "assigned":
        raise _refuse("field_already_accepted", "already accepted", state=current.state)
    s.uow.conn.execute(
        update(assignments).where(assignments.c.id == mine["id"]).values(status="accepted", accepted_at=s.now)
    )
    data = {"code": "field_accepted", "person": mine["name"]}
    return [s.update(current, "accept", None, _started(current, s.now), data)]


def arrive(s: Step, person_id: str, location: dict[str, float] | None) -> list[Change]:
    """到场, with the phone's position when the worker allowed it."""
    current = s.load()
    mine = _mine(s, person_id)
    if current.state not in WORKING or mine["status"] == "arrived":
        raise _refuse("field_already_arrived", "already arrived", state=current.state)
    s.uow.conn.execute(
        update(assignments)
        .where(assignments.c.id == mine["id"])
        .values(
            status="arrived", arrived_at=s.now, accepted_at=mine["accepted_at"] or s.now, location=location
        )
    )
    data = {"code": "field_arrived", "person": mine["name"], "location": location}
    return [s.update(current, "arrive", None, _started(current, s.now), data)]


def _with_photos(current: Incident, photos: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Photos go into the evidence, so the webhook body links them."""
    if not photos:
        return {}
    known = list(current.evidence.get("photos", []))
    return {"evidence": {**current.evidence, "photos": [*known, *photos]}}


def note(s: Step, person_id: str | None, text: str | None, photos: Sequence[dict[str, Any]]) -> list[Change]:
    """A progress note (跟进记录) from the field, with photos."""
    if not (text and text.strip()) and not photos:
        raise _refuse("field_note_required", "a note or a photo is needed")
    current = s.load()
    if person_id is not None:
        _mine(s, person_id)
    data = {"code": "field_progress", "photos": [p["id"] for p in photos]}
    return [s.update(current, "follow_up", text, _with_photos(current, photos), data)]


def resolve(
    s: Step, person_id: str, result: str, text: str | None, photos: Sequence[dict[str, Any]]
) -> list[Change]:
    """办结 from the field: the result, a note and photos; the operator reviews it next."""
    if not (text and text.strip()):
        raise _refuse("field_note_required", "办结 needs a note")
    current = s.load()
    _mine(s, person_id)
    if current.state not in WORKING:
        raise _refuse("field_not_working", "not out in the field", state=current.state)
    values = {
        "state": State.RESOLVED.value,
        "resolved_at": s.now,
        "resolution_note": text,
        "disposition": result,
        **_with_photos(current, photos),
    }
    data = {"code": "field_resolved", "result": result, "photos": [p["id"] for p in photos]}
    return [s.update(current, "resolve", text, values, data)]


def review(s: Step, decision: str, reason: str | None) -> list[Change]:
    """审核: close a resolved incident, or return it to the worker with a reason."""
    current = s.load()
    if current.state != State.RESOLVED.value:
        raise _refuse("field_not_resolved", "only a resolved incident is reviewed", state=current.state)
    if decision == "close":
        return [s.apply("close", reason)]
    if not (reason and reason.strip()):
        raise _refuse("field_note_required", "returning needs a reason")
    values = {"state": State.IN_PROGRESS.value, "resolved_at": None}
    change = s.update(current, "return", reason, values, {"code": "field_returned"})
    return [_notify_sent(s, change, "returned")]


def callback(s: Step, satisfaction: str, text: str | None, reopen: bool) -> list[Change]:
    """回访 after closing: 满意 / 基本满意 / 不满意 with a note; 不满意 may reopen it for the field."""
    if satisfaction not in SATISFACTION:
        raise _refuse("field_bad_satisfaction", f"satisfaction must be one of {SATISFACTION}")
    current = s.load()
    if current.state != State.CLOSED.value:
        raise _refuse("field_not_closed", "a callback follows closing", state=current.state)
    previous = list((current.evaluation or {}).get("callbacks", []))
    entry = {"satisfaction": satisfaction, "note": text, "by": s.actor, "at": s.now}
    evaluation = {"satisfaction": satisfaction, "note": text, "callbacks": [*previous, entry]}
    data = {"code": "field_callback", "satisfaction": satisfaction}
    if satisfaction == "unsatisfied" and reopen:
        values: dict[str, Any] = {
            "state": State.IN_PROGRESS.value,
            "closed_at": None,
            "resolved_at": None,
            "evaluation": evaluation,
        }
        return [_notify_sent(s, s.update(current, "reopen", text, values, data), "reopened")]
    values = {"state": State.EVALUATED.value, "evaluated_at": s.now, "evaluation": evaluation}
    return [s.update(current, "evaluate", text, values, data)]
