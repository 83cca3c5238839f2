"""Operator actions (acknowledge, dispatch, resolve, cancel, merge …): the state machine says whether an
action is allowed, this module checks its arguments and turns it into the incident's new values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from alarms.categories import CONFIRMED, category, certainty_rank
from alarms.incident_writer import Change, IncidentWriter
from alarms.incidents import Incident
from alarms.lifecycle import ACTIVE_STATES, TRANSITIONS, InvalidTransition, Transition, next_state
from alarms.storage.schema import timeline
from alarms.storage.unit_of_work import UnitOfWork


class BadRequest(ValueError):
    """An action's arguments are incomplete (a required note, an unknown merge target)."""


class StaleVersion(InvalidTransition):
    """Another person changed the incident after the operator saw it: the API answers 409 with who did what,
    so the page can keep what the operator typed and say why it was refused."""

    def __init__(self, action: str, state: str, current_version: int, changes: list[dict[str, Any]]) -> None:
        super().__init__(action, state)
        self.current_version = current_version
        self.changes = changes


FOLLOW_UP = "follow_up"
"""A note on the timeline that changes no state (跟进记录): allowed in every state, a note is required."""


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """One operator action with its arguments, as :meth:`IncidentEngine.act` takes them."""

    incident_id: int
    action: str
    actor: str
    note: str | None = None
    assignee: str | None = None
    disposition: str | None = None
    evaluation: dict[str, Any] | None = None
    merged_into: int | None = None
    expected_version: int | None = None


def apply_action(w: IncidentWriter, uow: UnitOfWork, req: ActionRequest, now: float) -> Change:
    """InvalidTransition when the state machine forbids the action (or the incident changed since the
    operator saw it), BadRequest when its arguments are incomplete, IncidentNotFound for unknown ids."""
    current = w.load(uow, req.incident_id)
    _check_version(uow, current, req)
    if req.action == FOLLOW_UP:
        if not (req.note and req.note.strip()):
            raise BadRequest("follow_up needs a note")
        return w.update(uow, current, FOLLOW_UP, req.actor, req.note, values={}, now=now)
    transition = _allowed(current, req)
    values = _new_values(req, transition, now)
    if req.action == "merge":
        values["merged_into"] = _merge_target(w, uow, req)
    confirms = _confirms(req.action, current)
    if confirms:
        values["certainty"] = CONFIRMED
    return w.update(uow, current, req.action, req.actor, req.note, values=values, now=now, confirms=confirms)


def _check_version(uow: UnitOfWork, current: Incident, req: ActionRequest) -> None:
    """A stale version conflicts only with what people did since (a re-press or a camera's retrigger bumps
    the version too, but must not throw away a dispatch the operator is typing)."""
    if req.expected_version is None or current.version == req.expected_version:
        return
    rows = uow.conn.execute(
        select(timeline.c.actor, timeline.c.action, timeline.c.ts, timeline.c.version)
        .where(timeline.c.incident_id == current.id, timeline.c.version > req.expected_version)
        .order_by(timeline.c.version)
    ).mappings()
    people = [dict(r) for r in rows if r["action"] in TRANSITIONS or r["action"] == FOLLOW_UP]
    if people or req.expected_version > current.version:
        raise StaleVersion(req.action, current.state, current.version, people)


def _allowed(current: Incident, req: ActionRequest) -> Transition:
    transition = next_state(current.state, req.action)
    if transition.note_required and not (req.note and req.note.strip()):
        raise BadRequest(f"{req.action} needs a note")
    if req.action == "dispatch" and not (req.assignee and req.assignee.strip()):
        raise BadRequest("dispatch needs an assignee (who is sent)")
    return transition


def _new_values(req: ActionRequest, transition: Transition, now: float) -> dict[str, Any]:
    values: dict[str, Any] = {"state": transition.target.value}
    if transition.timestamp_field:
        values[transition.timestamp_field] = now
    if transition.target not in ACTIVE_STATES:
        values["open_key"] = None
    if req.assignee:
        values["assignee"] = req.assignee
    if req.action == "resolve":
        values["resolution_note"] = req.note
    if req.action == "cancel":
        values["disposition"] = req.disposition or "false_alarm"
    elif req.disposition:
        values["disposition"] = req.disposition
    if req.action == "evaluate":
        values["evaluation"] = req.evaluation or {}
    return values


def _merge_target(w: IncidentWriter, uow: UnitOfWork, req: ActionRequest) -> int:
    if req.merged_into is None or req.merged_into == req.incident_id:
        raise BadRequest("merge needs another incident id (merged_into)")
    w.load(uow, req.merged_into)  # IncidentNotFound for an unknown target
    return req.merged_into


def _confirms(action: str, current: Incident) -> bool:
    """An operator who sends people to a suspected fire has verified it: dispatch endpoints that wait for
    confirmed incidents hear of it now, as created."""
    return (
        action == "dispatch"
        and category(current.category).graded
        and certainty_rank(current.certainty) < certainty_rank(CONFIRMED)
    )
