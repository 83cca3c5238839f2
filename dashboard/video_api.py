"""Camera health and evidence snapshots, scoped like incidents: a street- or grid-scoped token sees only
its own cameras and their pictures (others answer 404, so their existence is not confirmed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel

from alarms.engine import IncidentNotFound
from dashboard.auth import CurrentPrincipal, Principal
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


def _jpeg(video: VideoView, principal: Principal, camera_id: str, filename: str) -> FileResponse:
    where = video.camera_scope(camera_id)
    path = video.snapshot_path(camera_id, filename) if where and principal.scope.allows(*where) else None
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such snapshot")
    return FileResponse(path, media_type="image/jpeg", headers={"cache-control": "private, max-age=3600"})


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
def get_snapshot(camera_id: str, filename: str, svc: Svc, principal: CurrentPrincipal) -> FileResponse:
    return _jpeg(_video(svc), principal, camera_id, filename)


@router.get("/incidents/{incident_id}/snapshot", response_class=FileResponse, responses=JPEG)
async def get_incident_snapshot(
    incident_id: RowId, svc: Svc, principal: CurrentPrincipal, level: str | None = None
) -> FileResponse:
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
    return _jpeg(_video(svc), principal, camera_id, filename)
