"""Camera health and evidence snapshots, scoped like incidents: a street- or grid-scoped token sees only
its own cameras and their pictures (others answer 404, so their existence is not confirmed). Pictures come
from the evidence storage (`Services.snapshots`: the snapshots folder or the S3 bucket)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel

from alarms.engine import IncidentNotFound
from dashboard.auth import CurrentPrincipal, Principal
from dashboard.evidence_http import evidence_response, lookup
from dashboard.responses import media
from dashboard.schemas import RowId
from dashboard.services import Services, VideoView
from video.status import CameraStatus

router = APIRouter(prefix="/api")


def services(request: Request) -> Services:
    return request.app.state.services


Svc = Annotated[Services, Depends(services)]


def _video(svc: Services) -> VideoView:
    if svc.video is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no cameras configured")
    return svc.video


def _jpeg(
    request: Request, svc: Services, principal: Principal, camera_id: str, filename: str
) -> Response:
    """Blocking (the store may be S3): route functions call it in the threadpool."""
    where = _video(svc).camera_scope(camera_id)
    store = svc.snapshots if where and principal.scope.allows(*where) else None
    found = lookup(lambda: store.find(camera_id, filename)) if store is not None else None
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such snapshot")
    return evidence_response(request, found, "image/jpeg")


class CameraList(BaseModel):
    items: list[CameraStatus]
    count: int


@router.get("/cameras", response_model=CameraList)
def get_cameras(svc: Svc, principal: CurrentPrincipal) -> CameraList:
    """Every camera the caller may see, with stream health (URLs redacted)."""
    if svc.video is None:
        return CameraList(items=[], count=0)
    items = [c for c in svc.video.status() if c.street_id and principal.scope.allows(c.street_id, c.grid_id)]
    return CameraList(items=items, count=len(items))


JPEG = media("image/jpeg", "The JPEG evidence picture (private, cacheable for an hour).")


@router.get("/snapshots/{camera_id}/{filename}", response_class=FileResponse, responses=JPEG)
def get_snapshot(
    request: Request, camera_id: str, filename: str, svc: Svc, principal: CurrentPrincipal
) -> Response:
    return _jpeg(request, svc, principal, camera_id, filename)


@router.get("/incidents/{incident_id}/snapshot", response_class=FileResponse, responses=JPEG)
async def get_incident_snapshot(
    request: Request, incident_id: RowId, svc: Svc, principal: CurrentPrincipal, level: str | None = None
) -> Response:
    """The incident's latest evidence picture, or the one of a level (`?level=suspected|confirmed`)."""
    try:
        inc = await run_in_threadpool(svc.engine.get, incident_id)
    except IncidentNotFound:
        inc = None
    if inc is None or not principal.scope.allows(inc.street_id, inc.grid_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such incident")
    name = inc.evidence.get(f"snapshot_{level}" if level else "snapshot")
    if not isinstance(name, str) or "/" not in name:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no snapshot for this incident")
    camera_id, _, filename = name.partition("/")
    return await run_in_threadpool(_jpeg, request, svc, principal, camera_id, filename)
