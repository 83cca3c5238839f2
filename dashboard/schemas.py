"""Request bodies of the HTTP API (pydantic at the edge)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from alarms.contracts import Disposition

# Database row ids fit a signed 64-bit integer; anything larger is a 422, not a driver overflow (a 500).
MAX_ROW_ID = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
OptionalRowId = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)]


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)
    actor: str | None = Field(
        None, max_length=64, description="the person acting, recorded after the token name"
    )
    assignee: str | None = Field(None, max_length=128, description="dispatch: who is sent")
    disposition: Disposition | None = None
    evaluation: dict[str, Any] | None = None
    merged_into: int | None = Field(None, ge=1, le=MAX_ROW_ID)
    silence_s: float | None = Field(
        None, gt=0, le=86400, description="cancel as false_alarm of a camera incident: how long to silence"
    )
    expected_version: int | None = Field(
        None, description="optimistic concurrency: 409 if the incident moved on"
    )
