"""Evidence clips over HTTP, never anonymously: with a token or the page's session, scoped like the camera
(others answer 404), or through a signed link that expires (for a field worker's phone, minted by someone
who may see the clip). Range requests are served, so the page's player seeks without the whole file —
from the clips folder, or streamed from the S3 bucket (dashboard/evidence_http.py). A process without
cameras (the API role) serves the clips the others wrote to the shared storage (`Services.clip_store`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from alarms.engine import IncidentNotFound
from dashboard.auth import CurrentPrincipal, Principal
from dashboard.evidence_http import evidence_response, lookup
from dashboard.responses import media
from dashboard.schemas import RowId
from dashboard.services import Services
from video.clip_store import CLIP_ID, ClipStore

router = APIRouter(prefix="/api")

MP4 = media("video/mp4", "The evidence clip (H.264 in MP4, index first; byte ranges served).")
LINK_TTL_S = 3600
MAX_LINK_TTL_S = 7 * 86400


def services(request: Request) -> Services:
    return request.app.state.services


Svc = Annotated[Services, Depends(services)]


def _store(svc: Services) -> ClipStore:
    store = svc.clips.store if svc.clips is not None else svc.clip_store
    if store is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no clips in this process")
    return store


def _link_key(svc: Services) -> bytes:
    key = svc.clips.link_key if svc.clips is not None else svc.clip_link_key
    if key is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no clips in this process")
    return key


def _visible(svc: Services, principal: Principal, clip_id: str) -> bool:
    m = CLIP_ID.match(clip_id)
    where = svc.video.camera_scope(m.group(1)) if m and svc.video is not None else None
    return where is not None and principal.scope.allows(*where)


def _file(request: Request, store: ClipStore, clip_id: str, download: bool) -> Response:
    found = lookup(lambda: store.find(clip_id))
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such clip")
    return evidence_response(
        request, found, "video/mp4", filename=f"{clip_id.replace('~', '_')}.mp4" if download else None
    )


@router.get("/clips/{clip_id}", response_class=FileResponse, responses=MP4)
def get_clip(
    request: Request, svc: Svc, principal: CurrentPrincipal, clip_id: str, download: bool = False
) -> Response:
    """The clip file; `?download=1` asks the browser to save it."""
    store = _store(svc)
    if not _visible(svc, principal, clip_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such clip")
    return _file(request, store, clip_id, download)


def _signature(key: bytes, clip_id: str, expires: int) -> str:
    return hmac.new(key, f"{clip_id}\n{expires}".encode(), hashlib.sha256).hexdigest()


class ClipLink(BaseModel):
    url: str = Field(description="A link that plays the clip without a token until it expires")
    expires_at: float


@router.post("/clips/{clip_id}/link", response_model=ClipLink)
def make_link(
    svc: Svc, principal: CurrentPrincipal, clip_id: str, ttl_s: Annotated[int, Query(ge=60)] = LINK_TTL_S
) -> ClipLink:
    """A signed link that expires (at most a week; void when the service restarts: the key is per run)."""
    store, key = _store(svc), _link_key(svc)
    if not _visible(svc, principal, clip_id) or lookup(lambda: store.find(clip_id)) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such clip")
    expires = int(time.time()) + min(ttl_s, MAX_LINK_TTL_S)
    sig = _signature(key, clip_id, expires)
    return ClipLink(url=f"/api/signed-clips/{clip_id}?expires={expires}&sig={sig}", expires_at=expires)


@router.get("/signed-clips/{clip_id}", response_class=FileResponse, responses=MP4)
def get_signed_clip(
    request: Request, svc: Svc, clip_id: str, expires: int = 0, sig: str = "", download: bool = False
) -> Response:
    """A clip through a link from `POST /api/clips/{clip_id}/link`: the signature is the credential."""
    store, key = _store(svc), _link_key(svc)
    good = hmac.compare_digest(_signature(key, clip_id, expires), sig)
    if not good or expires < time.time():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "link expired or not valid")
    return _file(request, store, clip_id, download)


class IncidentClips(BaseModel):
    items: list[dict] = Field(description="The incident's clips as its evidence records them")
    recording: list[str] = Field(description="Cameras of the incident whose clip is still being written")


@router.get("/incidents/{incident_id}/clips", response_model=IncidentClips)
async def get_incident_clips(incident_id: RowId, svc: Svc, principal: CurrentPrincipal) -> IncidentClips:
    try:
        inc = await run_in_threadpool(svc.engine.get, incident_id)
    except IncidentNotFound:
        inc = None
    if inc is None or not principal.scope.allows(inc.street_id, inc.grid_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such incident")
    items = [c for c in inc.evidence.get("clips") or [] if isinstance(c, dict)]
    cameras = [inc.source_id] if inc.source_kind == "camera" else inc.evidence.get("cameras") or []
    recording = [c for c in cameras if svc.clips is not None and svc.clips.is_recording(c)]
    return IncidentClips(items=items, recording=recording)
