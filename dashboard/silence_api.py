"""False alarms' silences (who, why, until when) for the camera and device views, lifting one early, the
silence policy the cancel form offers, and the merge chooser's candidates. Scoped like incidents: what is
out of the caller's scope answers 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from alarms.engine import IncidentNotFound
from alarms.merges import merge_candidates
from alarms.silences import Silence, SilenceEnded, SilenceNotFound, get_silence, list_silences
from alarms.timefmt import iso
from dashboard.auth import CurrentPrincipal, Operator
from dashboard.errors import CodedError
from dashboard.schemas import RowId
from dashboard.services import Services

router = APIRouter(prefix="/api")


def services(request: Request) -> Services:
    return request.app.state.services


Svc = Annotated[Services, Depends(services)]


class SilenceOut(BaseModel):
    id: int
    camera_id: str
    category: str
    rule: str | None
    incident_id: int = Field(description="The incident cancelled as a false alarm.")
    grid_id: str
    street_id: str
    created_by: str
    created_by_name: str | None = Field(description="The display name of who cancelled it, when known.")
    reason: str | None = Field(description="The note given with the cancel.")
    created_at: str
    until: str
    active: bool
    ended_at: str | None
    ended_by: str | None
    end_reason: str | None = Field(description="expired, lifted or replaced")
    suppressed: int = Field(description="Sightings that opened nothing while it ran.")


class SilenceList(BaseModel):
    items: list[SilenceOut]


class SilencePolicy(BaseModel):
    min_s: float
    categories: dict[str, dict[str, float]] = Field(description="category → {default_s, max_s}")


class MergeCandidate(BaseModel):
    id: int
    category: str
    state: str
    title: str
    grid_id: str
    street_id: str
    source_id: str
    created_at: str
    same_category: bool
    same_grid: bool
    apart_s: float


class MergeCandidates(BaseModel):
    items: list[MergeCandidate]


def _names(request: Request) -> dict[str, str]:
    signin = getattr(request.app.state, "signin", None)
    users = getattr(signin, "users", None)
    names = getattr(users, "display_names", None)
    return names() if callable(names) else {}


def _out(s: Silence, names: dict[str, str], now: float) -> dict[str, Any]:
    who = s.created_by.split("/")[-1]
    return {
        **{k: getattr(s, k) for k in ("id", "camera_id", "category", "rule", "incident_id", "grid_id")},
        **{k: getattr(s, k) for k in ("street_id", "created_by", "reason", "ended_by", "end_reason")},
        "created_by_name": names.get(s.created_by) or names.get(who),
        "created_at": iso(s.created_at),
        "until": iso(s.until),
        "active": s.ended_at is None and s.until > now,
        "ended_at": iso(s.ended_at),
        "suppressed": s.suppressed,
    }


@router.get("/silences", response_model=SilenceList)
def get_silences(
    request: Request,
    svc: Svc,
    principal: CurrentPrincipal,
    camera: str | None = None,
    active: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    with svc.store.read() as conn:
        rows = list_silences(conn, active=active, camera_id=camera, limit=limit)
    now = svc.clock()
    names = _names(request)
    allowed = [s for s in rows if principal.scope.allows(s.street_id, s.grid_id)]
    return {"items": [_out(s, names, now) for s in allowed]}


@router.post("/silences/{silence_id}/lift", response_model=SilenceOut)
async def lift_silence(silence_id: RowId, request: Request, svc: Svc, principal: Operator) -> dict[str, Any]:
    """End a silence early: the camera's rules re-arm, so what is still in view opens a new incident."""
    try:
        await run_in_threadpool(svc.engine.lift_silence, silence_id, principal.name, principal.scope.allows)
    except SilenceNotFound:
        raise CodedError(404, "silence_not_found", "no such silence") from None
    except SilenceEnded:
        raise CodedError(409, "silence_ended", "the silence has already ended") from None
    with svc.store.read() as conn:
        found = get_silence(conn, silence_id)
    assert found is not None  # it was just lifted
    return _out(found, _names(request), svc.clock())


@router.get("/silence-policy", response_model=SilencePolicy)
def get_silence_policy(svc: Svc, principal: CurrentPrincipal) -> dict[str, Any]:
    """What a false alarm silences by default and the longest an operator may choose, per category."""
    cfg = svc.engine.silences
    cats = {k: {"default_s": v.default_s, "max_s": v.max_s} for k, v in cfg.categories.items()}
    return {"min_s": cfg.min_s, "categories": cats}


@router.get("/incidents/{incident_id}/merge-candidates", response_model=MergeCandidates)
def get_merge_candidates(incident_id: RowId, svc: Svc, principal: CurrentPrincipal) -> dict[str, Any]:
    """Active incidents this one may be merged into: same street, in scope, near in time; same category
    first, then same grid, then nearest in time."""
    try:
        source = svc.engine.get(incident_id)
    except IncidentNotFound:
        raise CodedError(404, "not_found", "no such incident") from None
    if not principal.scope.allows(source.street_id, source.grid_id):
        raise CodedError(404, "not_found", "no such incident")
    with svc.store.read() as conn:
        found = merge_candidates(conn, source, principal.scope.allows)
    items = [
        {
            **{k: getattr(c.incident, k) for k in ("id", "category", "state", "title", "grid_id")},
            **{k: getattr(c.incident, k) for k in ("street_id", "source_id")},
            "created_at": iso(c.incident.created_at),
            "same_category": c.same_category,
            "same_grid": c.same_grid,
            "apart_s": round(c.apart_s, 1),
        }
        for c in found
    ]
    return {"items": items}
