"""The last seconds of a camera's *encoded* stream, in memory, for evidence clips.

The reader hands every demuxed packet here before decoding (a copy of its bytes and four numbers: a few
microseconds, no decode, no re-encode). The ring starts at a keyframe and is bounded by age and by bytes, so
a camera that suddenly sends 20 Mbit/s cannot eat the host's memory. A clip writer (``video/clip_*``)
reads it on its own thread; nothing here touches the disk, so a full or unwritable disk never slows a reader.

What real cameras do and how it is kept: each connection is a *segment* with its own codec parameters (a
reconnect or resolution change starts a new one); a timestamp that jumps or runs backwards starts a new
*anchor* inside the segment, so a writer re-bases times there instead of producing a broken file; a
connection that ends leaves a *gap* (from, to, why) that a clip reports as missing.
"""

from __future__ import annotations

import io
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import av

log = logging.getLogger(__name__)
# A timestamp step further than this from the wall-clock step (or backwards) is a jump, not the stream.
JUMP_S = 3.0


class PacketTap(Protocol):
    """What a reader feeds: ``begin`` at each opened connection, ``packet`` per demuxed packet (before
    decoding), ``end`` when the connection is gone (why, in a few words)."""

    def begin(self, stream: Any) -> None: ...

    def packet(self, packet: Any) -> None: ...

    def end(self, reason: str) -> None: ...


TapFactory = Callable[[str], PacketTap | None]
"""Camera id → the tap of its main stream (None: this camera keeps no packets)."""


@dataclass(slots=True, eq=False)
class Segment:
    """One connection's codec parameters. ``template`` is a stream of a never-written in-memory container
    that holds a copy of them: a writer can add an output stream from it after the reader's input (and
    its stream) is closed."""

    id: int
    codec: str
    width: int
    height: int
    time_base: Fraction
    opened_at: float
    template: Any = None
    _holder: Any = field(default=None, repr=False)

    def same_format(self, other: Segment) -> bool:
        """Whether packets of ``other`` can go on in the same MP4 track (else a new part file)."""
        return (self.codec, self.width, self.height) == (other.codec, other.width, other.height)

    @classmethod
    def from_stream(cls, seg_id: int, stream: Any, now: float) -> Segment:
        holder = av.open(io.BytesIO(), "w", format="matroska")
        template = holder.add_stream_from_template(stream)
        ctx = stream.codec_context
        return cls(
            seg_id,
            ctx.name if ctx is not None else "unknown",
            int(stream.width or 0),
            int(stream.height or 0),
            Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000),
            now,
            template,
            holder,
        )


@dataclass(frozen=True, slots=True)
class Packet:
    """One encoded packet as received: ``wall`` is time.time() at arrival, ``pts``/``dts`` in the
    segment's time base (``dts`` filled from ``pts`` when the camera sends none)."""

    seq: int
    wall: float
    pts: int
    dts: int
    key: bool
    data: bytes
    segment: Segment
    anchor: int


@dataclass(frozen=True, slots=True)
class Gap:
    """Nothing was received from ``start`` to ``end`` (None: still down) because of ``reason``."""

    start: float
    end: float | None
    reason: str


class PacketRing:
    """Thread-safe: one reader thread writes, one clip thread reads. Never holds more than ``max_bytes``
    of packet data, nor packets older than ``keep_s`` (bar the GOP the oldest kept keyframe starts)."""

    def __init__(
        self, camera_id: str, keep_s: float, max_bytes: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.camera_id = camera_id
        self.keep_s = keep_s
        self.max_bytes = max_bytes
        self.clock = clock
        self._packets: deque[Packet] = deque()
        self._keys: deque[tuple[int, float]] = deque()  # (seq, wall) of each keyframe held
        self._bytes = 0
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._seg_ids = itertools.count(1)
        self._segment: Segment | None = None
        self._anchor = 0
        self._last: tuple[float, float] | None = None  # (wall, dts seconds) of the last packet
        self.gaps: deque[Gap] = deque(maxlen=32)
        self.dropped_bytes = 0  # trimmed for the byte bound before their age (a bitrate spike)
        self.packets_in = 0

    # ----- the reader's side -----------------------------------------------------------------------------
    def begin(self, stream: Any) -> None:
        now = self.clock()
        try:
            segment: Segment | None = Segment.from_stream(next(self._seg_ids), stream, now)
        except (av.error.FFmpegError, ValueError, TypeError):  # a codec no container takes: no clips
            log.warning("camera %s: its stream cannot be kept for clips", self.camera_id, exc_info=True)
            segment = None
        with self._lock:
            self._segment = segment
            self._anchor += 1
            self._last = None
            if self.gaps and self.gaps[-1].end is None:
                g = self.gaps[-1]
                self.gaps[-1] = Gap(g.start, now, g.reason)

    def end(self, reason: str) -> None:
        with self._lock:
            self._segment = None
            if not self.gaps or self.gaps[-1].end is not None:
                self.gaps.append(Gap(self.clock(), None, reason))

    def packet(self, packet: Any) -> None:
        segment = self._segment
        if segment is None or not packet.size:
            return
        pts, dts = packet.pts, packet.dts
        if pts is None and dts is None:
            return  # nothing to place it in time by; the writer would have to invent a time
        pts = dts if pts is None else pts
        dts = pts if dts is None else dts
        now = self.clock()
        dts_s = float(dts * segment.time_base)
        with self._lock:
            if self._last is not None:
                wall_step, ts_step = now - self._last[0], dts_s - self._last[1]
                if ts_step < 0 or abs(ts_step - wall_step) > JUMP_S:
                    self._anchor += 1
            self._last = (now, dts_s)
            key = bool(packet.is_keyframe)
            if not self._packets and not key:
                return  # a ring starts at a keyframe: what comes before the first one cannot be shown
            item = Packet(next(self._seq), now, pts, dts, key, bytes(packet), segment, self._anchor)
            if key:
                self._keys.append((item.seq, now))
            self._packets.append(item)
            self._bytes += len(item.data)
            self.packets_in += 1
            self._trim(now)

    def _trim(self, now: float) -> None:
        """Whole GOPs go from the front: the first while the next keyframe is still at or before the
        horizon (so the window start stays covered), or while over the byte bound."""
        keys, horizon = self._keys, now - self.keep_s
        while keys and (self._bytes > self.max_bytes or (len(keys) > 1 and keys[1][1] <= horizon)):
            over = self._bytes > self.max_bytes
            keys.popleft()
            stop = keys[0][0] if keys else None
            while self._packets and self._packets[0].seq != stop:
                gone = self._packets.popleft()
                self._bytes -= len(gone.data)
                if over:
                    self.dropped_bytes += len(gone.data)

    # ----- the clip writer's side ------------------------------------------------------------------------
    def from_time(self, start: float) -> list[Packet]:
        """Packets from the last keyframe at or before ``start`` (or the oldest held) to now."""
        with self._lock:
            items = list(self._packets)
        begin = 0
        for i, p in enumerate(items):
            if p.wall > start:
                break
            if p.key:
                begin = i
        return items[begin:]

    def after(self, seq: int) -> list[Packet]:
        """Packets received after the one numbered ``seq`` (a writer's cursor)."""
        with self._lock:
            if not self._packets or self._packets[-1].seq <= seq:
                return []
            first = self._packets[0].seq
            return list(itertools.islice(self._packets, max(0, seq + 1 - first), None))

    def oldest(self) -> float | None:
        with self._lock:
            return self._packets[0].wall if self._packets else None

    def gaps_between(self, start: float, end: float) -> list[Gap]:
        with self._lock:
            gaps = list(self.gaps)
        return [g for g in gaps if g.start < end and (g.end is None or g.end > start)]

    @property
    def online(self) -> bool:
        return self._segment is not None

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._packets)
