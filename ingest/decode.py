"""Decoder backends: open a URL or file and yield BGR frames.

PyAV is the default. OpenCV's FFmpeg capture decodes 1-7% faster on our clips (``benchmarks/INGEST.md``), but
it cannot say why a stream failed (refused, unreachable, 404, bad codec all read "cannot open"), counts no
decode errors, takes RTSP transport only from a process-wide variable and cannot decode keyframes alone; it
stays selectable per camera (``decoder="opencv"``). Both release the GIL while decoding, so one thread per
camera scales across cores.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import av
import av.logging
import cv2
import numpy as np

from ingest import errors
from ingest.errors import StreamError
from ingest.packet_ring import PacketTap

Backend = Literal["pyav", "opencv"]
DEFAULT_BACKEND: Backend = "pyav"


@dataclass(frozen=True, slots=True)
class OpenOptions:
    """How to open one stream. ``transport`` is for RTSP; ``fmt`` forces an FFmpeg demuxer (e.g. mpjpeg)."""

    transport: Literal["tcp", "udp"] = "tcp"
    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0
    frame_timeout_s: float = 10.0
    threads: int = 1
    keyframes_only: bool = False
    fmt: str | None = None
    max_decode_errors: int = 50


class VideoInput(Protocol):
    """An opened stream. ``frames()`` yields (BGR image, pts in seconds or None), ends at end of stream and
    raises :class:`StreamError` on failure.
    """

    backend: str
    fps: float | None
    decode_errors: int

    def frames(self) -> Iterator[tuple[np.ndarray, float | None]]: ...

    def close(self) -> None: ...


def to_bgr(frame: av.VideoFrame) -> np.ndarray:
    """BGR ``uint8``, as OpenCV's capture gives it (bit-identical).

    One swscale thread: PyAV's default spreads each conversion over threads, which costs 2-3x the CPU for a
    640x360 frame, and readers already run one thread per camera.
    """
    return frame.to_ndarray(format="bgr24", interpolation="FAST_BILINEAR", threads=1)


def _ensure_av_logging() -> None:
    """FFmpeg's log lines ("No route to host") are the only precise cause; PyAV drops them by default."""
    if av.logging.get_level() is None:
        av.logging.set_level(av.logging.ERROR)
    # PyAV drops a line identical to the previous one (process-wide): that would hide the cause on retries.
    av.logging.set_skip_repeated(False)


class PyAVInput:
    """A PyAV container with one video stream; ``logs`` is the thread's captured FFmpeg log (trimmed here)."""

    backend = "pyav"

    def __init__(
        self,
        target: str,
        options: OpenOptions,
        is_rtsp: bool,
        logs: list | None = None,
        tap: PacketTap | None = None,
    ) -> None:
        _ensure_av_logging()
        self._logs = logs if logs is not None else []
        av_options: dict[str, str] = {}
        if is_rtsp:
            av_options["rtsp_transport"] = options.transport
        self.max_decode_errors = options.max_decode_errors
        self.frame_timeout_s = options.frame_timeout_s
        self.decode_errors = 0
        self._container = av.open(
            target,
            format=options.fmt,
            options=av_options,
            timeout=(options.open_timeout_s, options.read_timeout_s),
        )
        try:
            if not self._container.streams.video:
                raise StreamError(errors.NO_VIDEO_STREAM, _stream_list(self._container), permanent=True)
            self._stream = self._container.streams.video[0]
            ctx = self._stream.codec_context
            if ctx is None:  # PyAV leaves it unset when FFmpeg has no decoder for the stream
                raise StreamError(errors.UNSUPPORTED_CODEC, "no decoder for the video stream", permanent=True)
            ctx.thread_count = max(0, options.threads)
            ctx.thread_type = "SLICE" if options.threads == 1 else "AUTO"
            self._keyframes_only = options.keyframes_only
            rate = self._stream.average_rate or self._stream.guessed_rate
            self.fps = float(rate) if rate else None
            self._tap = tap
            if tap is not None:  # evidence clips: the encoded packets, before any decoding
                tap.begin(self._stream)
        except BaseException:
            self._container.close()
            raise

    def frames(self) -> Iterator[tuple[np.ndarray, float | None]]:
        consecutive = 0
        last = time.monotonic()
        ctx = self._stream.codec_context
        time_base = self._stream.time_base  # frames decoded through ctx directly carry no time base
        tap = self._tap
        for packet in self._container.demux(self._stream):
            if tap is not None:
                tap.packet(packet)
            if time.monotonic() - last > self.frame_timeout_s:  # packets, but nothing decodable
                raise StreamError(errors.STALLED, f"no frame decoded for {self.frame_timeout_s:g} s")
            try:
                if self._keyframes_only:
                    # Decoder-side skipping (skip_frame=NONKEY) holds keyframes in the B-frame reorder
                    # buffer for two GOPs; decoding each keyframe alone and draining gives it at once.
                    if not packet.is_keyframe:
                        continue
                    decoded = ctx.decode(packet) + ctx.decode(None)
                    ctx.flush_buffers()
                else:
                    decoded = packet.decode()
            except (av.InvalidDataError, av.error.PatchWelcomeError, av.error.BugError) as exc:
                self.decode_errors += 1
                consecutive += 1
                if consecutive > self.max_decode_errors:
                    raise StreamError(
                        "too many decode errors", f"{consecutive} packets in a row: {type(exc).__name__}"
                    ) from exc
                continue
            except av.error.DecoderNotFoundError as exc:
                raise StreamError(
                    errors.UNSUPPORTED_CODEC, str(self._stream.codec_context.name), permanent=True
                ) from exc
            for frame in decoded:
                consecutive = 0
                pts = frame.pts if frame.pts is not None else packet.pts
                yield to_bgr(frame), (float(pts * time_base) if pts is not None and time_base else None)
                last = time.monotonic()
            if len(self._logs) > 64:
                del self._logs[:-16]

    def close(self) -> None:
        self._container.close()


_CV_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_cv_env_lock = threading.Lock()


class OpenCVInput:
    """OpenCV's FFmpeg capture. It reports no failure cause, so errors are coarse ("cannot open")."""

    backend = "opencv"

    def __init__(self, target: str, options: OpenOptions, is_rtsp: bool) -> None:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(options.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(options.read_timeout_s * 1000),
            cv2.CAP_PROP_N_THREADS,
            max(0, options.threads),
        ]
        if not is_rtsp and "://" not in target and not os.path.exists(target):
            raise StreamError(errors.FILE_NOT_FOUND, os.path.basename(target), permanent=True)
        # Transport is only settable through a process-wide variable, read at open: serialise opens.
        with _cv_env_lock:
            saved = os.environ.get(_CV_ENV)
            if is_rtsp:
                os.environ[_CV_ENV] = f"rtsp_transport;{options.transport}"
            try:
                self._cap = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
            finally:
                if saved is None:
                    os.environ.pop(_CV_ENV, None)
                else:
                    os.environ[_CV_ENV] = saved
        if not self._cap.isOpened():
            self._cap.release()
            raise StreamError("cannot open", "the OpenCV backend reports no cause; decoder=pyav tells more")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else None
        self.decode_errors = 0

    def frames(self) -> Iterator[tuple[np.ndarray, float | None]]:
        while True:
            ok, image = self._cap.read()
            if not ok:
                return
            yield image, self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0

    def close(self) -> None:
        self._cap.release()


def open_input(
    target: str,
    backend: Backend,
    options: OpenOptions,
    *,
    is_rtsp: bool,
    logs: list | None = None,
    tap: PacketTap | None = None,
) -> VideoInput:
    """Open ``target`` (a URL or a local path) with the chosen backend. Only PyAV feeds ``tap`` (OpenCV
    hands out decoded frames only, so an OpenCV camera keeps no clip buffer)."""
    if backend == "pyav":
        return PyAVInput(target, options, is_rtsp, logs, tap)
    if backend == "opencv":
        return OpenCVInput(target, options, is_rtsp)
    raise ValueError(f"unknown decoder backend {backend!r}")


def log_lines(logs: Sequence[tuple[int, str, str]]) -> list[str]:
    """Captured PyAV log tuples as ``[component] message`` lines."""
    return [f"[{name}] {message.strip()}" for _level, name, message in logs]


def _stream_list(container: av.container.InputContainer) -> str:
    kinds = [s.type for s in container.streams]
    return "streams: " + (", ".join(kinds) if kinds else "none")
