"""Live video routes: WebRTC signalling, the MJPEG and picture fallbacks, and the detector boxes that the
page draws over the video. Scoped like /api/cameras: a camera outside the caller's streets or grids is 404.
Long-lived MJPEG streams re-check the session, so signing out or disabling a user stops them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Protocol, runtime_checkable

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from dashboard.auth import Admin, CurrentPrincipal, Principal, still_signed_in
from dashboard.responses import Detections, LiveStatus, WebRtcAnswer, media
from dashboard.services import Services, VideoView
from dashboard.webrtc import NoLiveSource, ViewerLimit, WebRtcHub

router = APIRouter(prefix="/api", tags=["live video"])
BOUNDARY = "sharpeyesframe"
SESSION_RECHECK_S = 5.0


def services(request: Request) -> Services:
    return request.app.state.services


Svc = Annotated[Services, Depends(services)]


class Offer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sdp: str = Field(min_length=10, max_length=60000)
    type: str = Field(pattern="^offer$")


def _visible(svc: Services, principal: Principal, camera_id: str) -> None:
    where = svc.video.camera_scope(camera_id) if svc.video is not None else None
    if where is None or not principal.scope.allows(*where):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such camera")


def _hub(svc: Services) -> WebRtcHub:
    if svc.live_video is None or not svc.live_video.enabled:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "WebRTC live view is off; use MJPEG")
    return svc.live_video


@router.post("/cameras/{camera_id}/webrtc", response_model=WebRtcAnswer)
async def webrtc_offer(camera_id: str, offer: Offer, svc: Svc, principal: CurrentPrincipal) -> dict[str, str]:
    """The browser's SDP offer in, our answer out (no trickle ICE: loopback and LAN gather at once)."""
    _visible(svc, principal, camera_id)
    hub = _hub(svc)
    try:
        peer_id, sdp, kind = await hub.answer(camera_id, offer.sdp, offer.type, principal.name)
    except ViewerLimit:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, "too many live viewers of this camera"
        ) from None
    except NoLiveSource:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no live video for this camera") from None
    except ValueError as exc:  # an offer aiortc cannot answer (no H.264, malformed SDP)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"cannot answer this offer: {exc}"[:200]) from None
    return {"id": peer_id, "sdp": sdp, "type": kind}


@router.delete("/cameras/{camera_id}/webrtc/{peer_id}", status_code=204)
async def webrtc_close(camera_id: str, peer_id: str, svc: Svc, principal: CurrentPrincipal) -> Response:
    """The viewer leaves: its peer connection is closed now, not when ICE times out."""
    _visible(svc, principal, camera_id)
    hub = _hub(svc)
    peer = hub.owner(peer_id)
    if (
        peer is None
        or peer.camera_id != camera_id
        or (peer.principal != principal.name and not principal.at_least("admin"))
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such live view")
    await hub.close(peer_id)
    return Response(status_code=204)


@router.get("/live", response_model=LiveStatus, response_model_exclude_unset=True)
def live_status(svc: Svc, _: Admin) -> dict[str, Any]:
    """Peers, viewers and sources (which cameras are re-encoded), for operations; no URLs."""
    return svc.live_video.status() if svc.live_video is not None else {"enabled": False}


@runtime_checkable
class JpegView(Protocol):
    """A view whose frames arrive as JPEG already (the API role's relay from a Ray shard): sent on as is."""

    def latest_jpeg(self, camera_id: str, newer_than: int, timeout: float) -> tuple[int, float, bytes] | None:
        """(seq, captured_at, JPEG) newer than ``newer_than``, waiting up to ``timeout``."""
        ...


def _newest_jpeg(
    video: VideoView, camera_id: str, newer_than: int, timeout: float
) -> tuple[int, bytes] | None:
    """(seq, JPEG) of the newest frame: relayed JPEG as is, or a decoded frame encoded here (thread pool)."""
    if isinstance(video, JpegView):
        got = video.latest_jpeg(camera_id, newer_than, timeout)
        return None if got is None else (got[0], got[2])
    frame = video.latest_frame(camera_id, newer_than, timeout)
    return None if frame is None else (frame.seq, _jpeg(frame.image))


def _jpeg(image: Any, quality: int = 80) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


@router.get(
    "/cameras/{camera_id}/frame.jpg",
    response_class=Response,
    responses=media("image/jpeg", "The camera's newest decoded frame as a JPEG (not cached)."),
)
async def latest_picture(camera_id: str, svc: Svc, principal: CurrentPrincipal) -> Response:
    """The camera's newest decoded frame: the last fallback, refreshed by the page."""
    _visible(svc, principal, camera_id)
    assert svc.video is not None
    got = await run_in_threadpool(_newest_jpeg, svc.video, camera_id, -1, 0.0)
    if got is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no recent frame from this camera")
    return Response(got[1], media_type="image/jpeg", headers={"cache-control": "no-store"})


@router.get(
    "/cameras/{camera_id}/mjpeg",
    response_class=StreamingResponse,
    responses=media(
        f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        "Motion JPEG: one image/jpeg part per new frame until the client goes away or signs out.",
    ),
)
async def mjpeg(
    camera_id: str,
    request: Request,
    svc: Svc,
    principal: CurrentPrincipal,
    fps: Annotated[float, Query(gt=0, le=30)] = 5.0,
) -> StreamingResponse:
    """multipart/x-mixed-replace JPEGs of the newest frames, at most ``live_video.mjpeg_max_fps``."""
    _visible(svc, principal, camera_id)
    assert svc.video is not None
    video = svc.video
    counts: dict[str, int] = request.app.state.__dict__.setdefault("mjpeg_viewers", {})
    if counts.get(camera_id, 0) >= svc.live_config.max_viewers_per_camera:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many MJPEG viewers of this camera")
    period = 1.0 / min(fps, svc.live_config.mjpeg_max_fps)
    counts[camera_id] = counts.get(camera_id, 0) + 1

    async def parts() -> AsyncIterator[bytes]:
        seq, checked = -1, time.monotonic()
        try:
            while not await request.is_disconnected():
                started = time.monotonic()
                if started - checked > SESSION_RECHECK_S:
                    checked = started
                    if not await run_in_threadpool(still_signed_in, request):
                        return
                got = await run_in_threadpool(_newest_jpeg, video, camera_id, seq, 1.0)
                if got is not None:
                    seq, body = got
                    head = f"--{BOUNDARY}\r\ncontent-type: image/jpeg\r\ncontent-length: {len(body)}\r\n\r\n"
                    yield head.encode() + body + b"\r\n"
                await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))
        finally:
            counts[camera_id] -= 1

    return StreamingResponse(
        parts(),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"cache-control": "no-store", "x-content-type-options": "nosniff"},
    )


@router.get("/cameras/{camera_id}/detections", response_model=Detections, response_model_exclude_unset=True)
def detections(camera_id: str, svc: Svc, principal: CurrentPrincipal) -> dict[str, Any]:
    """The newest detector result for the overlay: boxes in frame pixels, with the frame size."""
    _visible(svc, principal, camera_id)
    assert svc.video is not None
    return svc.video.latest_detections(camera_id) or {"camera_id": camera_id, "boxes": [], "frame_size": None}
