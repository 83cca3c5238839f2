"""Live video of the shards' cameras in an API process: the newest relayed JPEG of each watched camera.

A viewer's request (MJPEG, the refreshed picture, or the WebRTC encoder's frame source) asks for a camera;
the first ask subscribes to its frame subject and leases it from the owning shard (shard_live.py), renewed
every couple of seconds while anyone here still asks. A camera nobody asked for in `idle_s` is unsubscribed
and its lease left to lapse, so the shard stops sending. Scope is checked by the routes before they ask.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from ingest.types import Frame
from sharpeyes.distributed.nats_link import NatsLink
from sharpeyes.distributed.shard_live import RENEW_S, frame_subject, want_subject

log = logging.getLogger(__name__)

FIRST_FRAME_S = 4.0  # how long a first ask waits for the shard's first frame
STALE_S = 5.0  # a frame older than this is not shown as live


@dataclass(slots=True, eq=False)
class _Feed:
    camera: str
    shard: int
    cond: threading.Condition = field(default_factory=threading.Condition)
    seq: int = 0
    captured_at: float = 0.0
    received: float = 0.0  # monotonic
    jpeg: bytes = b""
    decoded: Frame | None = None
    detections: dict[str, Any] | None = None  # the shard's newest detector boxes, as the page draws them
    asked: float = 0.0  # monotonic: the last viewer request
    renewed: float = 0.0
    sub: Any = None


class LiveRelay:
    """`latest_jpeg` / `latest_frame` for cameras owned by shards (`owner(camera)` gives the shard)."""

    def __init__(
        self,
        link: NatsLink,
        owner: Callable[[str], int],
        registry: CollectorRegistry | None = None,
        fps: float = 10.0,
        max_cameras: int = 32,
        idle_s: float = 10.0,
    ) -> None:
        self.link, self.owner, self.fps = link, owner, fps
        self.max_cameras, self.idle_s = max_cameras, idle_s
        self._feeds: dict[str, _Feed] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()
        self.frames = Counter(
            "sharpeyes_shard_live_frames_total",
            "Live frames relayed from shards into this API process, by outcome",
            ["outcome"],  # received, refused (too many cameras watched at once)
            registry=registry if registry is not None else CollectorRegistry(),
        )

    def start(self) -> None:
        """The renew/idle sweep; feeds start on the first ask."""
        self._timer = threading.Thread(target=self._sweep_loop, name="live-relay-leases", daemon=True)
        self._timer.start()

    def watched(self) -> list[str]:
        with self._lock:
            return sorted(self._feeds)

    # ----- asked from request threads ---------------------------------------------------------------------
    def latest_jpeg(
        self, camera_id: str, newer_than: int = -1, timeout: float = 0.0
    ) -> tuple[int, float, bytes] | None:
        """(seq, captured_at, JPEG) newer than `newer_than`, waiting up to `timeout` (longer at first)."""
        feed = self._ask(camera_id)
        if feed is None:
            return None
        now = time.monotonic()
        with feed.cond:
            live = feed.seq > 0 and now - feed.received <= STALE_S
            wait = timeout if live else max(timeout, FIRST_FRAME_S)
            feed.cond.wait_for(
                lambda: feed.seq > newer_than and time.monotonic() - feed.received <= STALE_S, wait
            )
            if feed.seq <= newer_than or time.monotonic() - feed.received > STALE_S:
                return None
            return feed.seq, feed.captured_at, feed.jpeg

    def latest_frame(self, camera_id: str, newer_than: int = -1, timeout: float = 0.0) -> Frame | None:
        """The same frame decoded (for the WebRTC encoder and other frame readers); decoded once per frame."""
        got = self.latest_jpeg(camera_id, newer_than, timeout)
        if got is None:
            return None
        seq, captured_at, body = got
        feed = self._feeds.get(camera_id)
        cached = feed.decoded if feed is not None else None
        if cached is not None and cached.seq == seq:
            return cached
        import cv2
        import numpy as np

        image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            return None
        frame = Frame(camera_id, seq, captured_at, time.monotonic_ns(), image)
        if feed is not None:
            feed.decoded = frame
        return frame

    def _ask(self, camera_id: str) -> _Feed | None:
        now = time.monotonic()
        with self._lock:
            feed = self._feeds.get(camera_id)
            if feed is None:
                if len(self._feeds) >= self.max_cameras:
                    self.frames.labels("refused").inc()
                    return None
                feed = self._feeds[camera_id] = _Feed(camera_id, self.owner(camera_id), asked=now)
                self.link.submit(self._open(feed))
            feed.asked = now
        return feed

    # ----- on the link's loop ------------------------------------------------------------------------------
    async def _open(self, feed: _Feed) -> None:
        """Subscribe first, then ask: the shard's first frame cannot overtake the subscription."""

        async def on_frame(msg: Any) -> None:
            self._on_frame(feed, msg)

        feed.sub = await self.link.subscribe(frame_subject(feed.camera), on_frame)
        self._renew(feed)

    def _renew(self, feed: _Feed) -> None:
        body = json.dumps({"camera": feed.camera, "fps": self.fps}).encode()
        if self.link.publish(want_subject(feed.shard), body):
            feed.renewed = time.monotonic()

    def _on_frame(self, feed: _Feed, msg: Any) -> None:
        headers = msg.headers or {}
        if headers.get("camera") not in (None, feed.camera):
            return
        try:
            captured_at = float(headers.get("captured-at", time.time()))
        except ValueError:
            captured_at = time.time()
        boxes = _detections(headers.get("detections"), feed.camera)
        with feed.cond:
            if boxes is not None:
                feed.detections = boxes
            with self._lock:
                self._seq += 1  # this process's own sequence: a restarted shard starts its frames again
                feed.seq = self._seq
            feed.captured_at, feed.received, feed.jpeg = captured_at, time.monotonic(), bytes(msg.data)
            feed.cond.notify_all()
        self.frames.labels("received").inc()

    def latest_detections(self, camera_id: str) -> dict[str, Any] | None:
        """The boxes that came with the watched camera's frames (none asked for: boxes follow live video)."""
        feed = self._feeds.get(camera_id)
        if feed is None or time.monotonic() - feed.received > STALE_S:
            return None
        return feed.detections

    async def _close(self, feed: _Feed) -> None:
        if feed.sub is not None:
            await feed.sub.unsubscribe()

    def _sweep_loop(self) -> None:
        while not self._stop.wait(RENEW_S / 2):
            self.sweep()

    def sweep(self) -> None:
        """Renew the leases of watched cameras; drop the ones nobody asked for in `idle_s`."""
        now = time.monotonic()
        with self._lock:
            idle = [f for f in self._feeds.values() if now - f.asked > self.idle_s]
            for f in idle:
                del self._feeds[f.camera]
            busy = [f for f in self._feeds.values() if now - f.renewed >= RENEW_S]
        for f in idle:
            self.link.submit(self._close(f))
            log.info("live relay: camera %s no longer watched here", f.camera)
        for f in busy:
            if f.sub is not None:
                self._renew(f)

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(5.0)


def _detections(raw: str | None, camera: str) -> dict[str, Any] | None:
    """A frame's `detections` header, or None when absent or not what the page can draw."""
    if not raw:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("boxes"), list):
        return None
    return {**doc, "camera_id": camera}
