"""The incident state machine (DESIGN.md section 4) as data: which action moves which state where."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    REPORTED = "reported"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    EVALUATED = "evaluated"
    CANCELLED = "cancelled"
    MERGED = "merged"


ACTIVE_STATES = frozenset({State.REPORTED, State.ACKNOWLEDGED, State.DISPATCHED, State.IN_PROGRESS})
"""States in which a new trigger from the same source updates the incident instead of opening another."""

FINISHED_STATES = frozenset({State.CLOSED, State.EVALUATED, State.CANCELLED, State.MERGED})


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    sources: frozenset[State]
    target: State
    note_required: bool = False
    timestamp_field: str | None = None


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("acknowledge", frozenset({State.REPORTED}), State.ACKNOWLEDGED, False, "acknowledged_at"),
        Transition("dispatch", frozenset({State.ACKNOWLEDGED}), State.DISPATCHED, True, "dispatched_at"),
        # Dispatch rejected (no unit available, wrong jurisdiction): back to the operator's queue.
        Transition("reject", frozenset({State.DISPATCHED}), State.ACKNOWLEDGED, True),
        Transition("start", frozenset({State.DISPATCHED}), State.IN_PROGRESS, False, "started_at"),
        Transition(
            "resolve", frozenset({State.DISPATCHED, State.IN_PROGRESS}), State.RESOLVED, True, "resolved_at"
        ),
        Transition("close", frozenset({State.RESOLVED}), State.CLOSED, False, "closed_at"),
        Transition("evaluate", frozenset({State.CLOSED}), State.EVALUATED, False, "evaluated_at"),
        Transition("cancel", ACTIVE_STATES, State.CANCELLED, True, "closed_at"),
        Transition("merge", ACTIVE_STATES, State.MERGED, False, "closed_at"),
    )
}


class InvalidTransition(Exception):
    """The state machine forbids this action now (the API answers 409)."""

    def __init__(self, action: str, state: str) -> None:
        allowed = sorted(a for a, t in TRANSITIONS.items() if State(state) in t.sources)
        super().__init__(f"cannot {action} an incident that is {state}; allowed: {allowed}")
        self.action = action
        self.state = state
        self.allowed = allowed


def next_state(state: str, action: str) -> Transition:
    """The transition for `action` from `state`, or InvalidTransition."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise InvalidTransition(action, state)
    if State(state) not in transition.sources:
        raise InvalidTransition(action, state)
    return transition


def allowed_actions(state: str) -> list[str]:
    return sorted(a for a, t in TRANSITIONS.items() if State(state) in t.sources)


ESCALATION_LEVELS = ("grid", "community", "street", "district")
"""Who is told: level 0 is the grid worker; each missed acknowledge deadline climbs one step."""


def escalation_level_due(ack_deadline: float, every_s: float, now: float) -> int:
    """Level an unacknowledged incident should be at `now`: one step at the deadline, then every `every_s`."""
    if now < ack_deadline:
        return 0
    return min(len(ESCALATION_LEVELS) - 1, 1 + int((now - ack_deadline) // every_s))
