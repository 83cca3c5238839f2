"""One camera's H.264 packets, demuxed once and fanned out to every live viewer without re-encoding.

Why not aiortc's ``MediaPlayer(decode=False)`` + ``MediaRelay``: a viewer that joins mid-GOP sees nothing
until the camera's next keyframe, which is 3–10 s away on common cameras (and on the test clips). So this
source keeps the packets since the last keyframe and starts each new viewer with them, squashed to "now",
and it turns MP4 (AVCC) packets into the Annex B that aiortc's H.264 packetiser expects.

In mode ``frames`` there is no URL to open: the source encodes the frames ``frames`` hands it (the API role's
relay of a Ray shard's camera), once per camera, the same way.

Chromium's WebRTC H.264 decoder stops at the first B-frame (it expects one picture out per picture in), so
a stream with B-frames is decoded and re-encoded here, once per camera, as baseline H.264 with a keyframe
every second; every viewer of that camera shares that one encode.

The demux runs on a thread (blocking PyAV reads); packets reach the event loop in one hop each, and the
GOP cache and viewer queues are only touched on the loop, so "cache snapshot + subscribe" is atomic.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ingest.redact import redact_text, url_secrets
from ingest.sources import SourceKind, is_live, open_target, source_kind
from ingest.types import Frame

log = logging.getLogger(__name__)

# (camera id, newer than seq, wait s) -> the camera reader's newest decoded frame: the one decode we share
FrameSource = Callable[[str, int, float], Frame | None]
TIME_BASE = Fraction(1, 90000)  # RTP's video clock: every packet leaves with pts in this base
MAX_GOP_PACKETS = 600  # a longer GOP is not cached (its viewers wait for the next keyframe)
SQUASH_TICKS = 30  # cached packets replayed to a new viewer are 1/3 ms apart: decoded at once, shown last


@dataclass(slots=True, eq=False)
class Viewer:
    """One consumer's queue of ``(pts_90k, is_keyframe, annexb_bytes)``; a slow one skips to a keyframe."""

    queue: asyncio.Queue[tuple[int, bool, bytes] | None]
    waiting_keyframe: bool = False
    packets: int = 0
    dropped: int = 0

    def offer(self, item: tuple[int, bool, bytes]) -> None:
        if self.waiting_keyframe and not item[1]:
            return
        if self.queue.full():  # a viewer that cannot keep up restarts at the next keyframe
            while not self.queue.empty():
                self.queue.get_nowait()
                self.dropped += 1
            self.waiting_keyframe = True
            if not item[1]:
                return
        self.waiting_keyframe = False
        self.queue.put_nowait(item)
        self.packets += 1


@dataclass(slots=True)
class _Gop:
    packets: list[tuple[int, bool, bytes]] = field(default_factory=list)
    valid: bool = False

    def add(self, item: tuple[int, bool, bytes]) -> None:
        if item[1]:
            self.packets, self.valid = [item], True
        elif self.valid:
            self.packets.append(item)
            if len(self.packets) > MAX_GOP_PACKETS:
                self.packets, self.valid = [], False


class PacketSource:
    """Demuxes ``url`` on a thread while it has viewers; ``subscribe`` hands out keyframe-first queues."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        *,
        transport: str = "tcp",
        mode: str = "auto",
        frames: FrameSource | None = None,
        queue_packets: int = 240,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
    ) -> None:
        self.camera_id = camera_id
        self._url = url
        self._secrets = url_secrets(url)
        self._kind = source_kind(url)
        self._transport = transport
        self._queue_packets = queue_packets
        self._timeouts = (open_timeout_s, read_timeout_s)
        self._viewers: set[Viewer] = set()
        self._gop = _Gop()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._mode = mode
        self._frames = frames
        self.transcoding = False
        self.epoch: float | None = None
        self.last_packet_at: float | None = None
        self.error: str | None = None
        self.packets = 0

    # ----- on the event loop -----------------------------------------------------------------------------
    def subscribe(self) -> Viewer:
        """A new viewer, primed with the current GOP (squashed to just before the live edge)."""
        self._loop = asyncio.get_running_loop()
        viewer = Viewer(asyncio.Queue(self._queue_packets + MAX_GOP_PACKETS))
        if self._gop.valid and self._gop.packets:
            cached = self._gop.packets
            top = cached[-1][0]
            n = len(cached)
            for i, (_, key, data) in enumerate(cached):
                viewer.queue.put_nowait((top - (n - 1 - i) * SQUASH_TICKS, key, data))
        else:
            viewer.waiting_keyframe = True
        self._viewers.add(viewer)
        self._ensure_running()
        return viewer

    def unsubscribe(self, viewer: Viewer) -> None:
        self._viewers.discard(viewer)
        if not viewer.queue.full():
            viewer.queue.put_nowait(None)  # wakes the track's recv(), which then ends

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    def _deliver(self, item: tuple[int, bool, bytes]) -> None:
        self._gop.add(item)
        for viewer in list(self._viewers):
            viewer.offer(item)

    def _ensure_running(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._gop = _Gop()
        self._thread = threading.Thread(target=self._run, name=f"live-demux-{self.camera_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 6.0) -> None:
        """Stop demuxing (blocking: the thread's current read ends within its read timeout)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("camera %s: live demux thread still busy after %.0f s", self.camera_id, timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ----- on the demux thread ---------------------------------------------------------------------------
    def _emit(self, item: tuple[int, bool, bytes]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._deliver, item)
            except RuntimeError:  # loop closed between the check and the call
                self._stop.set()

    def _run(self) -> None:
        backoff = 0.5
        offset = 0  # files loop: each pass continues the timeline where the last one ended
        while not self._stop.is_set():
            try:
                if self._mode == "frames" and self._frames is None:
                    raise ValueError("live view mode 'frames' needs a frame source")
                if self._mode == "frames" or (self.transcoding and self._frames is not None):
                    self.transcoding = True  # frames relayed from elsewhere (a Ray shard): no URL here
                    self._encode_frames()
                    continue
                offset = self._demux_once(offset)
                backoff = 0.5
                self.error = None
            except Exception as exc:  # loop boundary: a camera that fails is retried with backoff
                self.error = redact_text(f"{type(exc).__name__}: {exc}", self._secrets)[:300]
                log.warning("camera %s: live stream failed: %s", self.camera_id, self.error)
            if self._stop.wait(backoff if self.error else 0.0):
                return
            backoff = min(backoff * 2, 5.0)

    def _open(self) -> Any:
        import av  # lazy: PyAV is heavy and only needed once somebody watches

        # No "fflags nobuffer": it drops the packets read while probing, i.e. the stream's first keyframe.
        options = {"probesize": "65536", "analyzeduration": "500000"}
        if self._kind is SourceKind.RTSP:
            options["rtsp_transport"] = self._transport
        return av.open(open_target(self._url), options=options, timeout=self._timeouts)

    def _demux_once(self, offset: int) -> int:
        """One connection (or one pass over a file); returns the timeline offset for the next."""
        container = self._open()
        try:
            stream = container.streams.video[0]
            if stream.codec_context.name != "h264":
                raise ValueError(f"live view needs H.264, camera sends {stream.codec_context.name}")
            # Browsers' WebRTC H.264 decoders take no B-frames: such a stream is re-encoded, once.
            self.transcoding = self._mode == "transcode" or (
                self._mode == "auto" and stream.codec_context.has_b_frames > 0
            )
            if self.transcoding:
                log.info("camera %s: stream has B-frames; live view re-encodes it once", self.camera_id)
                if self._frames is not None:
                    return offset  # the camera reader already decodes it: encode its frames instead
            convert = _Transcoder(stream) if self.transcoding else _AnnexB(stream)
            paced = not is_live(self._kind)
            start_wall = 0.0
            first_pts: int | None = None
            first_dts = 0
            last = offset
            for packet in container.demux(stream):
                if self._stop.is_set():
                    break
                if packet.pts is None or packet.size == 0:
                    continue
                if first_pts is None:
                    first_pts, start_wall = _ticks(packet.pts, stream), time.monotonic()
                    first_dts = _ticks(packet.dts, stream) if packet.dts is not None else first_pts
                    self.epoch = time.time() - offset / 90000  # wall time of timeline 0 (benchmarks)
                if paced and packet.dts is not None:  # a file plays in real time
                    # pts and dts may start apart (MP4 edit lists): each is measured from its own start
                    delay = start_wall + (_ticks(packet.dts, stream) - first_dts) / 90000 - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                for pts, key, data in convert(packet):
                    ts = offset + pts - first_pts
                    last = max(last, ts)
                    self._emit((ts, key, data))
                self.packets += 1
                self.last_packet_at = time.time()
            return last + 3000  # the next pass starts 1/30 s after the last packet of this one
        finally:
            container.close()

    def _encode_frames(self) -> None:
        """Encode the camera reader's decoded frames (no second connection, no second decode)."""
        import av

        assert self._frames is not None
        encoder: Any = None
        seq, last_pts = -1, -1
        while not self._stop.is_set():
            frame = self._frames(self.camera_id, seq, 0.5)
            if frame is None:
                continue
            seq = frame.seq
            if self.epoch is None:
                self.epoch = frame.captured_at
            image = av.VideoFrame.from_ndarray(frame.image, format="bgr24").reformat(format="yuv420p")
            if encoder is not None and (encoder.width, encoder.height) != (image.width, image.height):
                encoder = None  # the camera changed resolution: a new encoder starts with a keyframe
            if encoder is None:
                encoder = open_encoder(image.width, image.height, 25.0)
            # pts must grow: a relayed frame may carry another node's clock, or the same time twice
            image.pts = last_pts = max(round((frame.captured_at - self.epoch) * 90000), last_pts + 1)
            image.time_base = TIME_BASE
            for p in encoder.encode(image):
                self._emit((p.pts, bool(p.is_keyframe), bytes(p)))
            self.packets += 1
            self.last_packet_at = time.time()


def open_encoder(width: int, height: int, fps: float) -> Any:
    """libx264 for live view: baseline, no B-frames, a keyframe a second, headers with every keyframe."""
    import av

    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = TIME_BASE
    enc.framerate = Fraction(round(fps * 1000), 1000)
    gop = max(1, round(fps))
    enc.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "profile": "baseline",
        "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1",
    }
    enc.bit_rate = 1_500_000
    enc.open()
    return enc


def _ticks(value: int, stream: Any) -> int:
    return int(value * stream.time_base / TIME_BASE)


class _AnnexB:
    """Pass-through: MP4 (avcC, length-prefixed) packets become Annex B; RTSP ones already are."""

    def __init__(self, stream: Any) -> None:
        import av

        self.stream = stream
        extradata = stream.codec_context.extradata or b""
        self.bsf = (
            av.bitstream.BitStreamFilterContext("h264_mp4toannexb", stream)
            if extradata[:1] == b"\x01"
            else None
        )

    def __call__(self, packet: Any) -> list[tuple[int, bool, bytes]]:
        key, pts = bool(packet.is_keyframe), _ticks(packet.pts, self.stream)
        outs = self.bsf.filter(packet) if self.bsf is not None else [packet]
        return [(pts, key, bytes(p)) for p in outs]


class _Transcoder:
    """One decode and one low-latency baseline encode (no B-frames, a keyframe every second)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.encoder: Any = None
        self.fps = float(stream.average_rate or stream.guessed_rate or 25)

    def __call__(self, packet: Any) -> list[tuple[int, bool, bytes]]:
        from av.video.frame import PictureType

        out: list[tuple[int, bool, bytes]] = []
        for frame in packet.decode():
            if frame.pts is None:
                continue
            if self.encoder is None:
                self.encoder = open_encoder(frame.width, frame.height, self.fps)
            pts = _ticks(frame.pts, self.stream)
            frame = frame.reformat(format="yuv420p") if frame.format.name != "yuv420p" else frame
            frame.pts, frame.time_base = pts, TIME_BASE
            frame.pict_type = PictureType.NONE  # the encoder chooses (a decoded I would force an IDR)
            out += [(p.pts, bool(p.is_keyframe), bytes(p)) for p in self.encoder.encode(frame)]
        return out
