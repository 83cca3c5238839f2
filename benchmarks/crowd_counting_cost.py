"""Per-frame cost of each crowd-counting backend and tiling setting, against untiled person boxes.

Two frames: a 640×360 clip frame (the crosswalk at 0 s, what a camera's detect stream looks like) and a
1024×768 dense still (ShanghaiTech A IMG_1). Each setting is built once, warmed up once, then timed
`--repeats` times on each frame; the median is printed with its ratio to the untiled YOLOX-Nano boxes
measured in the same run (so a busy shared box moves both). Every model runs with one intra-op thread,
as the service runs the people model.

    .venv/bin/python benchmarks/crowd_counting_cost.py [--repeats 5] [--skip-csrnet]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detectors.base import build_detector  # noqa: E402
from detectors.config import parse_detector_config  # noqa: E402
from ingest.types import Frame  # noqa: E402

ASSETS = Path(os.environ.get("SHARPEYES_ASSETS", REPO.parent / "shared" / "assets"))
WEIGHTS = ASSETS / "weights"
CSRNET = Path(os.environ.get("SHARPEYES_CSRNET", "/nonexistent/csrnet.npz"))  # optional, see docs/ACCURACY.md
BOXES: dict[str, Any] = {
    "kind": "onnx",
    "model": str(WEIGHTS / "yolox_nano.onnx"),
    "input_size": [256, 416],
    "threads": 1,
    "classes": {"person": "person"},
}
MCNN: dict[str, Any] = {"kind": "density", "model": str(WEIGHTS / "mcnn_shtechA_660.h5"), "threads": 1}
CSR: dict[str, Any] = {"kind": "density", "model": str(CSRNET), "threads": 1}


def settings(with_csrnet: bool) -> dict[str, dict[str, Any]]:
    tiled = {"kind": "tiled", "boxes": BOXES, "grid": [2, 2]}
    out: dict[str, dict[str, Any]] = {
        "boxes (baseline)": BOXES,
        "boxes, 2×2 tiles + frame": tiled,
        "boxes, 3×3 tiles + frame": {**tiled, "grid": [3, 3]},
        "boxes, 1×2 tiles over the top 60 % + frame": {**tiled, "grid": [1, 2], "region": [0, 0.6]},
        "MCNN-A": MCNN,
        "MCNN-A, input_scale 0.5": {**MCNN, "input_scale": 0.5},
        "fused: boxes + MCNN-A": {"kind": "crowd_fusion", "boxes": BOXES, "density": MCNN},
        "fused: 2×2 tiles + MCNN-A": {"kind": "crowd_fusion", "boxes": tiled, "density": MCNN},
    }
    if with_csrnet:
        out["CSRNet"] = CSR
        out["CSRNet, input_scale 0.5"] = {**CSR, "input_scale": 0.5}
        out["fused: 2×2 tiles + CSRNet"] = {"kind": "crowd_fusion", "boxes": tiled, "density": CSR}
    return out


def frames() -> dict[str, np.ndarray]:
    capture = cv2.VideoCapture(str(ASSETS / "video" / "crosswalk_pedestrians.mp4"))
    ok, clip = capture.read()
    capture.release()
    dense = cv2.imread(str(ASSETS / "images" / "crowd" / "IMG_1.jpg"))
    if not ok or dense is None:
        raise SystemExit(f"assets missing under {ASSETS}")
    return {"640×360 clip frame": clip, "1024×768 dense still": dense}


def median_ms(detector: Any, image: np.ndarray, repeats: int) -> float:
    frame = Frame("BENCH", 0, 0.0, 0, image)
    detector.detect([frame])  # warm-up: first-run allocations and graph optimisation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        detector.detect([frame])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-csrnet", action="store_true", help="CSRNet takes seconds per frame")
    args = parser.parse_args()
    with_csrnet = not args.skip_csrnet and CSRNET.is_file()
    images = frames()
    results: dict[str, dict[str, float]] = {}
    for name, config in settings(with_csrnet).items():
        detector = build_detector(parse_detector_config(config))
        try:
            results[name] = {key: median_ms(detector, image, args.repeats) for key, image in images.items()}
        finally:
            detector.close()
    base = results["boxes (baseline)"]
    print(f"median of {args.repeats} runs, one thread per model, {os.cpu_count()} CPUs")
    print("| setting | " + " | ".join(f"{k} ms (× baseline)" for k in images) + " |")
    print("|---|" + "---:|" * len(images))
    for name, row in results.items():
        cells = [f"{row[k]:.0f} (×{row[k] / base[k]:.1f})" for k in images]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
