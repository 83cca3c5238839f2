"""The incident as it leaves the system: one pydantic model for the body that the API answers with, the
webhooks and the MQTT incident topic carry (inside the event envelope) and the live push sends.

``Incident.public()`` builds :class:`IncidentBody` and dumps it, so every sender uses this contract. The
JSON Schema of the model is published as ``docs/schemas/incident.v1.json`` (and the Standard Webhooks
envelope as ``docs/schemas/incident-event.v1.json``) by ``scripts/export_schemas.py``; a test fails when
the checked-in files and the models differ.

Versioning: :data:`INCIDENT_SCHEMA_VERSION` is the major version of the body. Adding an optional key is
compatible and keeps the version; renaming or removing a key, or changing its type or meaning, is a new
version (a new ``incident.v2.json``), announced to the dispatch endpoints before it ships. The body has no
version key of its own (``version`` is the incident's row version, for optimistic concurrency), so the
shape on the wire is exactly the one consumers already parse.

The SOS path (press → webhook in milliseconds) builds this body for every change, so building it stays
cheap: :meth:`IncidentBody.from_incident` validates in strict mode (a few microseconds in pydantic-core, no
coercion), and a row that breaks the contract is logged and sent unchecked rather than held back.
Timestamps are formatted once and remembered; ``public()`` is about as fast as the dict it replaced.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from alarms.lifecycle import ACTIVE_STATES, ESCALATION_LEVELS, State, allowed_actions
from alarms.timefmt import iso

if TYPE_CHECKING:
    from alarms.incidents import Incident

log = logging.getLogger(__name__)

INCIDENT_SCHEMA_VERSION: Final = 1
"""Major version of the incident body (``docs/schemas/incident.v1.json``)."""

# Closed value sets, spelled out so the JSON Schema lists them; tests/alarms/test_contracts.py checks that
# they match alarms.lifecycle and alarms.categories, which remain the source of truth for the engine.
StateName = Literal[
    "reported",
    "acknowledged",
    "dispatched",
    "in_progress",
    "resolved",
    "closed",
    "evaluated",
    "cancelled",
    "merged",
]
ActionName = Literal[
    "acknowledge", "dispatch", "reject", "start", "resolve", "close", "evaluate", "cancel", "merge"
]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Unknown", "Unlikely", "Possible", "Likely", "Observed"]
SourceKind = Literal["button", "camera", "device", "system"]
EscalationTarget = Literal["grid", "community", "street", "district"]
DispatchStatus = Literal["none", "pending", "delivered", "not_reached"]
Disposition = Literal["false_alarm", "test", "duplicate", "handled", "other"]
EventType = Literal[
    "incident.created", "incident.updated", "incident.escalated", "incident.closed", "incident.merged"
]

IsoTime = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "ISO 8601 UTC with milliseconds, e.g. 2024-05-01T08:30:00.000Z",
        }
    ),
]
"""A timestamp as ``alarms.timefmt.iso`` writes it."""

# Per change the body formats up to eleven timestamps, most of them the same as at the incident's last
# change (created_at, the deadlines): formatting is pure, so remember recent ones. Allowed actions depend on
# the state alone.
_iso = lru_cache(maxsize=4096)(iso)
_ACTIVE = frozenset(s.value for s in ACTIVE_STATES)
_ALLOWED_ACTIONS = {s.value: tuple(allowed_actions(s.value)) for s in State}


class PlaceCamera(BaseModel):
    """A camera as people know it."""

    model_config = ConfigDict(title="PlaceCamera")

    id: str = Field(description="Camera id.")
    name: str = Field(description="Camera name from config (its id when it has none).")


class IncidentPlace(BaseModel):
    """Where to go: what the configured source says about its place, and the names (not ids) of its grid,
    community and street. Built from config when the incident opens."""

    model_config = ConfigDict(title="IncidentPlace")

    address: str | None = Field(description="Street address of the button or camera, when configured.")
    landmark: str | None = Field(description="What people on the spot see, when configured.")
    lat: float | None = Field(ge=-90, le=90, description="WGS 84 latitude, when configured.")
    lon: float | None = Field(ge=-180, le=180, description="WGS 84 longitude, when configured.")
    grid_name: str = Field(description="Name of the grid (its id when it has none).")
    community_name: str = Field(description="Name of the community (its id when config names none).")
    street_name: str = Field(description="Name of the street (its id when config names none).")
    source_name: str | None = Field(description="The camera's name for a camera incident.")
    cameras: list[PlaceCamera] = Field(description="Cameras that see the place (alarm linkage), by name.")


class IncidentBody(BaseModel):
    """An incident as operators, dispatch and subscribers see it (schema version 1). Deadlines are judged
    at the moment the body was built (``ack_overdue``, ``close_overdue``)."""

    # No additionalProperties: false in the schema: a compatible addition (the API's detail answer, the
    # event's ``change``) is another key, and consumers ignore keys they do not know.
    model_config = ConfigDict(
        title="Incident", json_schema_extra={"x-schema-version": INCIDENT_SCHEMA_VERSION}
    )

    id: int = Field(description="Incident id, unique in this deployment.")
    category: str = Field(
        description="What happened: sos, fire, smoke, crowd, gathering, tamper (a button's casing), "
        "camera_tamper (a camera's view covered, blurred, moved, frozen, dark or blinded: evidence.kind), "
        "video_loss, device_offline, low_battery, dispatch_failure (alarms/categories.py); an unknown "
        "category keeps its name."
    )
    priority: int = Field(ge=1, le=4, description="1 (highest) to 4, from the category.")
    state: StateName = Field(description="Lifecycle state (DESIGN.md section 4).")
    status: str = Field(
        description="CAP status as the source reported it: Actual (default), Exercise, System, Test or Draft."
    )
    urgency: Urgency = Field(description="CAP urgency, from the category.")
    severity: Severity = Field(description="CAP severity, from the category.")
    certainty: Certainty = Field(
        description="CAP certainty: Observed for a confirmed incident; camera rules open Likely ones."
    )
    title: str = Field(description="Human-readable title: the category's Chinese title and the source id.")
    grid_id: str = Field(description="Grid the source is placed in.")
    community_id: str = Field(description="Community of that grid.")
    street_id: str = Field(description="Street of that grid.")
    source_kind: SourceKind = Field(description="What raised it.")
    source_id: str = Field(description="Button, camera, device or endpoint id that raised it.")
    created_at: IsoTime = Field(description="When it was opened.")
    updated_at: IsoTime = Field(description="Last change.")
    ack_deadline: IsoTime = Field(description="Acknowledge before this.")
    close_deadline: IsoTime = Field(description="Close before this.")
    acknowledged_at: IsoTime | None = Field(description="When an operator acknowledged it.")
    dispatched_at: IsoTime | None = Field(description="When people were sent.")
    started_at: IsoTime | None = Field(description="When work on site started.")
    resolved_at: IsoTime | None = Field(description="When it was resolved.")
    closed_at: IsoTime | None = Field(description="When it was closed, cancelled or merged.")
    evaluated_at: IsoTime | None = Field(description="When a supervisor evaluated it.")
    escalation_level: int = Field(ge=0, le=len(ESCALATION_LEVELS) - 1, description="Index of escalation_to.")
    trigger_count: int = Field(ge=1, description="Triggers from the source while it was open.")
    last_trigger_at: IsoTime = Field(description="Latest trigger.")
    evidence: dict[str, Any] = Field(
        description="Source-specific evidence: button sequence numbers, linked cameras, snapshot names, "
        "the camera rule and its measurements."
    )
    assignee: str | None = Field(description="Who was sent (set by dispatch).")
    disposition: Disposition | None = Field(description="How it ended, when an operator said so.")
    resolution_note: str | None = Field(description="The note given when it was resolved.")
    evaluation: dict[str, Any] | None = Field(description="A supervisor's evaluation, free-form.")
    linked_incident_id: int | None = Field(
        description="The previous incident of the same source and category."
    )
    merged_into: int | None = Field(description="The incident this one was merged into.")
    dispatch_status: DispatchStatus = Field(
        description="Webhook delivery to dispatch: none (no endpoint wants it), pending, delivered, or "
        "not_reached (an endpoint gave up)."
    )
    version: int = Field(
        ge=1,
        description="Row version, +1 per change: send it back as expected_version (optimistic concurrency).",
    )
    escalation_to: EscalationTarget = Field(
        description="Who is told now; climbs one step per missed deadline."
    )
    allowed_actions: list[ActionName] = Field(description="Actions the state machine allows now.")
    ack_overdue: bool = Field(description="Not acknowledged and past ack_deadline.")
    close_overdue: bool = Field(description="Still open and past close_deadline.")
    place: IncidentPlace | None = Field(
        description="Where to go (address, landmark, coordinates, names); null for older incidents."
    )

    @classmethod
    def from_incident(cls, inc: Incident, now: float) -> IncidentBody:
        """The body of ``inc`` with its deadlines judged at ``now``.

        Validated in strict mode (no coercion: what goes out is exactly what was read), which costs a few
        microseconds; a row that breaks the contract is logged and sent as it is (``model_construct``),
        because an alarm must never be held back by its description."""
        active = inc.state in _ACTIVE
        values: dict[str, Any] = {
            "id": inc.id,
            "category": inc.category,
            "priority": inc.priority,
            "state": inc.state,
            "status": inc.status,
            "urgency": inc.urgency,
            "severity": inc.severity,
            "certainty": inc.certainty,
            "title": inc.title,
            "grid_id": inc.grid_id,
            "community_id": inc.community_id,
            "street_id": inc.street_id,
            "source_kind": inc.source_kind,
            "source_id": inc.source_id,
            "created_at": _iso(inc.created_at),
            "updated_at": _iso(inc.updated_at),
            "ack_deadline": _iso(inc.ack_deadline),
            "close_deadline": _iso(inc.close_deadline),
            "acknowledged_at": _iso(inc.acknowledged_at),
            "dispatched_at": _iso(inc.dispatched_at),
            "started_at": _iso(inc.started_at),
            "resolved_at": _iso(inc.resolved_at),
            "closed_at": _iso(inc.closed_at),
            "evaluated_at": _iso(inc.evaluated_at),
            "escalation_level": inc.escalation_level,
            "trigger_count": inc.trigger_count,
            "last_trigger_at": _iso(inc.last_trigger_at),
            "evidence": inc.evidence,
            "assignee": inc.assignee,
            "disposition": inc.disposition,
            "resolution_note": inc.resolution_note,
            "evaluation": inc.evaluation,
            "linked_incident_id": inc.linked_incident_id,
            "merged_into": inc.merged_into,
            "dispatch_status": inc.dispatch_status,
            "version": inc.version,
            "escalation_to": ESCALATION_LEVELS[inc.escalation_level],
            "allowed_actions": list(_ALLOWED_ACTIONS.get(inc.state, ())),
            "ack_overdue": inc.acknowledged_at is None and active and now > inc.ack_deadline,
            "close_overdue": (inc.closed_at or inc.resolved_at) is None
            and active
            and now > inc.close_deadline,
            "place": inc.place,
        }
        try:
            return cls.model_validate(values, strict=True)
        except ValidationError as exc:
            log.error("incident %s: body breaks the contract, sent unchecked: %s", inc.id, exc)
            return cls.model_construct(**values)


class IncidentChange(BaseModel):
    """What changed, in a webhook or MQTT event."""

    model_config = ConfigDict(title="IncidentChange")

    action: str = Field(
        description="created, retrigger, confirmed, cleared, escalate, auto_close, or an operator action "
        "(acknowledge, dispatch, reject, start, resolve, close, evaluate, cancel, merge); merged_in on the "
        "incident another one was merged into (the note names it)."
    )
    actor: str = Field(description="Who: a principal name (with the acting person), a source id, or system.")
    note: str | None = Field(description="The note given with the change.")
    version: int = Field(ge=1, description="The incident's version after the change.")


class IncidentEventData(IncidentBody):
    """The incident body with the change that caused the event."""

    model_config = ConfigDict(title="IncidentEventData")

    change: IncidentChange


class IncidentEvent(BaseModel):
    """The Standard Webhooks body (``type``, ``timestamp``, ``data``) POSTed to dispatch endpoints and
    published on ``<prefix>/incidents/<grid_id>``; signed as the Standard Webhooks spec says."""

    model_config = ConfigDict(
        title="IncidentEvent", json_schema_extra={"x-schema-version": INCIDENT_SCHEMA_VERSION}
    )

    type: EventType = Field(
        description="Event type; endpoints that wait for confirmation hear incident.created "
        "at the confirming change."
    )
    timestamp: IsoTime = Field(description="When the event was produced.")
    data: IncidentEventData


JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def published_schemas() -> dict[str, dict[str, Any]]:
    """docs/schemas/<file name> → its JSON Schema: each model's ``model_json_schema()`` with the dialect
    named, as ``scripts/export_schemas.py`` writes them."""
    return {
        f"incident.v{INCIDENT_SCHEMA_VERSION}.json": {
            "$schema": JSON_SCHEMA_DIALECT,
            **IncidentBody.model_json_schema(),
        },
        f"incident-event.v{INCIDENT_SCHEMA_VERSION}.json": {
            "$schema": JSON_SCHEMA_DIALECT,
            **IncidentEvent.model_json_schema(),
        },
    }
