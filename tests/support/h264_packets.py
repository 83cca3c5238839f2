"""Generated H.264 (PyAV's libx264) fed into a packet ring on a settable clock, for the clip tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ingest.packet_ring import PacketRing


def make_h264(
    path: Path,
    seconds: float,
    *,
    fps: int = 25,
    size: tuple[int, int] = (160, 96),
    bframes: int = 2,
    gop: int = 25,
) -> Path:
    """A clip whose grey level walks with the frame number; B-frames unless ``bframes=0``."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.max_b_frames = bframes
        stream.codec_context.options = {"preset": "ultrafast", "bf": str(bframes)}
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(
                np.full((size[1], size[0], 3), (i * 3) % 255, np.uint8), format="rgb24"
            )
            frame.pts = i
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
    return path


@dataclass
class Clock:
    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def feed(
    ring: PacketRing,
    clock: Clock,
    path: Path,
    *,
    fps: int = 25,
    pts_shift: int = 0,
    until: float | None = None,
    begin: bool = True,
) -> int:
    """One connection: ``begin``, then every packet at its frame time on ``clock`` (advanced by 1/fps per
    packet); ``pts_shift`` adds to the camera's timestamps (a jump). Returns packets fed."""
    n = 0
    with av.open(str(path)) as inp:
        stream = inp.streams.video[0]
        if begin:
            ring.begin(stream)
        for packet in inp.demux(stream):
            if packet.size == 0:
                continue
            if until is not None and clock.now >= until:
                break
            if pts_shift and packet.pts is not None:
                packet.pts += pts_shift
                packet.dts = (packet.dts or 0) + pts_shift
            ring.packet(packet)
            clock.now += 1 / fps
            n += 1
    return n


def probe(path: Path) -> tuple[int, float, int]:
    """(frames decoded, duration in seconds, has_b_frames) of a written clip."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(v))
        return frames, (c.duration or 0) / 1e6, int(v.codec_context.has_b_frames)


class Camera:
    """A file played into a ring as one connection, a bit at a time (so the clip thread can poll between),
    looping at its end like a file replayed as a camera (a new connection each time)."""

    def __init__(self, ring: PacketRing, clock: Clock, path: Path, fps: int = 25) -> None:
        self.ring, self.clock, self.path, self.fps = ring, clock, path, fps
        self._packets = self._demux()

    def _demux(self):  # type: ignore[no-untyped-def]
        while True:
            with av.open(str(self.path)) as inp:
                stream = inp.streams.video[0]
                self.ring.begin(stream)
                for packet in inp.demux(stream):
                    if packet.size:
                        yield packet

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds * self.fps)):
            self.ring.packet(next(self._packets))
            self.clock.now += 1 / self.fps
