"""Remux buffered packets into an MP4 a browser plays: no decode, no re-encode, one file per format.

Times: a clip's second 0 is its first packet's arrival. Inside one *anchor* (see ``ingest/packet_ring``) the
camera's own timestamps are kept, so B-frame order (pts ≠ dts) survives; at a new anchor (a reconnect or a
timestamp jump) times are re-based on the arrival clock, so a gap stays a gap and never runs backwards. A
new segment with another size or codec cannot go on in the same H.264 track: the writer closes the file
and the caller starts another part. The file is written under a temporary name, finalized with
``movflags=+faststart`` (the index first, so a browser can seek before it has the whole file) and renamed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ingest.packet_ring import Packet, Segment


@dataclass(frozen=True, slots=True)
class ClipPart:
    """One finished file: wall-clock ``start``/``end`` of the first and last packet."""

    path: Path
    start: float
    end: float
    size: int
    sha256: str
    width: int
    height: int
    packets: int


class PartWriter:
    """One MP4 being written; opened at a keyframe. Raises OSError / av.FFmpegError when storage fails."""

    def __init__(self, path: Path, first: Packet) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.segment: Segment = first.segment
        self.start = first.wall
        self.end = first.wall
        self.packets = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out = av.open(str(self.tmp), "w", format="mp4", options={"movflags": "+faststart"})
        try:
            self._stream = self._out.add_stream_from_template(first.segment.template)
            self._stream.time_base = first.segment.time_base
        except BaseException:
            self._out.close()
            raise
        self._tb: Fraction = first.segment.time_base
        self._anchor: tuple[int, int, Fraction] | None = None  # (anchor id, its first dts, its out offset)
        self._last_dts = -1

    def accepts(self, p: Packet) -> bool:
        """Whether ``p`` can go on in this file's track (same codec and size)."""
        return p.segment is self.segment or p.segment.same_format(self.segment)

    def add(self, p: Packet) -> None:
        seg_tb = p.segment.time_base
        if self._anchor is None or self._anchor[0] != p.anchor:
            # Re-base here: this packet lands where its arrival says, never at or before the last one.
            at = Fraction(p.wall - self.start).limit_denominator(1_000_000) if self._anchor else Fraction(0)
            at = max(at, (self._last_dts + 1) * self._tb)
            self._anchor = (p.anchor, p.dts, at)
        _, dts0, offset = self._anchor
        dts = round(((p.dts - dts0) * seg_tb + offset) / self._tb)
        pts = round(((p.pts - dts0) * seg_tb + offset) / self._tb)
        if dts <= self._last_dts:  # a repeated timestamp: one tick on, as the muxer demands
            shift = self._last_dts + 1 - dts
            dts, pts = dts + shift, pts + shift
        packet = av.Packet(p.data)
        packet.dts, packet.pts = dts, max(pts, dts)
        packet.is_keyframe = p.key
        packet.time_base = self._tb
        packet.stream = self._stream
        self._out.mux(packet)
        self._last_dts = dts
        self.packets += 1
        self.end = max(self.end, p.wall)

    def close(self) -> ClipPart:
        """Write the index (faststart) and move the file into place; hash it for the evidence record."""
        self._out.close()
        os.replace(self.tmp, self.path)
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        seg = self.segment
        return ClipPart(
            self.path,
            self.start,
            self.end,
            self.path.stat().st_size,
            digest.hexdigest(),
            seg.width,
            seg.height,
            self.packets,
        )

    def abort(self) -> None:
        """Storage failed or nothing worth keeping: leave no half file behind."""
        with contextlib.suppress(OSError, av.error.FFmpegError):
            self._out.close()
        self.tmp.unlink(missing_ok=True)
