"""What a source hands to the incident side: a trigger, and the seam that takes it.

The video layer (and the shards' JetStream publisher) speak only this: raise, observe or clear a condition.
The local :class:`~alarms.engine.IncidentEngine` applies it at once; the distributed ``BusEngine`` carries it
to an engine process. Either satisfies :class:`ConditionSink`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from alarms.grids import Placement


@dataclass(frozen=True, slots=True)
class Trigger:
    """Something happened at a source that should open or update an incident."""

    category: str
    source_kind: str  # button | camera | device | system
    source_id: str
    placement: Placement
    ts: float
    note: str
    evidence: dict[str, Any] = field(default_factory=dict)
    source_ts: float | None = None
    status: str = "Actual"
    certainty: str = "Observed"
    event_id: str | None = None
    # A machine note as a code and its parameters (e.g. a time as a unix time), for pages to say it in the
    # reader's language and time zone; `note` stays the plain-text record.
    note_data: dict[str, Any] | None = None


class ConditionSink(Protocol):
    """Raise, observe (suspected → confirmed, or cleared) and clear a condition at a source. Calls block
    until the change is stored (or durably queued); a raised exception means it was not."""

    def raise_condition(self, trigger: Trigger) -> object: ...

    def observe_condition(self, trigger: Trigger, *, cleared: bool = False) -> object: ...

    def clear_condition(
        self, category_name: str, source_id: str, note: str, now: float | None = None
    ) -> object: ...
