"""Live video of a shard's camera, published only while an API process asks for it (shard side).

The shard already receives and decodes every one of its cameras, so live view relays what it has instead of
opening the camera a second time (SCALING.md, "Live video and stream health"). An API process with a viewer
sends a lease `{"camera", "fps"}` on `sharpeyes.camlive.want.<shard>` every couple of seconds; while a lease
holds, the shard JPEG-encodes that camera's newest decoded frame at most `fps` times a second (downscaled to
`max_width`) and publishes it on core NATS `sharpeyes.camlive.frame.<camera>`, once for every API process and
viewer together, with the camera's newest detector boxes in a header (the page draws them over the video).
No lease, no bytes: 3,116 idle cameras cost nothing. At most `max_cameras` are relayed at once per shard;
further asks are refused and counted.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from dashboard.live_source import FrameSource
from jetstream.observations import token
from sharpeyes.distributed.nats_link import NatsLink

log = logging.getLogger(__name__)

LIVE_ROOT = "sharpeyes.camlive"
LEASE_S = 6.0  # an ask keeps a camera relayed this long; API processes renew every RENEW_S
RENEW_S = 2.0
MAX_FPS = 15.0
MAX_WIDTH = 1280  # a 1080p main stream is sent at 1280 wide: ~100 KB per JPEG, well under NATS's 1 MB
MAX_BOXES = 100  # detector boxes per frame header (the highest scores): a header stays a few KB
Detections = Callable[[str], dict[str, Any] | None]


def want_subject(shard: int) -> str:
    return f"{LIVE_ROOT}.want.{shard}"


def frame_subject(camera_id: str) -> str:
    return f"{LIVE_ROOT}.frame.{token(camera_id)}"


def boxes_header(detections: dict[str, Any] | None) -> str | None:
    """The newest detector result as one header line (JSON has no newline), the best MAX_BOXES boxes."""
    if not detections:
        return None
    boxes = sorted(detections.get("boxes") or [], key=lambda b: -float(b.get("score", 0)))[:MAX_BOXES]
    return json.dumps({**detections, "boxes": boxes}, separators=(",", ":"))


def encode_jpeg(image: Any, max_width: int = MAX_WIDTH, quality: int = 75) -> bytes:
    import cv2

    height, width = image.shape[:2]
    if width > max_width:
        image = cv2.resize(
            image, (max_width, round(height * max_width / width)), interpolation=cv2.INTER_AREA
        )
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


class LiveFramePublisher:
    """One pump thread per leased camera; `runs(camera)` says whether this shard runs it now."""

    def __init__(
        self,
        link: NatsLink,
        shard: int,
        frames: FrameSource,
        runs: Callable[[str], bool],
        detections: Detections | None = None,
        max_cameras: int = 8,
        lease_s: float = LEASE_S,
    ) -> None:
        self.link, self.shard, self.frames, self.runs = link, shard, frames, runs
        self.detections = detections
        self.max_cameras, self.lease_s = max_cameras, lease_s
        self._leases: dict[str, tuple[float, float]] = {}  # camera -> (until monotonic, fps)
        self._pumps: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.published = self.refused = self.failures = 0
        self._refusal_logged = False

    def start(self) -> None:
        self.link.submit(self.link.subscribe(want_subject(self.shard), self._on_want))

    async def _on_want(self, msg: Any) -> None:
        try:
            doc = json.loads(msg.data)
            camera, fps = str(doc["camera"]), min(MAX_FPS, max(0.5, float(doc.get("fps", 5.0))))
        except (ValueError, KeyError, TypeError):
            log.debug("shard %d: ignored a malformed live-view ask", self.shard)
            return
        self.want(camera, fps)

    def want(self, camera: str, fps: float) -> bool:
        """Start or extend the camera's relay; False when this shard does not run it or is at its cap."""
        if self._stop.is_set() or not self.runs(camera):
            return False
        with self._lock:
            until = time.monotonic() + self.lease_s
            old = self._leases.get(camera)
            self._leases[camera] = (until, max(fps, old[1]) if old and old[0] > time.monotonic() else fps)
            pump = self._pumps.get(camera)
            if pump is not None and pump.is_alive():
                return True
            if len(self._pumps) >= self.max_cameras:
                self._leases.pop(camera, None)
                self.refused += 1
                if not self._refusal_logged:
                    self._refusal_logged = True
                    log.warning(
                        "shard %d: live view refused, %d cameras relayed already",
                        self.shard,
                        self.max_cameras,
                    )
                return False
            pump = threading.Thread(target=self._pump, args=(camera,), name=f"live-{camera}", daemon=True)
            self._pumps[camera] = pump
        pump.start()
        log.info("shard %d: relaying live video of camera %s", self.shard, camera)
        return True

    def relayed(self) -> list[str]:
        with self._lock:
            return sorted(self._pumps)

    def _lease(self, camera: str) -> tuple[float, float] | None:
        with self._lock:
            lease = self._leases.get(camera)
            if lease is None or lease[0] < time.monotonic() or self._stop.is_set():
                self._leases.pop(camera, None)
                self._pumps.pop(camera, None)
                return None
            return lease

    def _pump(self, camera: str) -> None:
        seq, due, subject = -1, 0.0, frame_subject(camera)
        while (lease := self._lease(camera)) is not None:
            wait = due - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                break
            try:
                frame = self.frames(camera, seq, 0.5)
                if frame is None:
                    continue
                body = encode_jpeg(frame.image)
                boxes = boxes_header(self.detections(camera)) if self.detections is not None else None
            except Exception:  # loop boundary: a pipeline mid-restart; the lease decides whether to go on
                self.failures += 1
                log.debug("shard %d: live frame of %s failed", self.shard, camera, exc_info=True)
                self._stop.wait(0.5)
                continue
            seq = frame.seq
            headers = {"captured-at": f"{frame.captured_at:.3f}", "shard": str(self.shard), "camera": camera}
            if boxes is not None:
                headers["detections"] = boxes
            if self.link.publish(subject, body, headers):
                self.published += 1
            due = max(due + 1.0 / lease[1], time.monotonic())
        log.info("shard %d: live video of camera %s no longer watched", self.shard, camera)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            pumps = list(self._pumps.values())
        for pump in pumps:
            pump.join(3.0)
