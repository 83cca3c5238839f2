"""Field photos over HTTP: the phone sends the picture as the request body (no multipart parser needed, and
a slow connection resends one file, not a form); the server checks it by content, keeps its EXIF position
as data, and serves a clean copy and a thumbnail to whoever may see the incident, from the evidence
storage (a folder or S3, dashboard/evidence_http.py)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from sqlalchemy import insert

from alarms.field_queries import photo
from alarms.storage.schema import field_photos
from dashboard.api import Svc, _visible
from dashboard.auth import CurrentPrincipal
from dashboard.errors import CodedError
from dashboard.evidence_http import evidence_response, lookup
from dashboard.field_api import FieldWorker, photo_out
from dashboard.field_schemas import Photo
from dashboard.photos import PhotoRefused, PhotoStore, check
from dashboard.responses import media
from dashboard.schemas import RowId
from dashboard.services import Services

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/field", tags=["field"])


async def _read(request: Request, limit: int) -> bytes:
    """The body, refused once it passes the limit (the body-limit middleware has let uploads through)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise CodedError(413, "photo_too_large", f"photo larger than {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/incidents/{incident_id}/photos",
    response_model=Photo,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/jpeg", "image/png", "image/heic")
            },
        }
    },
)
async def upload(incident_id: RowId, request: Request, svc: Svc, principal: FieldWorker) -> dict[str, Any]:
    """One photo as the raw body (JPEG, PNG or HEIC, told apart by content). Refused with a code:
    photo_type, photo_too_large, photo_corrupt; a refusal stores nothing."""
    _visible(svc, principal, incident_id)
    data = await _read(request, svc.field.photo_max_bytes)
    try:
        checked = await run_in_threadpool(check, data, svc.field.photo_max_bytes)
    except PhotoRefused as exc:
        status = 413 if exc.code == "photo_too_large" else 415 if exc.code == "photo_type" else 422
        raise CodedError(status, exc.code, str(exc)) from None
    return await run_in_threadpool(_store, svc, incident_id, principal.name, checked, len(data))


def photo_store(svc: Services) -> PhotoStore:
    """The `photos` area of the process's evidence storage (`Services.photos_dir` with folders)."""
    return PhotoStore(svc.evidence.area("photos", svc.photos_dir))


def _store(svc: Services, incident_id: int, who: str, checked: Any, size: int) -> dict[str, Any]:
    try:
        name, thumb = photo_store(svc).save(incident_id, checked)
    except OSError as exc:  # counted by the store; nothing is recorded, the phone may send it again
        log.error("incident %s: photo from %s not stored: %s", incident_id, who, exc)
        raise CodedError(503, "storage_unavailable", "the photo could not be stored; send it again") from None
    row = {
        "incident_id": incident_id,
        "uploaded_by": who,
        "file": name,
        "thumb": thumb,
        "media_type": checked.media_type,
        "size": size,
        "width": checked.width,
        "height": checked.height,
        "exif_location": checked.location,
        "created_at": svc.clock(),
    }
    with svc.store.write() as conn:
        new_id = conn.execute(insert(field_photos).values(**row).returning(field_photos.c.id)).scalar_one()
    return photo_out({**row, "id": new_id})


def _file(request: Request, svc: Services, principal: Any, photo_id: int, thumb: bool) -> Response:
    with svc.store.read() as conn:
        found = photo(conn, photo_id)
    if found is None:
        raise CodedError(404, "not_found", "no such photo")
    _visible(svc, principal, found["incident_id"])
    store, name = photo_store(svc), found["thumb" if thumb else "file"]
    obj = lookup(lambda: store.find(found["incident_id"], name))
    if obj is None:
        raise CodedError(404, "not_found", "no such photo")
    return evidence_response(request, obj, "image/jpeg", cache="private, max-age=86400")


@router.get(
    "/photos/{photo_id}",
    response_class=FileResponse,
    responses=media("image/jpeg", "The photo, re-encoded without metadata."),
)
def get_photo(request: Request, photo_id: RowId, svc: Svc, principal: CurrentPrincipal) -> Response:
    return _file(request, svc, principal, photo_id, thumb=False)


@router.get(
    "/photos/{photo_id}/thumb", response_class=FileResponse, responses=media("image/jpeg", "Thumbnail.")
)
def get_thumb(request: Request, photo_id: RowId, svc: Svc, principal: CurrentPrincipal) -> Response:
    return _file(request, svc, principal, photo_id, thumb=True)
