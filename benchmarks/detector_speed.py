"""Detector speed on this machine: ms per frame per backend and batch size, with ratios to a baseline.

The baseline, measured in the same run, is what a first integration would do: onnxruntime with default
session options running the int8 YOLOv8n export at 640×640, one frame per call, our letterbox and decode.
Every other row is the real `detect()` of a configured backend, pre- and post-processing included, on
640×360 frames from a street clip (one distinct frame per camera in a batch).

Also measured (same script, so the numbers in benchmarks/DETECTORS.md can be reproduced):
- classical fire/smoke per-frame hit rates on the four clips, at 5 fps and at the clips' full rate;
- MCNN crowd counts on the ShanghaiTech images against the reference and the ground truth.

    python benchmarks/detector_speed.py                 # everything, prints markdown
    python benchmarks/detector_speed.py --only speed --repeats 5
    python benchmarks/detector_speed.py --write benchmarks/DETECTORS.results.md

Assets come from $SHARPEYES_ASSETS (default ../shared/assets). OpenVINO rows run only if `openvino`
is installed; ultralytics rows only if `ultralytics` is.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detectors.base import Detector, build_detector  # noqa: E402
from detectors.boxes import letterbox, nms  # noqa: E402
from detectors.config import parse_detector_config  # noqa: E402
from detectors.motion import MotionGate  # noqa: E402
from detectors.onnx_yolo import _Yolov8Decoder  # noqa: E402
from ingest.types import Frame  # noqa: E402

ASSETS = Path(os.environ.get("SHARPEYES_ASSETS", REPO.parent / "shared" / "assets"))
BATCHES = (1, 2, 4, 8)
CLIPS = (
    "fire_aerial_wildfire.mp4",
    "fire_room_getty.mp4",
    "market_street_1906_pd.mp4",
    "crosswalk_pedestrians.mp4",
)


def asset(relative: str) -> Path:
    path = ASSETS / relative
    if not path.is_file():
        raise SystemExit(f"missing asset {path}; set SHARPEYES_ASSETS")
    return path


def street_frames(count: int) -> list[Frame]:
    capture = cv2.VideoCapture(str(asset("video/crosswalk_pedestrians.mp4")))
    frames = []
    index = 0
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            raise SystemExit("crosswalk clip too short")
        if index % 12 == 0:
            frames.append(Frame(f"cam{len(frames)}", index, index / 24, 0, image))
        index += 1
    return frames


class BaselineOrt:
    """onnxruntime defaults, the original int8 graph at 640×640, frame by frame."""

    name = "baseline"
    class_names = ("person",)

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.decoder = _Yolov8Decoder(np.arange(80), 0.25)

    def detect(self, frames: Sequence[Frame]) -> list[object]:
        out = []
        for frame in frames:
            canvas, transform = letterbox(frame.image, (640, 640), centre=True)
            blob = canvas[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255
            cand = self.decoder.decode(self.session.run(None, {"images": blob}), 0, (640, 640))
            keep = nms(cand.xyxy, cand.scores, cand.class_ids, 0.45)
            out.append(transform.to_source(cand.xyxy[keep]))
        return out

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Cost:
    """Per frame: wall milliseconds (best run) and CPU milliseconds of this process (median run)."""

    wall_ms: float
    cpu_ms: float

    def per(self, frames: int) -> Cost:
        return Cost(self.wall_ms / frames, self.cpu_ms / frames)


@dataclass
class Row:
    label: str
    cost: dict[int, Cost]


def time_calls(call: Callable[[], object], repeats: int) -> Cost:
    """Cost of one call after two warm-up calls.

    Wall time is the best of `repeats` (on a shared box other processes only ever add time); CPU time
    (all threads of this process) is the median, and is what decides how many cameras a core carries.
    """
    call()
    call()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return Cost(min(walls) * 1000, statistics.median(cpus) * 1000)


def measure(
    detector: Detector | BaselineOrt, frames: list[Frame], batches: Sequence[int], repeats: int
) -> dict[int, Cost]:
    return {b: time_calls(lambda b=b: detector.detect(frames[:b]), repeats).per(b) for b in batches}


def speed_rows(repeats: int, batches: Sequence[int]) -> list[Row]:
    frames = street_frames(max(batches))
    yolov8, yolox = str(asset("weights/yolov8n_int8.onnx")), str(asset("weights/yolox_nano.onnx"))
    mcnn = str(asset("weights/mcnn_shtechA_660.h5"))
    baseline = BaselineOrt(Path(yolov8))
    rows = [Row("baseline: ORT defaults, YOLOv8n int8 640², frame by frame", {})]
    rows[0].cost = measure(baseline, frames, (1,), repeats)

    fp32 = {"model": yolov8, "dequantize": True}
    wide = {"input_size": [384, 640]}
    configs: list[tuple[str, dict, Sequence[int]]] = [
        ("onnx YOLOv8n int8 640² (raw head, 2 threads)", {"model": yolov8}, batches),
        ("onnx YOLOv8n int8 384×640", {"model": yolov8, **wide}, batches),
        ("onnx YOLOv8n int8→fp32 640²", fp32, batches),
        ("onnx YOLOv8n int8→fp32 384×640", {**fp32, **wide}, batches),
        ("onnx YOLOv8n int8→fp32 320²", {**fp32, "input_size": 320}, batches),
        ("onnx YOLOv8n int8→fp32 384×640, 1 thread", {**fp32, **wide, "threads": 1}, (1,)),
        ("onnx YOLOX-Nano 416²", {"model": yolox}, batches),
        ("onnx YOLOX-Nano 256×416", {"model": yolox, "input_size": [256, 416]}, batches),
        ("onnx YOLOX-Nano 416², 1 thread", {"model": yolox, "threads": 1}, (1,)),
    ]
    if importlib.util.find_spec("openvino"):
        openvino = {"runtime": "openvino"}
        configs += [
            ("openvino YOLOv8n int8→fp32 640²", {**fp32, **openvino}, batches),
            ("openvino YOLOv8n int8→fp32 384×640", {**fp32, **wide, **openvino}, batches),
            ("openvino YOLOX-Nano 416²", {"model": yolox, **openvino}, batches),
        ]
    for label, options, sizes in configs:
        detector = build_detector(parse_detector_config({"kind": "onnx", **options}))
        rows.append(Row(label, measure(detector, frames, sizes, repeats)))
        detector.close()

    if importlib.util.find_spec("ultralytics"):
        detector = build_detector(parse_detector_config({"kind": "ultralytics", "model": yolov8}))
        rows.append(
            Row("ultralytics YOLO(yolov8n_int8.onnx) predict", measure(detector, frames, (1,), repeats))
        )

    fire = build_detector(parse_detector_config({"kind": "classical_fire"}))
    clock = iter(range(10**9))  # a stateful detector needs a moving clip, not one frame again and again

    def next_fire_frame() -> list[Frame]:
        tick = next(clock)
        frame = frames[tick % len(frames)]
        return [Frame("fire-cam", tick, tick * 0.2, 0, frame.image)]

    rows.append(
        Row(
            "classical_fire (work width 320, full history)",
            {1: time_calls(lambda: fire.detect(next_fire_frame()), repeats * 4)},
        )
    )
    density = build_detector(parse_detector_config({"kind": "density", "model": mcnn}))
    rows.append(Row("density MCNN-A, 640×360 frame", measure(density, frames, (1, 4), repeats)))
    crowd = [Frame("crowd", 0, 0, 0, cv2.imread(str(asset("images/crowd/IMG_1.jpg"))))]
    rows.append(Row("density MCNN-A, 1024×768 image", measure(density, crowd, (1,), repeats)))
    # The baseline again at the end, keeping its best: load from other processes comes and goes, and the
    # ratios should not flatter us because the baseline happened to run during a busy spell.
    first, again = rows[0].cost[1], measure(baseline, frames, (1,), repeats)[1]
    rows[0].cost[1] = Cost(min(first.wall_ms, again.wall_ms), min(first.cpu_ms, again.cpu_ms))
    gate = MotionGate()
    cost = time_calls(lambda: [gate.check(f, 0.0) for f in frames], repeats * 4).per(len(frames))
    rows.append(Row("motion gate (64×36 thumbnail)", {1: cost}))
    return rows


def speed_table(rows: list[Row], batches: Sequence[int], measure_of: str) -> str:
    """One markdown table of `wall_ms` or `cpu_ms` per frame, with the best batch's ratio to the baseline."""
    baseline = getattr(rows[0].cost[1], measure_of)
    head = " | ".join(f"batch {b}" for b in batches)
    lines = [f"| backend | {head} | best vs baseline |", "|---|" + "---:|" * (len(batches) + 1)]
    for row in rows:
        values = {b: getattr(cost, measure_of) for b, cost in row.cost.items()}
        cells = " | ".join(f"{values[b]:.1f}" if b in values else "" for b in batches)
        lines.append(f"| {row.label} | {cells} | {baseline / min(values.values()):.2f}× |")
    return "\n".join(lines)


def fire_hit_rates() -> str:
    """Per-frame hit rates of classical_fire on every clip, at 5 fps and at full rate."""
    lines = [
        "| clip | sampling | frames | fire | smoke | any | first fire s | first smoke s | ms/frame |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clip in CLIPS:
        for every_s, label in ((0.2, "5 fps"), (0.0, "every frame")):
            detector = build_detector(parse_detector_config({"kind": "classical_fire"}))
            capture = cv2.VideoCapture(str(asset(f"video/{clip}")))
            fps = capture.get(cv2.CAP_PROP_FPS)
            step = max(1, round(fps * every_s))
            hits: dict[str, list[bool]] = {"fire": [], "smoke": []}
            first: dict[str, float] = {}
            spent = 0.0
            index = -1
            while True:
                index += 1
                if index % step:
                    if not capture.grab():
                        break
                    continue
                ok, image = capture.read()
                if not ok:
                    break
                start = time.perf_counter()
                (result,) = detector.detect([Frame("cam", index, index / fps, 0, image)])
                spent += time.perf_counter() - start
                for name, seen in hits.items():
                    hit = len(result.detections.of_class(name)) > 0
                    seen.append(hit)
                    if hit and name not in first:
                        first[name] = index / fps
            n = len(hits["fire"])
            any_rate = float(np.mean(np.logical_or(hits["fire"], hits["smoke"])))
            firsts = " | ".join(f"{first[k]:.2f}" if k in first else "–" for k in ("fire", "smoke"))
            lines.append(
                f"| {clip} | {label} | {n} | {np.mean(hits['fire']):.3f} | {np.mean(hits['smoke']):.3f} | "
                f"{any_rate:.3f} | {firsts} | {spent / n * 1000:.1f} |"
            )
    return "\n".join(lines)


def mcnn_counts() -> str:
    lines = ["| weights | image | true | reference | ours | ms |", "|---|---|---:|---:|---:|---:|"]
    truth, reference = {1: 1546, 4: 413}, {("A", 1): 1030, ("A", 4): 348}
    for tag, weights in (("A", "mcnn_shtechA_660.h5"), ("B", "mcnn_shtechB_110.h5")):
        detector = build_detector(
            parse_detector_config({"kind": "density", "model": str(asset(f"weights/{weights}"))})
        )
        for n in (1, 4):
            image = cv2.imread(str(asset(f"images/crowd/IMG_{n}.jpg")))
            frame = Frame("crowd", 0, 0, 0, image)
            detector.detect([frame])
            start = time.perf_counter()
            (result,) = detector.detect([frame])
            ms = (time.perf_counter() - start) * 1000
            ref = reference.get((tag, n), "–")
            count = result.extras.count
            lines.append(f"| {tag} | IMG_{n}.jpg | {truth[n]} | {ref} | {count:.1f} | {ms:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=("speed", "fire", "density"), action="append")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--write", type=Path, help="also write the markdown to this file")
    args = parser.parse_args()
    wanted = set(args.only or ("speed", "fire", "density"))
    import onnxruntime

    parts = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, onnxruntime {onnxruntime.__version__}, "
        f"OpenCV {cv2.__version__}."
    ]
    if "speed" in wanted:
        load_before = os.getloadavg()[0]
        rows = speed_rows(args.repeats, args.batches)
        load = f"load average {load_before:.2f} → {os.getloadavg()[0]:.2f}"
        parts += [
            f"## Wall ms per frame (best of {args.repeats}; {load})",
            speed_table(rows, args.batches, "wall_ms"),
            f"## CPU ms per frame (this process, all threads; median of {args.repeats})",
            speed_table(rows, args.batches, "cpu_ms"),
        ]
    if "fire" in wanted:
        parts += ["## classical_fire hit rates (share of analysed frames with a detection)", fire_hit_rates()]
    if "density" in wanted:
        parts += ["## MCNN crowd counts", mcnn_counts()]
    text = "\n\n".join(parts) + "\n"
    print(text)
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
