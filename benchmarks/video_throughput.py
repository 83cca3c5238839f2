"""Cameras per machine: K looping RTSP cameras through the real video pipeline vs a naive baseline.

Why: the issue asks for at least 4× the cameras of the obvious implementation at the same detect rate, with
capture → observation p99 under 300 ms (plus the confirmation window). Both sides read the same RTSP server
(``tests/support/rtsp.py``: the shared clips, H.264 passed through, looping, at their source frame rate),
each K in a fresh worker process so CPU, memory and model state do not carry over:

- **ours**: ``video.pipeline.VideoPipeline`` as ``sharpeyes run`` wires it (PyAV readers, 5 fps rate limit,
  motion gate, one cross-camera batcher per detector, the rules, the incident engine on SQLite with JPEG
  snapshots). Every camera has fire, smoke and crowd rules, so each analysed frame runs both default
  detectors (``fire``: classical, ``people``: YOLOX-Nano 256×416; ``--people yolov8n`` runs the shared
  YOLOv8n through our ONNX backend instead).
- **baseline**: per camera, ``cv2.VideoCapture`` decoding every frame on its own thread (keeping the newest)
  and a loop calling ``ultralytics.YOLO(yolov8n_int8.onnx).predict`` on it at the same detect rate, no
  gating, no batching, one model per camera (ultralytics' defaults: 640², ORT's own threads).

K is sustained when, over the measured window, every camera was read at ≥ ``--min-rate`` of its source frame
rate (a reader that falls behind builds lag without bound), got ≥ 90 % of the detect rate, dropped ≤ 5 % of
the frames it sent to the detectors, and the capture → result latency did not grow (median of the last third
of the window within 250 ms of the first third). K steps up until it is not.

    .venv/bin/python benchmarks/video_throughput.py [--seconds 15] [--ours 2,4,6,8,10,12,14,16,20]
        [--baseline 1,2,3,4] [--people yolox|yolov8n] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ASSETS = Path(os.environ.get("SHARPEYES_ASSETS", REPO.parent / "shared" / "assets"))
# Camera i loops clip i % 4; frame rates from the clips themselves (see MANIFEST.md).
CLIPS = (
    ("market_street_1906_pd", 29.97),
    ("crosswalk_pedestrians", 23.976),
    ("fire_aerial_wildfire", 29.97),
    ("fire_room_getty", 23.976),
)
DETECT_FPS = 5.0
TICKS = os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class _Latencies:
    """Capture → result latencies with the time they were taken (to see whether they grow)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[float, float]] = []
        self.recording = False

    def add(self, latency: float) -> None:
        if self.recording:
            now = time.monotonic()
            with self.lock:
                self.items.append((now, latency))

    def summary(self) -> dict[str, float]:
        with self.lock:
            items = list(self.items)
        values = [v for _, v in items]
        third = max(1, len(items) // 3)
        return {
            "n": len(values),
            "p50_ms": _pct(values, 0.5) * 1000,
            "p99_ms": _pct(values, 0.99) * 1000,
            "max_ms": max(values, default=float("nan")) * 1000,
            "growth_ms": _growth(items, third) * 1000 if len(items) >= 3 else float("nan"),
        }


def _growth(items: list[tuple[float, float]], third: int) -> float:
    """Median latency of the last third of the window minus that of the first third."""
    return statistics.median(v for _, v in items[-third:]) - statistics.median(v for _, v in items[:third])


def _measure(
    warmup: float,
    seconds: float,
    counters: Callable[[], dict[str, dict[str, float]]],
    latencies: _Latencies,
) -> dict[str, Any]:
    """Warm up, then count per camera over the window; CPU and RSS of this process."""
    time.sleep(warmup)
    before, cpu0, t0 = counters(), _cpu_s(), time.monotonic()
    latencies.recording = True
    time.sleep(seconds)
    latencies.recording = False
    after, cpu1, t1 = counters(), _cpu_s(), time.monotonic()
    window = t1 - t0
    per_camera = {
        cam: {k: (after[cam][k] - before[cam].get(k, 0.0)) / window for k in after[cam] if k != "src_fps"}
        | {"src_fps": after[cam]["src_fps"]}
        for cam in after
    }
    return {
        "window_s": window,
        "cpu_pct": 100 * (cpu1 - cpu0) / window,
        "rss_mb": _rss_mb(),
        "cameras": per_camera,
        "latency": latencies.summary(),
    }


# ----- worker: our pipeline --------------------------------------------------------------------------------
def run_ours(
    port: int,
    k: int,
    warmup: float,
    seconds: float,
    people: str,
    threads: int | None,
    workers: int = 1,
) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from detectors.config import OnnxConfig
    from tests.support.pipeline import incident_engine, video_pipeline
    from video.config import CameraConfig, VideoConfig, builtin_detectors

    tmp = Path(tempfile.mkdtemp(prefix="video-bench-"))
    engine, directory = incident_engine(tmp / "se.db")
    declared: dict[str, Any] = {}
    if people == "yolox" and threads is not None:
        builtin = builtin_detectors({"SHARPEYES_ASSETS": str(ASSETS)})["people"]
        declared["people"] = builtin.model_copy(update={"threads": threads})
    if people == "yolov8n":
        declared["people"] = OnnxConfig(
            name="people",
            model=ASSETS / "weights" / "yolov8n_int8.onnx",
            input_size=(384, 640),
            threads=threads or 1,
            dequantize=True,
            classes={"person": "person"},
        )
    cameras = [
        CameraConfig.model_validate(
            {
                "id": f"CAM-{i:02d}",
                "url": f"rtsp://127.0.0.1:{port}/{CLIPS[i % len(CLIPS)][0]}",
                "grid": "G-001",
                "detect_fps": DETECT_FPS,
                "zones": [{"name": "all", "polygon": [[0, 0], [10000, 0], [10000, 10000], [0, 10000]]}],
                "rules": [
                    {"kind": "fire"},
                    {"kind": "smoke"},
                    {"kind": "crowd", "zone": "all", "threshold": 12, "dwell_s": 3},
                ],
            }
        )
        for i in range(k)
    ]
    registry = CollectorRegistry()
    pipeline = video_pipeline(
        cameras,
        engine,
        directory,
        tmp / "snapshots",
        declared=declared,
        video=VideoConfig(batcher={"workers": workers}),  # type: ignore[arg-type]
        registry=registry,
        env={"SHARPEYES_ASSETS": str(ASSETS)},
    )
    latencies = _Latencies()
    results: dict[str, int] = {c.id: 0 for c in cameras}
    on_result = pipeline._on_result

    def timed(detector: str, result: Any) -> None:
        on_result(detector, result)  # rules run here: an observation, if any, exists when this returns
        if detector == "people":
            results[result.frame.camera_id] += 1
            latencies.add(time.time() - result.frame.captured_at)

    pipeline._on_result = timed  # type: ignore[method-assign]
    rss_idle = _rss_mb()
    pipeline.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(h.state == "online" for h in pipeline.status()):
            time.sleep(0.2)

        def counters() -> dict[str, dict[str, float]]:
            health = {h.camera_id: h for h in pipeline.manager.health()}
            out: dict[str, dict[str, float]] = {}
            for i, cam in enumerate(cameras):
                gate = {
                    reason: registry.get_sample_value(
                        "sharpeyes_video_gate_frames_total", {"camera": cam.id, "reason": reason}
                    )
                    or 0.0
                    for reason in ("first", "motion", "forced", "still", "disabled")
                }
                out[cam.id] = {
                    "read_fps": float(health[cam.id].frames),
                    "offered_fps": sum(gate.values()),
                    "sent_fps": sum(v for r, v in gate.items() if r != "still"),
                    "detect_fps": float(results[cam.id]),
                    "age_dropped": float(health[cam.id].dropped),
                    "src_fps": CLIPS[i % len(CLIPS)][1],
                }
            return out

        out = _measure(warmup, seconds, counters, latencies)
        out["observations"] = {
            kind: registry.get_sample_value("sharpeyes_capture_to_observation_seconds_count", {"kind": kind})
            or 0.0
            for kind in ("fire", "smoke", "crowd", "gathering")
        }
        out["batchers"] = {
            d: {
                "calls": (n := registry.get_sample_value(f"{h}_count", {"detector": d}) or 0.0),
                "ms_per_call": 1000
                * (registry.get_sample_value(f"{h}_sum", {"detector": d}) or 0.0)
                / (n or 1),
                "frames_per_call": (
                    registry.get_sample_value("sharpeyes_detector_batch_size_frames_sum", {"detector": d})
                    or 0.0
                )
                / (n or 1),
            }
            for d in ("fire", "people")
            for h in ("sharpeyes_detector_inference_seconds",)
        }
        out["superseded"] = sum(
            registry.get_sample_value(
                "sharpeyes_detector_frames_dropped_total", {"detector": d, "reason": "superseded"}
            )
            or 0.0
            for d in ("fire", "people")
        )
    finally:
        pipeline.stop()
        engine.store.close()
    out["rss_idle_mb"] = rss_idle
    return out


# ----- worker: the naive baseline --------------------------------------------------------------------------
def run_baseline(port: int, k: int, warmup: float, seconds: float) -> dict[str, Any]:
    import cv2
    from ultralytics import YOLO

    latencies = _Latencies()
    counts: dict[str, dict[str, float]] = {}
    stop = threading.Event()
    rss_idle = _rss_mb()

    def camera(i: int) -> None:
        """A reader thread keeps the newest frame (so reading never waits on the model, the kindest naive
        design), and this thread predicts on it at the detect rate."""
        cam_id = f"CAM-{i:02d}"
        clip, fps = CLIPS[i % len(CLIPS)]
        model = YOLO(str(ASSETS / "weights" / "yolov8n_int8.onnx"), task="detect")
        cap = cv2.VideoCapture(f"rtsp://127.0.0.1:{port}/{clip}", cv2.CAP_FFMPEG)
        c = counts[cam_id] = {"read_fps": 0.0, "detect_fps": 0.0, "src_fps": fps}
        latest: list[tuple[float, Any]] = []

        def read() -> None:
            while not stop.is_set():
                ok, frame = cap.read()
                if not ok:
                    time.sleep(0.05)
                    continue
                latest[:] = [(time.time(), frame)]
                c["read_fps"] += 1

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        period, next_due = 1 / DETECT_FPS, time.monotonic()
        try:
            while not stop.is_set():
                time.sleep(max(0.0, next_due - time.monotonic()))
                now = time.monotonic()
                next_due = next_due + period if now - next_due < period else now + period
                if not latest:
                    continue
                captured, frame = latest[0]
                model.predict(frame, verbose=False)
                c["detect_fps"] += 1
                latencies.add(time.time() - captured)
        finally:
            reader.join(5)
            cap.release()

    threads = [threading.Thread(target=camera, args=(i,), daemon=True) for i in range(k)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        len(counts) < k or not all(c["read_fps"] for c in counts.values())
    ):
        time.sleep(0.2)

    def counters() -> dict[str, dict[str, float]]:
        return {
            cam: {**c, "sent_fps": c["detect_fps"], "offered_fps": c["detect_fps"]}
            for cam, c in counts.items()
        }

    try:
        out = _measure(warmup, seconds, counters, latencies)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    out["rss_idle_mb"] = rss_idle
    return out


# ----- parent: step K up ---------------------------------------------------------------------------------
def cpu_per_camera(res: dict[str, Any]) -> float:
    """Process CPU (% of one core) per camera, scaled to the full detect rate."""
    cams = list(res["cameras"].values())
    detect = sum(c["detect_fps"] for c in cams) / len(cams)
    return res["cpu_pct"] / len(cams) * (DETECT_FPS / detect if detect else float("nan"))


def verdict(res: dict[str, Any], min_rate: float) -> tuple[bool, str]:
    """Sustained, or why not."""
    why = []
    for cam, c in sorted(res["cameras"].items()):
        if c["read_fps"] < min_rate * c["src_fps"]:
            why.append(f"{cam} read {c['read_fps']:.1f}/{c['src_fps']:.1f} fps")
        if c["offered_fps"] < 0.9 * DETECT_FPS:
            why.append(f"{cam} detect {c['offered_fps']:.2f} fps")
        if c["sent_fps"] and c["detect_fps"] < 0.95 * c["sent_fps"]:
            lost = 1 - c["detect_fps"] / c["sent_fps"]
            why.append(f"{cam} dropped {lost * 100:.0f}% before the detector")
    growth = res["latency"]["growth_ms"]
    if growth == growth and growth > 250:
        why.append(f"latency grew {growth:.0f} ms")
    return (not why, "; ".join(why[:3]) + (f" (+{len(why) - 3} more)" if len(why) > 3 else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0, help="measured window per step")
    ap.add_argument("--warmup", type=float, default=6.0)
    ap.add_argument("--ours", default="2,4,6,8,10,12,14,16,20,24")
    ap.add_argument("--baseline", default="1,2,3,4")
    ap.add_argument("--people", choices=("yolox", "yolov8n"), default="yolox")
    ap.add_argument(
        "--people-threads", type=int, help="intra-op threads of the people detector (default: its own)"
    )
    ap.add_argument(
        "--workers",
        default="1",
        help="batcher workers per detector for ours; a list (1,2) sweeps each and prints the ratio",
    )
    ap.add_argument("--min-rate", type=float, default=0.95, help="read rate / source rate that keeps up")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker", choices=("ours", "baseline"), help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cameras", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        import logging

        logging.basicConfig(level=logging.WARNING)
        if args.worker == "ours":
            res = run_ours(
                args.port,
                args.cameras,
                args.warmup,
                args.seconds,
                args.people,
                args.people_threads,
                int(args.workers),
            )
        else:
            res = run_baseline(args.port, args.cameras, args.warmup, args.seconds)
        print("RESULT " + json.dumps(res), flush=True)
        return 0

    from tests.support.rtsp import RtspServer, default_mounts, require_gstreamer

    require_gstreamer()
    print(f"load before: {os.getloadavg()}; {os.cpu_count()} cores; window {args.seconds:.0f} s per step")
    summary: dict[str, Any] = {"load_before": os.getloadavg(), "steps": []}
    best: dict[str, int] = {}
    with RtspServer(default_mounts(ASSETS)) as server:
        assert server.proc is not None
        sweeps = [("baseline", args.baseline, "1")]
        workers_list = [w.strip() for w in args.workers.split(",") if w.strip()]
        sweeps += [("ours", args.ours, w) for w in workers_list]
        for kind_base, steps, workers in sweeps:
            kind = kind_base if len(workers_list) == 1 or kind_base == "baseline" else f"ours-w{workers}"
            best[kind] = 0
            for k in (int(s) for s in steps.split(",") if s.strip() and int(s) > 0):
                srv0, t0 = _proc_cpu_s(server.proc.pid), time.monotonic()
                cmd = [sys.executable, __file__, "--worker", kind_base, "--port", str(server.port)]
                cmd += ["--workers", workers]
                cmd += ["--cameras", str(k)]
                cmd += ["--seconds", str(args.seconds), "--warmup", str(args.warmup), "--people", args.people]
                cmd += ["--people-threads", str(args.people_threads)] if args.people_threads else []
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 180)
                line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if line is None:
                    print(f"{kind} K={k}: worker failed ({proc.returncode}): {proc.stderr[-2000:]}")
                    break
                res = json.loads(line[7:])
                res["server_cpu_pct"] = 100 * (_proc_cpu_s(server.proc.pid) - srv0) / (time.monotonic() - t0)
                ok, why = verdict(res, args.min_rate)
                res.update(kind=kind, k=k, ok=ok, why=why, load=os.getloadavg())
                summary["steps"].append(res)
                lat = res["latency"]
                cams = res["cameras"].values()
                det = [c["detect_fps"] for c in cams]
                print(
                    f"{kind:8} K={k:2d} {'OK  ' if ok else 'FAIL'} load {res['load'][0]:3.1f} "
                    f"cpu {res['cpu_pct']:5.0f}% "
                    f"(+server {res['server_cpu_pct']:3.0f}%) rss {res['rss_mb']:6.0f} MB  "
                    f"read {min(c['read_fps'] / c['src_fps'] for c in cams):.3f}x src (min)  "
                    f"detect {min(det):4.2f}-{max(det):4.2f} fps  capture->result "
                    f"p50 {lat['p50_ms']:5.0f} p99 {lat['p99_ms']:5.0f} max {lat['max_ms']:5.0f} ms "
                    f"growth {lat['growth_ms']:+5.0f} ms  CPU per camera at {DETECT_FPS:g} fps "
                    f"{cpu_per_camera(res):.1f}%  {why}",
                    flush=True,
                )
                for name, b in res.get("batchers", {}).items():
                    print(
                        f"{'':13} batcher {name}: {b['calls']:.0f} calls, {b['ms_per_call']:.1f} ms "
                        f"per call, {b['frames_per_call']:.1f} frames per call (whole run)"
                    )
                if not ok:
                    break
                best[kind] = k
    summary["best"] = best
    # Cameras the CPU could carry, from CPU time per camera (steady under load, unlike wall-clock limits).
    projected = {}
    for kind in best:
        rows = [s for s in summary["steps"] if s["kind"] == kind]
        if rows:
            cost = min(cpu_per_camera(s) + s["server_cpu_pct"] / s["k"] for s in rows)
            projected[kind] = 100 * (os.cpu_count() or 1) / cost
            print(
                f"{kind}: {cost:.1f}% of a core per camera at {DETECT_FPS:g} fps (RTSP server share included)"
            )
    if "ours" in projected and "baseline" in projected:
        ratio = projected["ours"] / projected["baseline"]
        print(
            f"CPU-bound cameras on {os.cpu_count()} cores: baseline {projected['baseline']:.1f}, "
            f"ours {projected['ours']:.1f} ({ratio:.1f}x)"
        )
    summary["projected"] = projected
    print(f"load after: {os.getloadavg()}")
    sustained = ", ".join(f"{k} {v}" for k, v in best.items())
    print(f"sustained cameras at {DETECT_FPS:g} fps detect: {sustained}")
    if best.get("baseline") and "ours" in best:
        print(f"ratio ours/baseline: {best['ours'] / best['baseline']:.1f}x")
    pools = sorted((int(k[6:]), v) for k, v in best.items() if k.startswith("ours-w"))
    if len(pools) > 1 and pools[0][1]:
        for workers, n in pools[1:]:
            print(f"ratio {workers} workers / {pools[0][0]}: {n / pools[0][1]:.2f}x sustained cameras")
    for kind in best:
        ok_steps = [s for s in summary["steps"] if s["kind"] == kind and s["ok"]]
        if ok_steps:
            top = ok_steps[-1]
            per_cam = (
                (top["rss_mb"] - ok_steps[0]["rss_mb"]) / (top["k"] - ok_steps[0]["k"])
                if len(ok_steps) > 1
                else float("nan")
            )
            print(
                f"{kind}: at K={top['k']}: {top['k'] / (os.cpu_count() or 1):.1f} cameras per core, "
                f"CPU {top['cpu_pct']:.0f}% of one core (+ RTSP server {top['server_cpu_pct']:.0f}%), "
                f"p50/p99 {top['latency']['p50_ms']:.0f}/{top['latency']['p99_ms']:.0f} ms, "
                f"RSS {top['rss_mb']:.0f} MB ({top['rss_mb'] / top['k']:.0f} MB per camera, "
                f"{per_cam:.0f} MB per added camera)"
            )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
