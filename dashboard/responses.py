"""Response bodies of the HTTP API, so /openapi.json documents every answer and FastAPI checks each one
against its model. The incident itself is the shared contract `alarms.contracts.IncidentBody` (the same
body the webhooks and MQTT carry); everything here is the API's own. Camera health is
`video.status.CameraStatus` (dashboard.video_api.CameraList).

Routes that leave keys out in some answers (the live-view status when it is off, the detections before the
first result) use ``response_model_exclude_unset=True``, so the JSON keeps exactly the keys it had."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from alarms.contracts import IncidentBody, IsoTime
from alarms.locale import DEFAULT_TIMEZONE

Role = Literal["field", "operator", "supervisor", "admin"]  # field: the phone page (issue 15)
OpenApiResponses = dict[int | str, dict[str, Any]]


# ----- incidents ----------------------------------------------------------------------------------------
class IncidentList(BaseModel):
    items: list[IncidentBody] = Field(description="Incidents in the caller's scope, most urgent first.")
    count: int = Field(description="Number of items in this page.")


class TimelineEntry(BaseModel):
    """One change on an incident's timeline."""

    id: int
    incident_id: int
    ts: IsoTime
    actor: str = Field(description="Principal (with the acting person), source id, or system.")
    action: str = Field(description="created, retrigger, confirmed, an operator action, escalate …")
    from_state: str | None
    to_state: str | None
    note: str | None
    version: int = Field(description="The incident's version after this change.")
    data: dict[str, Any] | None
    actor_name: str | None = Field(None, description="The acting user's display name, when they have one.")


class Delivery(BaseModel):
    """One outbox row: a webhook POST or an MQTT publish of an incident event (the payload is not shown)."""

    id: int
    incident_id: int | None
    channel: Literal["webhook", "mqtt"]
    target: str = Field(description="Webhook endpoint name or MQTT topic.")
    event_type: str
    life_safety: bool
    created_at: IsoTime
    source_ts: IsoTime | None = Field(description="The device's own timestamp, for end-to-end latency.")
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: IsoTime
    last_error: str | None
    last_status: int | None = Field(description="HTTP status of the last attempt.")
    delivered_at: IsoTime | None
    webhook_id: str = Field(description="The Standard Webhooks webhook-id (msg_…), the same on every retry.")


class ListedDelivery(Delivery):
    """A delivery with its incident's place (for scope)."""

    street_id: str | None
    grid_id: str | None


class DeliveryList(BaseModel):
    items: list[ListedDelivery]
    count: int


class IncidentDetail(IncidentBody):
    """The incident body with its timeline, deliveries and the cameras the page opens."""

    timeline: list[TimelineEntry]
    deliveries: list[ListedDelivery]
    linked_cameras: list[str] = Field(description="Cameras at the incident's place (its own camera first).")


# ----- devices ------------------------------------------------------------------------------------------
class Device(BaseModel):
    id: str
    kind: str = Field(description="button or camera")
    known: bool = Field(description="Configured; unknown senders are listed for operators too.")
    grid_id: str | None
    presence: Literal["online", "offline", "silent", "unknown"]
    first_seen: IsoTime | None
    last_seen: IsoTime | None
    last_kind: str | None = Field(description="Kind of the last message (press, heartbeat …).")
    last_seq: int | None
    battery_low: bool
    tamper: bool
    messages: int
    last_topic: str | None
    last_error: str | None


class DeviceList(BaseModel):
    items: list[Device]
    unknown: list[Device] = Field(description="The items that are not configured.")


# ----- KPIs ---------------------------------------------------------------------------------------------
class KpiSummary(BaseModel):
    total: int
    open: int
    overdue: int
    closed: int
    withdrawn: int = Field(description="Cancelled or merged.")
    closure_rate: float | None
    closed_within_deadline_rate: float | None
    time_to_acknowledge_p50_s: float | None
    time_to_acknowledge_p90_s: float | None


class RulePrecision(BaseModel):
    confirmed: int
    false_alarms: int
    undecided: int
    precision: float | None


class Kpis(BaseModel):
    since: IsoTime | None
    until: IsoTime | None
    overall: KpiSummary
    streets: dict[str, KpiSummary]
    grids: dict[str, KpiSummary]
    rules: dict[str, RulePrecision] = Field(description="Per rule: confirmed / (confirmed + false alarms).")


# ----- map, sign-in, health -----------------------------------------------------------------------------
class OnDuty(BaseModel):
    id: str
    name: str
    role: str = Field(description="grid_worker, police, community, firefighter …")
    phone: str | None


class Grid(BaseModel):
    id: str
    name: str
    community: str
    street: str
    community_name: str = Field(description="The community's name (config `communities`; else its id).")
    street_name: str = Field(description="The street's name (config `streets`; else its id).")
    polygon: list[list[float]] | None = Field(description="Outline as [x, y] points, for the map.")
    on_duty: list[OnDuty] = Field(
        default_factory=list, description="Who covers the grid and is on shift now (the duty roster)."
    )


class GridList(BaseModel):
    items: list[Grid]


class Me(BaseModel):
    """Who is signed in, with the CSRF token that cookie writes must send."""

    name: str
    display_name: str | None = Field(
        None, description="The name people know the user by (user add --display-name)."
    )
    role: Role
    streets: list[str] | None = Field(description="Streets the user may see; null: every street.")
    grids: list[str] | None = Field(description="Grids the user may see; null: every grid.")
    csrf: str | None = Field(description="Send as X-CSRF-Token on writes; null for bearer tokens.")
    server_time: float = Field(description="Unix seconds, for the page's clock offset.")
    timezone: str = Field(
        DEFAULT_TIMEZONE, description="IANA zone (locale.timezone) in which the page shows every time."
    )


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool] = Field(description="database, mqtt and the runtime's own checks.")


# ----- live video ---------------------------------------------------------------------------------------
class WebRtcAnswer(BaseModel):
    id: str = Field(description="Peer id: DELETE it when the viewer leaves.")
    sdp: str
    type: str = Field(description="answer")


class LiveSource(BaseModel):
    running: bool
    viewers: int
    transcoding: bool
    packets: int
    last_packet_at: float | None
    epoch: float | None
    error: str | None


class LiveStatus(BaseModel):
    enabled: bool
    max_viewers_per_camera: int | None = None
    peers: int | None = None
    sources: dict[str, LiveSource] | None = None


class DetectionBox(BaseModel):
    xyxy: list[float] = Field(description="x1, y1, x2, y2 in frame pixels.")
    label: str
    score: float


class Detections(BaseModel):
    camera_id: str
    frame_size: list[int] | None = Field(description="[width, height]; null before the first result.")
    captured_at: float | None = None
    model: str | None = None
    boxes: list[DetectionBox]


def media(content_type: str, description: str, binary: bool = True) -> OpenApiResponses:
    """The 200 answer of a route that does not answer JSON, for ``responses=``."""
    schema = {"type": "string", "format": "binary"} if binary else {"type": "string"}
    return {200: {"description": description, "content": {content_type: {"schema": schema}}}}


class ErrorBody(BaseModel):
    """A 4xx answer: FastAPI's list of what failed validation, or a coded error (``code``, ``params``) that
    the page translates beside the English ``detail`` (dashboard/errors.py)."""

    detail: str | list[dict[str, Any]]
    code: str | None = None
    params: dict[str, Any] | None = None
