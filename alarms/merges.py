"""Merges that cannot go wrong: an incident goes only into another active incident of the same street in
the operator's scope, chosen from candidates; both timelines say so, and the pole of a merged SOS still
hears when its target is acknowledged or dispatched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, select

from alarms.incident_writer import Change, IncidentNotFound, IncidentWriter
from alarms.incidents import Incident
from alarms.lifecycle import ACTIVE_STATES
from alarms.operator_actions import BadRequest
from alarms.refusals import ActionRefused
from alarms.storage.rows import by_name
from alarms.storage.schema import incidents
from alarms.storage.unit_of_work import UnitOfWork

Allows = Callable[[str, str], bool]
CANDIDATE_WINDOW_S = 6 * 3600.0
"""Candidates opened within this time of the incident (either side)."""
_ACTIVE = [s.value for s in ACTIVE_STATES]


class MergeRefused(ActionRefused, BadRequest):
    """A merge that would go wrong; ``code`` is what the page translates."""


@dataclass(frozen=True, slots=True)
class Candidate:
    incident: Incident
    same_category: bool
    same_grid: bool
    apart_s: float


def merge_target(
    w: IncidentWriter, uow: UnitOfWork, source: Incident, target_id: int | None, allows: Allows | None
) -> Incident:
    """The target, or MergeRefused: none given, itself, unknown or out of scope (answered alike), finished,
    or another street."""
    if target_id is None:
        raise MergeRefused("merge_needs_target", "merge needs a target incident (merged_into)")
    if target_id == source.id:
        raise MergeRefused("merge_self", "an incident cannot be merged into itself (merged_into)")
    try:
        target = w.load(uow, target_id)
    except IncidentNotFound:
        raise MergeRefused("merge_target_missing", f"no incident {target_id} to merge into") from None
    if allows is not None and not allows(target.street_id, target.grid_id):
        raise MergeRefused("merge_target_missing", f"no incident {target_id} to merge into")
    if not target.active:
        raise MergeRefused(
            "merge_target_finished", f"incident {target_id} is {target.state}: merge only into an active one"
        )
    if target.street_id != source.street_id:
        raise MergeRefused("merge_other_street", f"incident {target_id} is in another street")
    return target


def after_merge(
    w: IncidentWriter, uow: UnitOfWork, merged: Incident, target: Incident, actor: str, now: float
) -> list[Change]:
    """The target's timeline names the merged incident; a merged SOS's pole hears the target's state at
    once when the target was already acknowledged or dispatched."""
    data = {"code": "merged_in", "incident_id": merged.id}
    change = w.update(uow, target, "merged_in", actor, f"#{merged.id}", values={}, now=now, data=data)
    acks = {"acknowledged": "acknowledge", "dispatched": "dispatch", "in_progress": "dispatch"}
    action = acks.get(target.state)
    extra: list[Change] = [change]
    if action is not None:
        rows = w.routing.merged_button_acks(merged.public(now), change.incident.public(now), action, now)
        if rows:
            extra.append(Change(merged, "merge_ack", uow.add_outbox(rows)))
    return extra


def acks_for_merged(w: IncidentWriter, uow: UnitOfWork, change: Change, now: float) -> Change:
    """An acknowledgement or dispatch of a target goes on to the poles of SOS incidents merged into it."""
    if change.action not in ("acknowledge", "dispatch"):
        return change
    uow.flush()
    rows = uow.conn.execute(
        select(incidents).where(
            incidents.c.merged_into == change.incident.id, incidents.c.source_kind == "button"
        )
    ).mappings()
    target = change.incident.public(now)
    out: list[dict[str, Any]] = []
    for r in rows:
        merged = Incident.from_row(by_name(r))
        out.extend(w.routing.merged_button_acks(merged.public(now), target, change.action, now))
    if not out:
        return change
    return replace(change, outbox=[*change.outbox, *uow.add_outbox(out)])


def merge_candidates(
    conn: Connection, source: Incident, allows: Allows, limit: int = 20, window_s: float = CANDIDATE_WINDOW_S
) -> list[Candidate]:
    """Active incidents of the same street in scope, near in time: same category first, then same grid,
    then the nearest in time."""
    rows = conn.execute(
        select(incidents).where(
            incidents.c.state.in_(_ACTIVE),
            incidents.c.id != source.id,
            incidents.c.street_id == source.street_id,
            incidents.c.created_at >= source.created_at - window_s,
            incidents.c.created_at <= source.created_at + window_s,
        )
    ).mappings()
    found = [
        Candidate(
            inc,
            inc.category == source.category,
            inc.grid_id == source.grid_id,
            abs(inc.created_at - source.created_at),
        )
        for inc in (Incident.from_row(by_name(r)) for r in rows)
        if allows(inc.street_id, inc.grid_id)
    ]
    found.sort(key=lambda c: (not c.same_category, not c.same_grid, c.apart_s, c.incident.id))
    return found[:limit]
