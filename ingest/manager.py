"""Many cameras: start and stop their readers, watch them, and hand out their newest frames.

A watchdog thread ticks every ``watchdog_interval_s``: it restarts stalled or dead readers (rate-limited per
camera), refreshes the gauges, and feeds each camera's :class:`~ingest.health.DownDetector`, whose transitions
go to ``on_video_loss`` (the alarm layer turns them into ``video_loss`` incidents).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from ingest.backoff import RestartLimiter
from ingest.camera import FrameCallback, HealthCallback, StreamReader
from ingest.camera_spec import CameraSpec
from ingest.handoff import LatestFrame
from ingest.health import DownDetector, VideoLossEvent
from ingest.metrics import STATE_CODES, IngestMetrics
from ingest.packet_ring import TapFactory
from ingest.types import Frame, StreamHealth, StreamState

log = logging.getLogger(__name__)

VideoLossCallback = Callable[[VideoLossEvent], None]
DETECT = "detect"
MAIN = "main"
# A reader that shows no progress for its own timeouts plus this is hung (e.g. stuck in a consumer callback).
HUNG_GRACE_S = 2.0


@dataclass
class _Camera:
    spec: CameraSpec
    slots: dict[str, LatestFrame]
    down: DownDetector
    seqs: dict[str, Iterator[int]] = field(
        default_factory=lambda: {DETECT: itertools.count(), MAIN: itertools.count()}
    )
    dropped_seen: int = 0
    removed: bool = False
    readers: dict[str, StreamReader] = field(default_factory=dict)
    limiter: RestartLimiter = field(default_factory=RestartLimiter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def primary(self) -> str:
        """The stream that feeds the detectors (and decides video loss)."""
        return DETECT if self.spec.detect_url else MAIN


class CameraManager:
    """Owns one reader thread per camera stream. Thread-safe; use as a context manager or start()/stop().

    ``on_state_change(health)`` runs on the reader's thread at every state or error change, and
    ``on_video_loss(event)`` on a reader's or the watchdog's thread: both must be quick and must not block
    (hand the value to an asyncio loop with ``loop.call_soon_threadsafe``, or to a queue).
    """

    def __init__(
        self,
        cameras: Iterable[CameraSpec] = (),
        *,
        registry: CollectorRegistry | None = None,
        on_state_change: HealthCallback | None = None,
        on_video_loss: VideoLossCallback | None = None,
        watchdog_interval_s: float = 0.5,
        packet_tap: TapFactory | None = None,
    ) -> None:
        self.metrics = IngestMetrics(registry)
        self._packet_tap = packet_tap  # camera id → where its main stream's encoded packets go (clips)
        self._on_state_change = on_state_change
        self._on_video_loss = on_video_loss
        self._interval = watchdog_interval_s
        self._cameras: dict[str, _Camera] = {}
        self._subscribers: list[FrameCallback] = []
        self._logged_subscribers: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._running = False
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        for spec in cameras:
            self.add(spec)

    # -- lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> CameraManager:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
            self._stop.clear()
            for cam in self._cameras.values():
                self._start_camera(cam)
            self._watchdog = threading.Thread(target=self._watch, name="cam-watchdog", daemon=True)
            self._watchdog.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every reader and wait up to ``timeout`` seconds in total for their threads."""
        with self._lock:
            self._running = False
            self._stop.set()
            cams = list(self._cameras.values())
        readers: list[StreamReader] = []
        for cam in cams:
            with cam.lock:  # after this no watchdog restart can add a reader
                readers += cam.readers.values()
        for reader in readers:
            reader.stop()
        deadline = time.monotonic() + timeout
        for reader in readers:
            reader.join(max(0.0, deadline - time.monotonic()))
        if self._watchdog is not None:
            self._watchdog.join(max(0.1, deadline - time.monotonic()))
            self._watchdog = None

    def add(self, spec: CameraSpec) -> None:
        """Register a camera (started at once if the manager runs)."""
        with self._lock:
            if spec.id in self._cameras:
                raise ValueError(f"camera {spec.id!r} already added")
            detect = LatestFrame(spec.max_frame_age_s)
            slots = {DETECT: detect, MAIN: LatestFrame(spec.max_frame_age_s) if spec.detect_url else detect}
            cam = _Camera(spec, slots, DownDetector(spec.id, spec.down_after_s, spec.up_after_s))
            self._cameras[spec.id] = cam
            if self._running:
                self._start_camera(cam)

    def remove(self, camera_id: str, timeout: float = 2.0) -> None:
        with self._lock:
            cam = self._cameras.pop(camera_id)
        with cam.lock:  # no watchdog restart can slip in after this
            cam.removed = True
            readers = list(cam.readers.values())
        for reader in readers:
            reader.stop()
        for reader in readers:
            reader.join(timeout)
        self.metrics.forget(camera_id)

    def restart(self, camera_id: str) -> None:
        """Replace the camera's readers with fresh ones (counters carry over)."""
        cam = self._cameras[camera_id]
        for stream in list(cam.readers):
            self._restart_reader(cam, stream, "requested")

    # -- consumers ---------------------------------------------------------------------------------------

    @property
    def camera_ids(self) -> list[str]:
        with self._lock:
            return list(self._cameras)

    def subscribe(self, callback: FrameCallback) -> Callable[[], None]:
        """Call ``callback(frame)`` on each new detect-stream frame, on the reader's thread.

        Keep it cheap: e.g. note that a camera has news and let the batcher pull :meth:`latest`.
        Returns an unsubscribe function.
        """
        with self._lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [cb for cb in self._subscribers if cb is not callback]

        return unsubscribe

    def latest(
        self, camera_id: str, *, newer_than: int = -1, timeout: float = 0.0, stream: str = DETECT
    ) -> Frame | None:
        """The newest frame (``seq > newer_than``) not older than the camera's max age, else ``None``.

        ``stream="main"`` reads the full-resolution stream of a camera that has a ``detect_url``.
        """
        return self._cameras[camera_id].slots[stream].get(newer_than, timeout)

    def health(self, *, all_streams: bool = False) -> list[StreamHealth]:
        """One entry per camera (its detection stream), or per stream with ``all_streams``."""
        now = time.monotonic()
        out: list[StreamHealth] = []
        with self._lock:
            cams = list(self._cameras.values())
        for cam in cams:
            for stream, reader in cam.readers.items():
                if all_streams or stream == cam.primary:
                    out.append(reader.health(now))
            if not cam.readers:
                out.append(
                    StreamHealth(
                        cam.spec.id,
                        StreamState.STOPPED,
                        0.0,
                        None,
                        0,
                        url=cam.spec.safe_url,
                        stream=cam.primary,
                    )
                )
        return out

    # -- internals ---------------------------------------------------------------------------------------

    def _start_camera(self, cam: _Camera) -> None:
        streams = [(DETECT, cam.spec.detect_url)] if cam.spec.detect_url else []
        streams.append((MAIN, cam.spec.url))
        for stream, _url in streams:
            self._new_reader(cam, stream, carry=None).start()

    def _new_reader(self, cam: _Camera, stream: str, carry: StreamReader | None) -> StreamReader:
        spec = cam.spec
        primary = stream == cam.primary
        url = spec.detect_url if stream == DETECT and spec.detect_url else spec.url
        holder: list[StreamReader] = []
        reader = StreamReader(
            spec,
            url,
            cam.slots[stream],
            stream=stream,
            seq=cam.seqs[stream],
            on_frame=self._dispatch if primary else None,
            on_state=lambda h: self._reader_state(cam, holder[0], h),
            metrics=self.metrics if primary else None,
            keyframes_only=bool(spec.detect_url) and stream == MAIN and spec.main_keyframes_only,
            carry=carry,
            tap=self._packet_tap(spec.id) if self._packet_tap is not None and stream == MAIN else None,
        )
        holder.append(reader)
        cam.readers[stream] = reader
        return reader

    def _restart_reader(self, cam: _Camera, stream: str, why: str) -> bool:
        now = time.monotonic()
        with cam.lock:
            if not self._running or cam.removed:
                return False
            hold = cam.limiter.delay(now)
            if hold > 0:
                return False
            cam.limiter.record(now)
            old = cam.readers[stream]
            old.stop()
            log.warning("camera %s %s: restarting reader (%s)", cam.spec.id, stream, why)
            reader = self._new_reader(cam, stream, carry=old)
        if stream == cam.primary:
            self.metrics.restarts.labels(cam.spec.id).inc()
        reader.start()
        return True

    def _dispatch(self, frame: Frame) -> None:
        for callback in self._subscribers:  # copy-on-write list: safe without the lock
            try:
                callback(frame)
            except Exception:  # one consumer's bug must neither stop the camera nor starve the others
                self.metrics.loop_errors.labels(frame.camera_id).inc()
                name = getattr(callback, "__qualname__", repr(callback))
                if (frame.camera_id, name) not in self._logged_subscribers:
                    self._logged_subscribers.add((frame.camera_id, name))
                    log.exception(
                        "camera %s: frame subscriber %s failed (logged once)", frame.camera_id, name
                    )

    def _reader_state(self, cam: _Camera, reader: StreamReader, health: StreamHealth) -> None:
        if cam.readers.get(reader.stream) is not reader:
            return  # a replaced reader winding down
        if self._on_state_change is not None:
            self._on_state_change(health)
        if reader.stream == cam.primary and health.state is not StreamState.STOPPED:
            self._feed_down(cam, health, time.monotonic())

    def _feed_down(self, cam: _Camera, health: StreamHealth, now: float) -> None:
        with cam.lock:
            event = cam.down.update(health.state is StreamState.ONLINE, now, health.error)
        if event is not None:
            log.warning("camera %s: video %s", cam.spec.id, "lost" if event.down else "back")
            if self._on_video_loss is not None:
                try:
                    self._on_video_loss(event)
                except Exception:
                    log.exception("camera %s: on_video_loss callback failed", cam.spec.id)

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                cams = list(self._cameras.values())
            for cam in cams:
                try:
                    self._check(cam, time.monotonic())
                except Exception:  # loop boundary: the watchdog itself must survive
                    log.exception("camera %s: watchdog check failed", cam.spec.id)

    def _check(self, cam: _Camera, now: float) -> None:
        spec = cam.spec
        for stream, reader in list(cam.readers.items()):
            if self._stop.is_set():
                return
            health = reader.health(now)
            if stream == cam.primary:
                labels = spec.id
                self.metrics.fps_in.labels(labels).set(health.fps)
                self.metrics.fps_out.labels(labels).set(health.fps_out)
                self.metrics.state.labels(labels).set(STATE_CODES[health.state])
                if health.dropped > cam.dropped_seen:
                    self.metrics.dropped.labels(labels).inc(health.dropped - cam.dropped_seen)
                    cam.dropped_seen = health.dropped
                if health.last_frame_age is not None:
                    self.metrics.frame_age.labels(labels).set(health.last_frame_age)
                self._feed_down(cam, health, now)
            if not reader.alive:
                self._restart_reader(cam, stream, "reader thread ended")
            elif now - reader.heartbeat > reader.stall_s + spec.open_timeout_s + HUNG_GRACE_S:
                self._restart_reader(cam, stream, f"no progress for {now - reader.heartbeat:.0f} s")
            elif health.state is StreamState.ONLINE and (health.last_frame_age or 0) > reader.stall_s:
                reader.request_reconnect()
