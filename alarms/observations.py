"""Observation: a rule's verdict that something happened at a source, the input to incident correlation."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ObservationLevel(StrEnum):
    """Suspected warns operators early; confirmed goes to dispatch; cleared ends a non-latched condition."""

    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class Observation:
    """`event_id` is deterministic from source and time, so a repeat from a restarted worker is dropped."""

    event_id: str
    source: str  # camera or button id
    kind: str  # fire, smoke, crowd, gathering, video_loss, ...
    grid_id: str
    ts: float
    level: ObservationLevel = ObservationLevel.CONFIRMED
    confidence: float | None = None
    count: float | None = None
    rule: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
