"""Request and response models of the field loop's API (dashboard/field_api.py, dashboard/photo_api.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from alarms.contracts import IncidentBody


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetRef(_In):
    kind: Literal["person", "unit"] = "person"
    id: str = Field(min_length=1, max_length=64)


class DispatchBody(_In):
    lead: TargetRef
    helpers: list[TargetRef] = Field(default_factory=list, max_length=20)
    note: str | None = Field(None, max_length=2000)
    expected_version: int | None = None


class NoteBody(_In):
    note: str | None = Field(None, max_length=4000)


class ArriveBody(_In):
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    accuracy: float | None = Field(None, ge=0, le=100000)


class ProgressBody(_In):
    note: str | None = Field(None, max_length=4000)
    photos: list[int] = Field(default_factory=list, max_length=20)


class ResolveBody(ProgressBody):
    result: Literal["handled", "referred", "no_problem_found"] = "handled"


class ReviewBody(_In):
    decision: Literal["close", "return"]
    reason: str | None = Field(None, max_length=2000)


class CallbackBody(_In):
    satisfaction: Literal["satisfied", "basically_satisfied", "unsatisfied"]
    note: str | None = Field(None, max_length=2000)
    reopen: bool = False


class RosterEntry(BaseModel):
    kind: Literal["person", "unit"]
    id: str
    name: str
    role: str | None = None
    unit_kind: str | None = None
    unit_name: str | None = None
    phone: str | None = None
    on_duty: bool = True


class Roster(BaseModel):
    grid_id: str
    grid_name: str
    people: list[RosterEntry]
    units: list[RosterEntry]


class Assignment(BaseModel):
    id: int
    kind: str
    target_id: str
    name: str
    lead: bool
    status: str = Field(description="assigned | accepted | arrived | withdrawn")
    assigned_at: str
    accept_deadline: str
    arrive_deadline: str
    accepted_at: str | None
    arrived_at: str | None
    missed: str | None
    location: dict[str, Any] | None


class Photo(BaseModel):
    id: int
    incident_id: int
    uploaded_by: str
    media_type: str
    width: int
    height: int
    size: int
    url: str
    thumb_url: str
    has_location: bool = Field(description="the original carried a GPS position (kept, not served)")
    created_at: str


class Notice(BaseModel):
    id: int
    to: str = Field(description="the person's or unit's name")
    channel: str
    status: str
    attempts: int
    last_error: str | None
    delivered_at: str | None


class FieldView(BaseModel):
    incident_id: int
    assignments: list[Assignment]
    photos: list[Photo]
    notices: list[Notice]


class Word(BaseModel):
    action: Literal["return", "reopen", "urge"]
    note: str | None
    ts: str


class Task(BaseModel):
    incident: IncidentBody
    mine: Assignment | None = Field(description="this worker's assignment, or null for an open incident")
    word: Word | None = Field(None, description="why the task came back: a return's reason, a reopen, a 督办")


class Tasks(BaseModel):
    person: RosterEntry
    tasks: list[Task]
    open: list[IncidentBody]
    photo_max_bytes: int = Field(
        description="the largest photo accepted: the page refuses bigger before sending"
    )


class FieldFigures(BaseModel):
    total: int
    closed: int
    closure_rate: float | None
    closed_within_deadline_rate: float | None
    callbacks: int
    satisfaction_rate: float | None
    time_to_accept_mean_s: float | None
    time_to_arrive_mean_s: float | None
    name: str | None = None
    workload: int | None = None


class FieldKpis(BaseModel):
    since: str | None
    until: str | None
    overall: FieldFigures
    streets: dict[str, FieldFigures]
    grids: dict[str, FieldFigures]
    workers: dict[str, FieldFigures]
