"""The whole evaluation: load a suite, build its detectors once, run clips and counts, and report.

The report is one JSON-able dict; ``flatten`` turns it into ``events.fire.recall``-style paths that the
suite's floors and ceilings name.
"""

from __future__ import annotations

import platform
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alarms.rules.measure import count_people
from detectors.base import Detector, build_detector
from detectors.crowd_fusion import FusionSwitch, per_mpx
from ingest.types import Frame
from sharpeyes.evaluation import candidate as under_test
from sharpeyes.evaluation.choice_cv import choice_validation
from sharpeyes.evaluation.media import still_image
from sharpeyes.evaluation.metrics import count_errors, score_events
from sharpeyes.evaluation.runner import BASE_TS, StageTimes, _groups, camera_for, run_clip
from sharpeyes.evaluation.suite import LoadedSuite
from sharpeyes.evaluation.switch_cv import SwitchSample, leave_one_out
from video.config import detector_configs


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _needed(loaded: LoadedSuite) -> set[str]:
    suite = loaded.suite
    names: set[str] = set(suite.counting.backends if suite.counting else [])
    for i, (case, labels) in enumerate(zip(suite.clips, loaded.clip_labels, strict=True)):
        cam = camera_for(case, labels, "file:///dev/null", i)
        names.update(_groups(cam, suite.video))
    return names


def _build(loaded: LoadedSuite, names: set[str]) -> dict[str, Detector]:
    configs = detector_configs(loaded.suite.detectors, loaded.env)
    unknown = sorted(names - set(configs))
    if unknown:
        raise ValueError(f"unknown detectors in the suite: {', '.join(unknown)}")
    built: dict[str, Detector] = {}
    try:
        for name in sorted(names):
            built[name] = build_detector(configs[name])
    except BaseException:
        for detector in built.values():
            detector.close()
        raise
    return built


def count_with(detector: Detector, image: Any, key: str) -> float:
    """A backend's people count for the whole image, measured as the crowd rules measure it."""
    return measure_count(detector, image, key)[0]


def measure_count(detector: Detector, image: Any, key: str) -> tuple[float, dict[str, float] | None]:
    """The count as above, and for a crowd-fusion backend both of its counts and the switch variable
    (people per megapixel), which the switch's cross-validation needs."""
    result = detector.detect([Frame(key, 0, BASE_TS, 0, image)])[0]
    measured = count_people(result, source="auto")
    count = measured.count if measured is not None else 0.0
    if result.extras.fusion is None or result.extras.density_count is None:
        return count, None
    boxes = count_people(result, source="boxes")
    density = float(result.extras.density_count)
    height, width = image.shape[:2]
    return count, {
        "boxes": boxes.count if boxes is not None else 0.0,
        "density": round(density, 1),
        "per_mpx": round(per_mpx(density, width * height), 1),
    }


def switch_validation(detectors: Mapping[str, Detector], per_image: list[dict[str, Any]]) -> dict[str, Any]:
    """Leave-one-out validation of each crowd-fusion backend's switch point over the counting images."""
    out: dict[str, Any] = {}
    for backend, detector in detectors.items():
        rows = [p for p in per_image if p["backend"] == backend and "per_mpx" in p]
        switch = getattr(detector, "switch", None)
        if len(rows) < 2 or not isinstance(switch, FusionSwitch):
            continue
        samples = [
            SwitchSample(p["true"], p["boxes"], p["density"], p["per_mpx"], f"{p['media']}@{p['t']}")
            for p in rows
        ]
        out[backend] = leave_one_out(samples, configured=switch.dense_per_mpx)
    return out


def evaluate(
    suite_path: str | Path,
    *,
    pace: str | None = None,
    env: Mapping[str, str] | None = None,
    candidate: under_test.Candidate | None = None,
) -> dict[str, Any]:
    """`candidate`: a model under test, put in front of its rule kinds on every clip (`candidate.py`)."""
    loaded = LoadedSuite(suite_path, env)
    if candidate is not None:
        under_test.apply(loaded, candidate)
    suite = loaded.suite
    pace = pace or suite.pace
    started = time.perf_counter()
    needed = _needed(loaded)
    under_test.check_needed(sorted(needed), candidate)
    detectors = _build(loaded, needed)
    times = StageTimes()
    try:
        configs = detector_configs(suite.detectors, loaded.env)
        described = under_test.describe(candidate, detectors, configs)
        outcomes = []
        for i, (case, labels) in enumerate(zip(suite.clips, loaded.clip_labels, strict=True)):
            media = loaded.media(labels.media)
            outcomes.append(run_clip(case, labels, media, i, detectors, suite.video, pace, times))
        scores = score_events(outcomes, suite.event_kinds, suite.match.early_s, suite.match.late_s)
        counting: dict[str, Any] = {}
        per_image: list[dict[str, Any]] = []
        if suite.counting is not None:
            for backend in suite.counting.backends:
                counting[backend] = {}
                for set_name, labels in loaded.count_labels.items():
                    pairs = []
                    for item in labels.items:
                        image = still_image(loaded.media(item.media), item.t)
                        t0 = time.perf_counter()
                        est, fusion = measure_count(detectors[backend], image, "count")
                        times.add(f"count:{backend}", (time.perf_counter() - t0) * 1000)
                        pairs.append((item.count, est))
                        per_image.append(
                            {
                                "backend": backend,
                                "set": set_name,
                                "media": item.media,
                                "t": item.t,
                                "true": item.count,
                                "estimate": round(est, 1),
                                **(fusion or {}),
                            }
                        )
                    counting[backend][set_name] = count_errors(pairs)
                counting[backend]["all"] = count_errors(
                    [(p["true"], p["estimate"]) for p in per_image if p["backend"] == backend]
                )
        switch_cv = switch_validation(detectors, per_image)
        choice_cv = choice_validation(suite.counting, per_image) if suite.counting else {}
    finally:
        for detector in detectors.values():
            detector.close()
    report: dict[str, Any] = {
        "suite": suite.name,
        "commit": _commit(),
        "pace": pace,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "wall_s": round(time.perf_counter() - started, 1),
        "detectors": described,
        "events": {k: s.as_dict() for k, s in scores.items()},
        "clips": [
            {
                "clip": o.clip,
                "span_s": [round(o.start, 2), round(o.end, 2)],
                "alerts": [
                    {
                        "kind": a.kind,
                        "rule": a.rule,
                        "t": round(a.t, 2),
                        "level": a.level.value,
                        "confirmed_t": None if a.confirmed_t is None else round(a.confirmed_t, 2),
                    }
                    for a in o.alerts
                ],
            }
            for o in outcomes
        ],
        "counting": counting,
        "counts": per_image,
        "switch_cv": switch_cv,
        "choice_cv": choice_cv,
        "speed": times.summary(),
    }
    report["checks"] = check_limits(report, suite.floors, suite.ceilings)
    return report


def flatten(report: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in report.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def check_limits(
    report: Mapping[str, Any], floors: Mapping[str, float], ceilings: Mapping[str, float]
) -> list[dict[str, Any]]:
    """One entry per limit; a metric that is missing or null fails (a floor must not pass silently)."""
    flat = flatten(report)
    checks = []
    for path, limit, op in [
        *((p, v, ">=") for p, v in floors.items()),
        *((p, v, "<=") for p, v in ceilings.items()),
    ]:
        value = flat.get(path)
        ok = isinstance(value, int | float) and (value >= limit if op == ">=" else value <= limit)
        checks.append({"metric": path, "value": value, "limit": limit, "op": op, "ok": bool(ok)})
    return checks
