"""The Incident record as operators and dispatch see it, read from a database row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from alarms.lifecycle import ACTIVE_STATES, ESCALATION_LEVELS, State, allowed_actions
from alarms.timefmt import iso

_TIME_FIELDS = (
    "created_at",
    "updated_at",
    "ack_deadline",
    "close_deadline",
    "acknowledged_at",
    "dispatched_at",
    "started_at",
    "resolved_at",
    "closed_at",
    "evaluated_at",
    "last_trigger_at",
)


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    category: str
    priority: int
    state: str
    status: str
    urgency: str
    severity: str
    certainty: str
    title: str
    grid_id: str
    community_id: str
    street_id: str
    source_kind: str
    source_id: str
    created_at: float
    updated_at: float
    ack_deadline: float
    close_deadline: float
    acknowledged_at: float | None
    dispatched_at: float | None
    started_at: float | None
    resolved_at: float | None
    closed_at: float | None
    evaluated_at: float | None
    escalation_level: int
    trigger_count: int
    last_trigger_at: float
    evidence: dict[str, Any]
    assignee: str | None
    disposition: str | None
    resolution_note: str | None
    evaluation: dict[str, Any] | None
    linked_incident_id: int | None
    merged_into: int | None
    dispatch_status: str
    open_key: str | None
    version: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Incident:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    @property
    def active(self) -> bool:
        return State(self.state) in ACTIVE_STATES

    def public(self, now: float) -> dict[str, Any]:
        """JSON-ready view for the API, webhooks and MQTT; deadlines are judged at `now`."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "open_key"}
        for name in _TIME_FIELDS:
            out[name] = iso(getattr(self, name))
        out["escalation_to"] = ESCALATION_LEVELS[self.escalation_level]
        out["allowed_actions"] = allowed_actions(self.state)
        out["ack_overdue"] = self.acknowledged_at is None and self.active and now > self.ack_deadline
        done_at = self.closed_at or self.resolved_at
        out["close_overdue"] = done_at is None and self.active and now > self.close_deadline
        return out
