"""How often a crowd-fusion zone switches backend on real video, with and without hysteresis.

The two people clips are run at 5 fps through the production count path (`RuleGroup` with the
`crowd_fusion` detector: YOLOX-Nano boxes + MCNN-A density); each zone's people per megapixel is recorded
per frame, then replayed through `FusionSwitch` under three policies: one threshold (no hysteresis), two
thresholds (enter at T, leave below 0.6 T), and two thresholds plus a hold time. Every switch is a jump
between the two models' counts in that zone, which a crowd rule would see.

Our clips are sparse (25–180 people/Mpx for whole frames), far below the default switch (250): there
they never switch at all. To exercise the mechanism on real MCNN noise, `--at` puts the switch inside
the clips' range (default 100 /Mpx: the 1906 street wanders around it).

    .venv/bin/python benchmarks/crowd_switching.py [--at 100] [--hold 3]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alarms.grids import Placement  # noqa: E402
from detectors.base import build_detector  # noqa: E402
from detectors.config import parse_detector_config  # noqa: E402
from detectors.crowd_fusion import FusionSwitch  # noqa: E402
from ingest.types import Frame  # noqa: E402
from video.config import CameraConfig  # noqa: E402
from video.rule_group import RuleGroup  # noqa: E402

ASSETS = Path(os.environ.get("SHARPEYES_ASSETS", REPO.parent / "shared" / "assets"))
HALVES = [  # upper (far) and lower (near) half of a 640×360 frame
    {"name": "far", "polygon": [[0, 0], [640, 0], [640, 180], [0, 180]]},
    {"name": "near", "polygon": [[0, 180], [640, 180], [640, 360], [0, 360]]},
]
CLIPS = ("video/crosswalk_pedestrians.mp4", "video/market_street_1906_pd.mp4")


def series(clip: str, detector: object, fps: float) -> dict[str, list[tuple[float, float]]]:
    """(clip time, people per Mpx) per zone ('' = whole frame), as the camera's rule group saw them."""
    cam = CameraConfig.model_validate(
        {"id": "BENCH", "url": str(ASSETS / clip), "grid": "G", "zones": HALVES, "rules": []}
    )
    group = RuleGroup(cam, Placement("G", "C", "S"), "fused", [])
    capture = cv2.VideoCapture(str(ASSETS / clip))
    step = max(1, round(capture.get(cv2.CAP_PROP_FPS) / fps))
    out: dict[str, list[tuple[float, float]]] = {}
    index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index % step == 0:
            t = index / capture.get(cv2.CAP_PROP_FPS)
            result = detector.detect([Frame("BENCH", index, t, int(t * 1e9), image)])[0]  # type: ignore[attr-defined]
            seen, _ = group.feed(result)
            for name, value in (seen.extras.crowd_per_mpx or {}).items():
                out.setdefault(name, []).append((t, value))
        index += 1
    capture.release()
    return out


def switches(values: list[tuple[float, float]], switch: FusionSwitch) -> tuple[int, float]:
    """Number of backend changes, and the share of frames spent on density."""
    state, changes, dense = None, 0, 0
    for t, value in values:
        new = switch.step(state, value, t)
        changes += state is not None and new.mode != state.mode
        dense += new.mode == "density"
        state = new
    return changes, dense / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--at", type=float, default=100.0, help="switch point, people per megapixel")
    parser.add_argument("--hold", type=float, default=3.0, help="hold time of the third policy, seconds")
    parser.add_argument("--fps", type=float, default=5.0)
    args = parser.parse_args()
    weights = ASSETS / "weights"
    detector = build_detector(
        parse_detector_config(
            {
                "kind": "crowd_fusion",
                "boxes": {
                    "kind": "onnx",
                    "model": str(weights / "yolox_nano.onnx"),
                    "input_size": [256, 416],
                    "threads": 1,
                    "classes": {"person": "person"},
                },
                "density": {"kind": "density", "model": str(weights / "mcnn_shtechA_660.h5"), "threads": 1},
            }
        )
    )
    policies = {
        "one threshold": FusionSwitch(args.at, args.at),
        "two thresholds": FusionSwitch(args.at, 0.6 * args.at),
        f"two + hold {args.hold:g} s": FusionSwitch(args.at, 0.6 * args.at, args.hold),
    }
    print(f"switch at {args.at:g} people/Mpx, {args.fps:g} fps")
    print("| clip | zone | frames | people/Mpx min–max | " + " | ".join(policies) + " |")
    print("|---|---|---:|---|" + "---:|" * len(policies))
    try:
        for clip in CLIPS:
            for zone, values in series(clip, detector, args.fps).items():
                lo, hi = min(v for _, v in values), max(v for _, v in values)
                cells = []
                for switch in policies.values():
                    changes, dense = switches(values, switch)
                    cells.append(f"{changes} ({dense:.0%} dense)")
                name = zone or "frame"
                print(
                    f"| {Path(clip).stem} | {name} | {len(values)} | {lo:g}–{hi:g} | "
                    + " | ".join(cells)
                    + " |"
                )
    finally:
        detector.close()


if __name__ == "__main__":
    main()
