"""Request bodies of the HTTP API (pydantic at the edge)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)
    actor: str | None = Field(
        None, max_length=64, description="the person acting, recorded after the token name"
    )
    assignee: str | None = Field(None, max_length=128, description="dispatch: who is sent")
    disposition: Literal["false_alarm", "test", "duplicate", "handled", "other"] | None = None
    evaluation: dict[str, Any] | None = None
    merged_into: int | None = None
    expected_version: int | None = Field(
        None, description="optimistic concurrency: 409 if the incident moved on"
    )
