"""The Incident record as operators and dispatch see it, read from a database row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from alarms.contracts import IncidentBody
from alarms.lifecycle import ACTIVE_STATES, State


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
    place: dict[str, Any] | None = None  # where to go (contracts.IncidentPlace); None before migration 0004

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Incident:
        return cls(**{f.name: row[f.name] for f in _REQUIRED}, place=row.get("place"))

    @property
    def active(self) -> bool:
        return State(self.state) in ACTIVE_STATES

    def public(self, now: float) -> dict[str, Any]:
        """JSON-ready view for the API, webhooks, MQTT and the live push: the `IncidentBody` contract
        (docs/schemas/incident.v1.json) dumped; deadlines are judged at `now`."""
        return IncidentBody.from_incident(self, now).model_dump(mode="json")


_REQUIRED = tuple(f for f in fields(Incident) if f.name != "place")
