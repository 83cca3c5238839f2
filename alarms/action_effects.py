"""What an operator action does beyond its own incident, in the same transaction: a false alarm's silence,
a merge's checks and its target's timeline, and acknowledgements passed on to the poles of merged SOS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alarms.incident_writer import Change, IncidentWriter
from alarms.merges import acks_for_merged, after_merge, merge_target
from alarms.operator_actions import ActionRequest, apply_action
from alarms.refusals import ActionRefused
from alarms.silence_config import SilenceConfig
from alarms.silences import silence_after_cancel
from alarms.storage.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What the action's side effects need: the silence policy, the operator's choice of silence and
    scope (a merge target out of scope answers like a missing one)."""

    silences: SilenceConfig
    silence_s: float | None = None
    allows: Callable[[str, str], bool] | None = None


def act_in_tx(
    w: IncidentWriter, uow: UnitOfWork, req: ActionRequest, ctx: ActionContext, now: float
) -> list[Change]:
    """The action's own change first, then what follows from it."""
    if req.action == "merge":
        merge_target(w, uow, w.load(uow, req.incident_id), req.merged_into, ctx.allows)
    change = apply_action(w, uow, req, now)
    changes = [acks_for_merged(w, uow, change, now)]
    inc = change.incident
    if req.action == "merge" and inc.merged_into is not None:
        changes.extend(after_merge(w, uow, inc, w.load(uow, inc.merged_into), req.actor, now))
    if req.action == "cancel":
        try:
            silence_after_cancel(w, uow, inc, ctx.silences, ctx.silence_s, req.actor, req.note, now)
        except ValueError as exc:
            raise ActionRefused("silence_out_of_range", str(exc)) from None
    return changes
