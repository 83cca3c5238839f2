"""Presence on an incident: the page beats every few seconds while an incident is open and says when it
leaves; everyone else with the incident in scope hears the new list by server push (event `viewers`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict

from dashboard.api import Svc, _visible
from dashboard.auth import CurrentPrincipal
from dashboard.schemas import RowId
from dashboard.viewers import ViewerRegistry, apply_beat

router = APIRouter(prefix="/api")


class ViewingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    open: bool = True


class ViewerOut(BaseModel):
    name: str
    display_name: str | None


class ViewerList(BaseModel):
    incident_id: int
    viewers: list[ViewerOut]


def registry(request: Request) -> ViewerRegistry:
    return request.app.state.services.viewers


Registry = Annotated[ViewerRegistry, Depends(registry)]


def _display_name(request: Request, name: str) -> str | None:
    signin = getattr(request.app.state, "signin", None)
    if signin is None:
        return None
    return signin.users.display_names().get(name)


@router.post("/incidents/{incident_id}/viewers", response_model=ViewerList)
async def viewing(
    incident_id: RowId,
    body: ViewingBody,
    request: Request,
    svc: Svc,
    reg: Registry,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Heartbeat (open) or goodbye (open: false); answers who has the incident open now."""
    inc = _visible(svc, principal, incident_id)
    beat = {
        "incident_id": incident_id,
        "name": principal.name,
        "display_name": _display_name(request, principal.name),
        "open": body.open,
        "place": {"street_id": inc.street_id, "grid_id": inc.grid_id},
    }
    out = apply_beat(reg, svc.hub, beat)
    if svc.share_presence is not None:  # the other API processes' operators see this one too
        svc.share_presence(beat)
    return out
