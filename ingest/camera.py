"""One camera stream read by one thread: connect, decode, publish the newest frame, reconnect on failure.

The thread spends its time inside FFmpeg (GIL released), so one thread per camera scales across cores.
Expected failures (refused, unreachable, bad data…) are classified into :class:`~ingest.errors.StreamError`;
anything else is caught once at the loop boundary, logged with the camera id and a redacted traceback,
and counted.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import av
import av.logging
import cv2
import numpy as np

from ingest import errors
from ingest.backoff import Backoff
from ingest.camera_spec import CameraSpec
from ingest.decode import DEFAULT_BACKEND, OpenOptions, VideoInput, log_lines, open_input
from ingest.errors import StreamError, classify
from ingest.handoff import LatestFrame
from ingest.health import RateMeter
from ingest.metrics import STATE_CODES, IngestMetrics
from ingest.pacer import Pacer
from ingest.packet_ring import PacketTap
from ingest.redact import redact_text, redact_url, url_secrets
from ingest.sources import SourceKind, is_live, open_target, source_kind
from ingest.types import Frame, StreamHealth, StreamState

log = logging.getLogger(__name__)

FrameCallback = Callable[[Frame], None]
HealthCallback = Callable[[StreamHealth], None]


class StreamReader:
    """Reads one URL of one camera on its own daemon thread until :meth:`stop`.

    ``seq`` is shared across the camera's successive readers so frame numbers never repeat after a restart.
    """

    def __init__(
        self,
        spec: CameraSpec,
        url: str,
        slot: LatestFrame,
        *,
        stream: str = "main",
        seq: Iterator[int] | None = None,
        on_frame: FrameCallback | None = None,
        on_state: HealthCallback | None = None,
        metrics: IngestMetrics | None = None,
        keyframes_only: bool = False,
        rng: random.Random | None = None,
        carry: StreamReader | None = None,
        tap: PacketTap | None = None,
    ) -> None:
        self.spec = spec
        self._tap = tap  # evidence clips: gets the encoded packets (PyAV decoder only)
        self.camera_id = spec.id
        self.stream = stream
        self.slot = slot
        self.kind = source_kind(url)
        self.safe_url = redact_url(url)
        self._target = open_target(url)
        self._secrets = url_secrets(url)
        self._seq = seq if seq is not None else itertools.count()
        self._on_frame = on_frame
        self._on_state = on_state
        self._keyframes_only = keyframes_only
        # Keyframes come once per GOP (often 2-10 s): give such a stream more time before calling it stalled.
        self.stall_s = spec.stall_s * (3 if keyframes_only else 1)
        self._backend = DEFAULT_BACKEND if spec.decoder == "auto" else spec.decoder
        self._backoff = Backoff(spec.backoff_initial_s, spec.backoff_max_s, rng=rng or random.Random())
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"cam-{spec.id}-{stream}", daemon=True)
        self._fps_in = RateMeter()
        self._m = _BoundMetrics(metrics, spec.id) if metrics is not None else None
        self.state = StreamState.STARTING
        self.error: str | None = None
        self.last_error: str | None = None
        self.failures = 0
        self.reconnects: int = carry.reconnects if carry else 0
        self.frames: int = carry.frames if carry else 0
        self.decode_errors: int = carry.decode_errors if carry else 0
        self.loop_errors: int = carry.loop_errors if carry else 0
        self.last_frame_mono: float | None = carry.last_frame_mono if carry else None
        self.heartbeat = time.monotonic()
        self._logged_reason: str | None = None
        self._logged_callbacks: set[str] = set()

    # -- control -----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end (it notices within one frame or one FFmpeg timeout); does not wait."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_reconnect(self) -> None:
        """Drop the current connection at the next frame and reconnect (the watchdog's stall remedy)."""
        self._kick.set()

    def health(self, now: float | None = None) -> StreamHealth:
        now = time.monotonic() if now is None else now
        with self._lock:
            age = None if self.last_frame_mono is None else max(0.0, now - self.last_frame_mono)
            return StreamHealth(
                camera_id=self.camera_id,
                state=self.state,
                fps=round(self._fps_in.rate(now), 2),
                last_frame_age=age,
                reconnects=self.reconnects,
                error=self.error,
                fps_out=round(self.slot.out_rate.rate(now), 2),
                frames=self.frames,
                dropped=self.slot.dropped,
                decode_errors=self.decode_errors,
                last_error=self.last_error,
                url=self.safe_url,
                stream=self.stream,
            )

    # -- thread ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        with av.logging.Capture(local=True) as logs:
            while not self._stop.is_set():
                self.heartbeat = time.monotonic()
                permanent = False
                ended = "stopped"
                try:
                    self._session(logs)
                except StreamError as exc:
                    permanent, ended = exc.permanent, exc.reason
                    self._failed(exc)
                except Exception as exc:  # loop boundary: anything unexpected is logged once and counted
                    ended = "reader error"
                    self._unexpected(exc)
                finally:
                    logs.clear()
                    if self._tap is not None:
                        self._tap.end(ended)
                if self._stop.is_set():
                    break
                delay = self.spec.backoff_max_s if permanent else self._backoff.next_delay()
                self.heartbeat = time.monotonic() + delay  # waiting is progress, not a hang
                if self._stop.wait(delay):
                    break
                with self._lock:
                    self.reconnects += 1
                if self._m:
                    self._m.reconnects.inc()
        self._set_state(StreamState.STOPPED, None)

    def _open(self, logs: list) -> VideoInput:
        options = OpenOptions(
            transport=self.spec.transport,
            open_timeout_s=self.spec.open_timeout_s,
            read_timeout_s=self.spec.stall_s,
            frame_timeout_s=self.stall_s,
            threads=self.spec.decoder_threads,
            keyframes_only=self._keyframes_only,
            fmt=self.spec.fmt,
        )
        rtsp = self.kind is SourceKind.RTSP
        return open_input(self._target, self._backend, options, is_rtsp=rtsp, logs=logs, tap=self._tap)

    def _session(self, logs: list) -> None:
        """One connection: open, decode and publish until stop, kick or failure (raised as StreamError)."""
        conn = _Connection()
        try:
            inp = conn.inp = self._open(logs)
            pacer = Pacer(inp.fps) if self.kind is SourceKind.FILE and self.spec.pace else None
            while self._play(inp, conn, pacer):
                inp = self._replay(inp, conn, logs, pacer)
        except StreamError:
            raise
        except (av.error.FFmpegError, OSError, EOFError, cv2.error) as exc:
            # from None: the original message may carry the URL and its password
            raise self._classified(exc, logs, conn.got) from None
        finally:
            if conn.inp is not None:
                self._count_decode_errors(conn.inp.decode_errors - conn.seen_errors)
                conn.inp.close()

    def _play(self, inp: VideoInput, conn: _Connection, pacer: Pacer | None) -> bool:
        """Publish the input's frames: False once asked to stop, True when the clip ended."""
        for image, pts in inp.frames():
            if self._stop.is_set():
                return False
            if self._kick.is_set():
                self._kick.clear()
                raise StreamError(errors.STALLED, "restarted by the watchdog")
            if pacer is not None:
                pacer.wait(pts, self._stop)
            self._publish(image)
            if conn.got == 0:
                self._online()
            conn.got += 1
            if inp.decode_errors != conn.seen_errors:
                self._count_decode_errors(inp.decode_errors - conn.seen_errors)
                conn.seen_errors = inp.decode_errors
        return not self._stop.is_set()

    def _replay(self, inp: VideoInput, conn: _Connection, logs: list, pacer: Pacer | None) -> VideoInput:
        """The stream ended: a file replayed as a camera starts again; anything else is a failure."""
        if is_live(self.kind) or not self.spec.loop or conn.got == 0:
            raise StreamError(errors.END_OF_STREAM, "the source closed the stream")
        self._count_decode_errors(inp.decode_errors - conn.seen_errors)
        conn.seen_errors = 0
        inp.close()
        conn.inp = None
        inp = conn.inp = self._open(logs)
        if pacer is not None:
            pacer.new_clip()
        return inp

    def _classified(self, exc: BaseException, logs: list, got: int) -> StreamError:
        failure = classify(exc, log_lines(logs), self._secrets)
        if got and failure.reason == errors.TIMED_OUT:
            failure = StreamError(errors.STALLED, f"no data for {self.spec.stall_s:g} s")
        return failure

    def _publish(self, image: np.ndarray) -> None:
        mono_ns = time.monotonic_ns()
        frame = Frame(self.camera_id, next(self._seq), time.time(), mono_ns, image)
        now = mono_ns / 1e9
        with self._lock:
            self.frames += 1
            self.last_frame_mono = now
        self.heartbeat = now
        self._fps_in.mark(now)
        self.slot.put(frame)
        if self._m:
            self._m.frames.inc()
        if self._on_frame is not None and not self._stop.is_set():
            self._call(self._on_frame, frame)

    def _count_decode_errors(self, n: int) -> None:
        if n <= 0:
            return
        with self._lock:
            self.decode_errors += n
        if self._m:
            self._m.decode_errors.inc(n)

    def _online(self) -> None:
        attempts = self.failures
        self._backoff.reset()
        self.failures = 0
        if self._logged_reason is not None:
            log.info(
                "camera %s %s online again (%s) after %d failed attempts",
                self.camera_id,
                self.stream,
                self.safe_url,
                attempts,
            )
            self._logged_reason = None
        self._set_state(StreamState.ONLINE, None)

    def _failed(self, exc: StreamError) -> None:
        self.failures += 1
        down = exc.permanent or self.failures >= self.spec.offline_after_failures
        state = StreamState.OFFLINE if down else StreamState.RECONNECTING
        message = redact_text(str(exc), self._secrets)
        if exc.reason != self._logged_reason:  # once per distinct cause, not on every retry
            log.warning(
                "camera %s %s (%s): %s; %s",
                self.camera_id,
                self.stream,
                self.safe_url,
                message,
                "offline, retrying slowly" if exc.permanent else "reconnecting",
            )
            self._logged_reason = exc.reason
        self._set_state(state, message)

    def _unexpected(self, exc: Exception) -> None:
        with self._lock:
            self.loop_errors += 1
        if self._m:
            self._m.loop_errors.inc()
        message = redact_text(f"{type(exc).__name__}: {exc}", self._secrets)[:300]
        if message != self._logged_reason:
            tb = redact_text("".join(traceback.format_exception(exc)), self._secrets)
            log.error(
                "camera %s %s (%s): unexpected error in reader loop: %s\n%s",
                self.camera_id,
                self.stream,
                self.safe_url,
                message,
                tb,
            )
            self._logged_reason = message
        self.failures += 1
        self._set_state(StreamState.RECONNECTING, message)

    def _set_state(self, state: StreamState, error: str | None) -> None:
        with self._lock:
            changed = state != self.state or error != self.error
            self.state = state
            self.error = error
            if error is not None:
                self.last_error = error
        if self._m:
            self._m.state.set(STATE_CODES[state])
        if changed and self._on_state is not None:
            self._call(self._on_state, self.health())

    def _call(self, callback: Callable[[Any], None], arg: object) -> None:
        """A consumer's bug must not take the camera down: log it once, count it, carry on."""
        try:
            callback(arg)
        except Exception as exc:
            with self._lock:
                self.loop_errors += 1
            if self._m:
                self._m.loop_errors.inc()
            name = getattr(callback, "__qualname__", repr(callback))
            if name not in self._logged_callbacks:
                self._logged_callbacks.add(name)
                log.exception(
                    "camera %s: callback %s failed (logged once): %s",
                    self.camera_id,
                    name,
                    redact_text(str(exc), self._secrets),
                )


@dataclass(slots=True)
class _Connection:
    """One session's open input and what it has delivered so far."""

    inp: VideoInput | None = None
    got: int = 0
    seen_errors: int = 0  # the input's decode errors already counted


class _BoundMetrics:
    """Label children bound once (labels() per frame would cost a lock and a dict lookup)."""

    def __init__(self, metrics: IngestMetrics, camera_id: str) -> None:
        self.frames = metrics.frames.labels(camera_id)
        self.reconnects = metrics.reconnects.labels(camera_id)
        self.decode_errors = metrics.decode_errors.labels(camera_id)
        self.loop_errors = metrics.loop_errors.labels(camera_id)
        self.state = metrics.state.labels(camera_id)
