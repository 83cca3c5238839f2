"""Cost of evidence clips: the same camera pipeline with and without the packet ring, in the same run.

Why: every camera keeps its last seconds of encoded video in memory all the time, so the buffer's CPU and
memory are paid per camera forever; the clip write is paid per alarm. Cameras are a generated 1 Mbit/s H.264
stream (1280×720, 25 fps, B-frames, a keyframe every 2 s) replayed at its frame rate by the real reader
(PyAV demux + decode, as in production). Runs alternate off/on so drift on this shared machine hits both.

Reported: process CPU per camera off and on (their difference is the buffer's share of a core), the ring's
packet cost measured alone (µs per packet → % of a core at 25 packets/s), the ring's bytes and its Python
overhead for 30 s, and the time to write a 30 s + 30 s clip from the ring (remux + faststart + sha256).

    python benchmarks/clip_buffer.py [--cameras 4] [--seconds 20] [--rounds 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import av

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest.camera_spec import CameraSpec  # noqa: E402
from ingest.manager import CameraManager  # noqa: E402
from ingest.packet_ring import PacketRing  # noqa: E402
from video.clip_store import ClipStore, clip_id  # noqa: E402
from video.clip_writer import PartWriter  # noqa: E402

BITRATE = "1M"


def make_stream(path: Path, seconds: int = 70) -> Path:
    """1 Mbit/s CBR-ish H.264 with B-frames, as an IP camera's main stream at a modest setting."""
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=1280x720:rate=25:duration={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-b:v",
        BITRATE,
        "-maxrate",
        BITRATE,
        "-bufsize",
        "2M",
        "-bf",
        "2",
        "-g",
        "50",
        "-pix_fmt",
        "yuv420p",
        str(path),
    ]
    subprocess.run(cmd, check=True)
    return path


def run(clip: Path, cameras: int, seconds: float, ring: bool) -> dict[str, float]:
    """CPU seconds of this process per camera per second of video, with or without rings."""
    rings: dict[str, PacketRing] = {}

    def tap(camera_id: str) -> PacketRing:
        return rings.setdefault(camera_id, PacketRing(camera_id, 33.0, 8 * 1024 * 1024))

    specs = [CameraSpec(id=f"C{i}", url=str(clip)) for i in range(cameras)]
    manager = CameraManager(specs, packet_tap=tap if ring else None)
    manager.start()
    time.sleep(2.0)  # opened and paced
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    manager.stop()
    return {
        "cpu_per_camera": cpu / wall / cameras,
        "ring_bytes": max((r.bytes for r in rings.values()), default=0),
    }


def ring_alone(clip: Path, seconds: float = 30.0) -> dict[str, float]:
    """The ring's own cost per packet (demux excluded) and its memory for ``seconds`` of video."""
    with av.open(str(clip)) as inp:
        stream = inp.streams.video[0]
        packets = [p for p in inp.demux(stream) if p.size]
        now = [0.0]
        ring = PacketRing("B", seconds, 64 * 1024 * 1024, clock=lambda: now[0])
        tracemalloc.start()
        ring.begin(stream)
        base = tracemalloc.take_snapshot()
        t0 = time.process_time()
        for p in packets:
            ring.packet(p)
            now[0] += 0.04
        per_packet = (time.process_time() - t0) / len(packets)
        held = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename"))
        tracemalloc.stop()
    return {
        "us_per_packet": per_packet * 1e6,
        "core_pct_at_25fps": per_packet * 25 * 100,
        "ring_bytes": ring.bytes,
        "python_bytes": held,
        "packets": len(ring),
    }


def write_time(clip: Path, folder: Path, seconds: float = 60.0) -> dict[str, float]:
    """Remux ``seconds`` (30 s before, 30 s after) from a ring into a finalized MP4, like the clip thread."""
    with av.open(str(clip)) as inp:
        stream = inp.streams.video[0]
        now = [1_700_000_000.0]
        ring = PacketRing("W", seconds + 5, 64 * 1024 * 1024, clock=lambda: now[0])
        ring.begin(stream)
        for p in inp.demux(stream):
            if p.size:
                ring.packet(p)
                now[0] += 0.04
    packets = ring.from_time(0)
    t0 = time.perf_counter()
    writer = PartWriter(ClipStore(folder).path_for(clip_id("W", packets[0].wall)), packets[0])
    for p in packets:
        writer.add(p)
    part = writer.close()
    took = time.perf_counter() - t0
    return {"seconds_of_video": part.end - part.start, "write_s": took, "bytes": part.size}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_stream(Path(tmp) / "cam_1mbit.mp4")
        rounds = []
        for _ in range(args.rounds):
            rounds.append(
                {
                    "off": run(clip, args.cameras, args.seconds, False),
                    "on": run(clip, args.cameras, args.seconds, True),
                }
            )
        off = min(r["off"]["cpu_per_camera"] for r in rounds)
        on = min(r["on"]["cpu_per_camera"] for r in rounds)
        out = {
            "cameras": args.cameras,
            "cpu_pct_per_camera_off": off * 100,
            "cpu_pct_per_camera_on": on * 100,
            "cpu_pct_per_camera_delta": (on - off) * 100,
            "ring_in_pipeline_bytes": max(r["on"]["ring_bytes"] for r in rounds),
            "ring_alone": ring_alone(clip),
            "write": write_time(clip, Path(tmp) / "clips"),
            "rounds": rounds,
        }
    text = json.dumps(out, indent=2)
    sys.stdout.write(text + "\n")
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
