"""Decode speed on our clips: PyAV vs OpenCV's FFmpeg backend vs the ffmpeg CLI (single thread).

Why: ingest decodes every frame of every camera, so the decoder is the first limit on cameras per core.
Each variant decodes the whole clip to BGR ``uint8`` arrays (what the detectors take); the CLI rows give the
floor (``-f null``, decode only) and the same work with the BGR conversion (``-pix_fmt bgr24``). CPU time is
reported next to wall time because this machine is shared: CPU ms/frame is the stable number.

    python benchmarks/decode_speed.py [--repeat 3] [--json out.json] [clip ...]
    python benchmarks/decode_speed.py --rtsp 8 [--seconds 10] [--transport tcp] [clip]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest.decode import OpenOptions, open_input  # noqa: E402

ASSETS = Path(os.environ.get("SHARPEYES_ASSETS", REPO.parent / "shared" / "assets"))
CLIPS = (
    "market_street_1906_pd.mp4",
    "crosswalk_pedestrians.mp4",
    "fire_aerial_wildfire.mp4",
    "fire_room_getty.mp4",
)


def _cpu() -> float:
    return time.process_time()


def pyav(path: Path, threads: int, bgr: bool = True) -> int:
    """Decode with PyAV; ``threads=0`` lets FFmpeg pick (frame + slice threads)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if threads:
            stream.codec_context.thread_count = threads
            stream.thread_type = "SLICE" if threads == 1 else "AUTO"
        else:
            stream.thread_type = "AUTO"
        n = 0
        for frame in container.decode(stream):
            if bgr:
                frame.to_ndarray(format="bgr24")
            n += 1
    return n


def ingest_path(path: Path, backend: str) -> int:
    """Exactly what a camera reader runs (one decoder thread, BGR out), minus pacing."""
    inp = open_input(str(path), backend, OpenOptions(threads=1), is_rtsp=False)  # type: ignore[arg-type]
    try:
        return sum(1 for _ in inp.frames())
    finally:
        inp.close()


def opencv(path: Path, threads: int) -> int:
    """Decode with OpenCV's FFmpeg backend; ``threads=0`` is OpenCV's default (all cores)."""
    params = [cv2.CAP_PROP_N_THREADS, threads] if threads else []
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params)
    if not cap.isOpened():
        raise RuntimeError(f"OpenCV cannot open {path}")
    n = 0
    while True:
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
    cap.release()
    return n


def ffmpeg_cli(path: Path, bgr: bool) -> tuple[int, float, float]:
    """(frames, wall s, CPU s) of ``ffmpeg -threads 1``, CPU from the child's rusage."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RuntimeError("ffmpeg not installed (apt-get install ffmpeg)")
    cmd = [exe, "-hide_banner", "-nostats", "-threads", "1", "-i", str(path), "-map", "0:v:0"]
    cmd += ["-pix_fmt", "bgr24"] if bgr else []
    cmd += ["-f", "null", "-"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    frames = [int(m) for m in re.findall(r"frame=\s*(\d+)", out.stderr)]
    return (frames[-1] if frames else 0), wall, cpu


def _inproc(fn: Callable[[], int]) -> tuple[int, float, float]:
    """Decode on a worker thread, as a camera reader does (its own malloc arena, GIL released in FFmpeg)."""
    out: list[int] = []
    worker = threading.Thread(target=lambda: out.append(fn()))
    c0, t0 = _cpu(), time.perf_counter()
    worker.start()
    worker.join()
    return out[0], time.perf_counter() - t0, _cpu() - c0


BASELINE = "ffmpeg -threads 1 -pix_fmt bgr24 -f null"
VARIANTS: dict[str, Callable[[Path], tuple[int, float, float]]] = {
    "ffmpeg -threads 1 -f null (decode only)": lambda p: ffmpeg_cli(p, bgr=False),
    BASELINE: lambda p: ffmpeg_cli(p, bgr=True),
    "pyav 1 thread, decode only": lambda p: _inproc(lambda: pyav(p, 1, bgr=False)),
    "pyav 1 thread, to_ndarray(bgr24) defaults": lambda p: _inproc(lambda: pyav(p, 1)),
    "ingest reader, pyav (default)": lambda p: _inproc(lambda: ingest_path(p, "pyav")),
    "ingest reader, opencv 1 thread": lambda p: _inproc(lambda: ingest_path(p, "opencv")),
    "pyav auto threads": lambda p: _inproc(lambda: pyav(p, 0)),
    "opencv default threads": lambda p: _inproc(lambda: opencv(p, 0)),
}


def _warm_up(clip: Path) -> None:
    """Pay the one-time library start-up (codec tables, first open) before the clock starts."""
    with av.open(str(clip)) as container:
        next(container.decode(video=0)).to_ndarray(format="bgr24", threads=1)
    cap = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG)
    cap.read()
    cap.release()


def _measure(name: str, clip: Path) -> tuple[int, float, float]:
    """Each in-process variant runs in a fresh interpreter: no thread pool or cache left by another one."""
    if name.startswith("ffmpeg"):
        return VARIANTS[name](clip)
    out = subprocess.run(
        [sys.executable, __file__, "--one", name, str(clip)], capture_output=True, text=True, check=True
    )
    n, wall, cpu = json.loads(out.stdout.strip().splitlines()[-1])
    return int(n), float(wall), float(cpu)


def run(clips: list[Path], repeat: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for clip in clips:
        best: dict[str, tuple[int, float, float]] = {}
        for _ in range(repeat):  # round-robin, so a burst of load elsewhere hits all variants alike
            for name in VARIANTS:
                result = _measure(name, clip)
                if name not in best or result[2] < best[name][2]:
                    best[name] = result
        base_cpu = best[BASELINE][2] / max(best[BASELINE][0], 1)
        for name, (n, wall, cpu) in best.items():
            row = {
                "clip": clip.name,
                "variant": name,
                "frames": n,
                "wall_ms_per_frame": round(1000 * wall / max(n, 1), 3),
                "cpu_ms_per_frame": round(1000 * cpu / max(n, 1), 3),
                "cpu_vs_ffmpeg_bgr24": round(cpu / max(n, 1) / base_cpu, 2),
            }
            rows.append(row)
            print(
                f"{clip.name:26s} {name:40s} {n:5d} fr  wall {row['wall_ms_per_frame']:6.2f}"
                f"  cpu {row['cpu_ms_per_frame']:6.2f} ms/fr  x{row['cpu_vs_ffmpeg_bgr24']:.2f} of ffmpeg",
                flush=True,
            )
    return rows


def rtsp_cameras(count: int, seconds: float, clip: Path, transport: str) -> dict[str, object]:
    """``count`` cameras through CameraManager from the test RTSP server (looping, no re-encode): the fps
    each sustains and this process's CPU per camera (the GStreamer server's own CPU is not counted).
    """
    from ingest.camera_spec import CameraSpec
    from ingest.manager import CameraManager
    from tests.support.rtsp import RtspServer, require_gstreamer

    require_gstreamer()
    with RtspServer({"cam": clip}) as server:
        specs = [CameraSpec(f"CAM-{i:02d}", server.url("cam"), transport=transport) for i in range(count)]  # type: ignore[arg-type]
        with CameraManager(specs) as manager:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(h.state != "online" for h in manager.health()):
                time.sleep(0.1)
            time.sleep(1.5)  # past FFmpeg's start-up burst
            f0 = {h.camera_id: h.frames for h in manager.health()}
            c0, t0 = _cpu(), time.perf_counter()
            time.sleep(seconds)
            cpu, wall = _cpu() - c0, time.perf_counter() - t0
            f1 = {h.camera_id: h.frames for h in manager.health()}
    fps = [(f1[k] - f0[k]) / wall for k in f0]
    return {
        "cameras": count,
        "transport": transport,
        "clip": clip.name,
        "fps_min": round(min(fps), 2),
        "fps_mean": round(sum(fps) / len(fps), 2),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 1),
        "cpu_ms_per_frame": round(1000 * cpu / max(1, sum(f1[k] - f0[k] for k in f0)), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3, help="best of N (by CPU time)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: one variant, JSON on stdout
    parser.add_argument("--rtsp", type=int, metavar="N", help="instead: N RTSP cameras via CameraManager")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--transport", choices=["tcp", "udp"], default="tcp")
    args = parser.parse_args(argv)
    if args.one:
        _warm_up(args.clips[0])
        print(json.dumps(VARIANTS[args.one](args.clips[0])))
        return 0
    clips = args.clips or [ASSETS / "video" / c for c in CLIPS]
    if args.rtsp:
        result = rtsp_cameras(args.rtsp, args.seconds, clips[0], args.transport)
        print(json.dumps(result))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1))
        return 0
    missing = [c for c in clips if not c.exists()]
    if missing:
        print(f"missing clips: {missing} (set SHARPEYES_ASSETS)", file=sys.stderr)
        return 2
    print(
        f"PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info}), OpenCV {cv2.__version__}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    rows = run(clips, args.repeat)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
