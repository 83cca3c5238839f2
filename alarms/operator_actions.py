"""Operator actions (acknowledge, dispatch, resolve, cancel, merge …): the state machine says whether an
action is allowed, this module checks its arguments and turns it into the incident's new values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alarms.categories import CONFIRMED, category, certainty_rank
from alarms.incident_writer import Change, IncidentWriter
from alarms.incidents import Incident
from alarms.lifecycle import ACTIVE_STATES, InvalidTransition, Transition, next_state
from alarms.storage.unit_of_work import UnitOfWork


class BadRequest(ValueError):
    """An action's arguments are incomplete (a required note, an unknown merge target)."""


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
    transition = _allowed(current, req)
    values = _new_values(req, transition, now)
    if req.action == "merge":
        values["merged_into"] = _merge_target(w, uow, req)
    confirms = _confirms(req.action, current)
    if confirms:
        values["certainty"] = CONFIRMED
    return w.update(uow, current, req.action, req.actor, req.note, values=values, now=now, confirms=confirms)


def _allowed(current: Incident, req: ActionRequest) -> Transition:
    if req.expected_version is not None and current.version != req.expected_version:
        raise InvalidTransition(req.action, current.state)
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
