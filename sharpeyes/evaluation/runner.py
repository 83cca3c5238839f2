"""Run the production pieces over a clip: rate limit and motion gate (``CameraState``), the named
detectors (``build_detector``), ignore masks, zones and rules (``RuleGroup``), rule ticks — the same objects
:class:`video.pipeline.VideoPipeline` wires, minus the threads, the database and the snapshots.

Time: rules see ``captured_at`` = a fixed base + the frame's time in the clip, so a run is reproducible
at any speed. An alert's time adds the real processing delay from decode to observation. ``live`` pacing
waits for each frame's moment and drops frames that went stale while the detectors were busy, as a
camera's latest-frame slot does; ``fast`` runs every frame the camera's ``detect_fps`` lets through.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alarms.grids import Placement
from alarms.observations import Observation, ObservationLevel
from detectors.base import Detector
from detectors.motion import MotionGate
from ingest.types import Frame
from sharpeyes.evaluation.media import open_source
from sharpeyes.evaluation.metrics import Alert, ClipOutcome, Window
from sharpeyes.evaluation.suite import ClipCase, ClipLabels
from sharpeyes.evaluation.tamper_effects import EffectRenderer
from video.camera_state import CameraState
from video.config import CameraConfig, VideoConfig, detector_for
from video.rule_group import RuleGroup
from video.tamper_watch import CATEGORY, CameraTamper

BASE_TS = 1_700_000_000.0  # clip time 0 as wall time for the rules (any fixed value will do)
GRID = "EVAL"


@dataclass(slots=True)
class StageTimes:
    """Milliseconds per frame per stage, pooled over clips."""

    ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, stage: str, ms: float) -> None:
        self.ms[stage].append(ms)

    def summary(self) -> dict[str, dict[str, float | int]]:
        out: dict[str, dict[str, float | int]] = {}
        for stage, values in sorted(self.ms.items()):
            ordered = sorted(values)
            out[stage] = {
                "frames": len(values),
                "mean_ms": round(statistics.fmean(values), 2),
                "p50_ms": round(ordered[len(ordered) // 2], 2),
                "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
            }
        return out


def camera_for(case: ClipCase, labels: ClipLabels, media: Any, index: int) -> CameraConfig:
    """The clip's camera, validated by the service's own camera model."""
    name = case.name or f"clip{index}"
    url = str(media) if not isinstance(media, str) else "file:///dev/null"  # synthetic: never opened
    return CameraConfig.model_validate({**case.camera, "id": name, "url": url, "grid": GRID})


def _groups(cam: CameraConfig, video: VideoConfig) -> dict[str, RuleGroup]:
    placement = Placement(GRID, GRID, GRID, (cam.id,), {})
    by_detector: dict[str, list[Any]] = {}
    for rule in cam.rules:
        by_detector.setdefault(detector_for(cam, rule.kind, video), []).append(rule)
    return {name: RuleGroup(cam, placement, name, rules) for name, rules in by_detector.items()}


class _Alerts:
    """Observations → one Alert per rule episode (the episode start ends every event id)."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, obs: Observation, t: float) -> None:
        if obs.level is ObservationLevel.CLEARED:
            return
        key = (obs.rule, obs.event_id.rsplit(":", 1)[-1])
        entry = self.first.setdefault(key, {"kind": obs.kind, "rule": obs.rule, "t": t, "level": obs.level})
        if obs.level is ObservationLevel.CONFIRMED and "confirmed_t" not in entry:
            entry["confirmed_t"] = t

    def add_tamper(self, kind: str, t: float) -> None:
        """A camera_tamper incident (its kind in the rule name); one per raise, never graded."""
        key = (f"tamper:{kind}", f"{t:.3f}")
        self.first[key] = {"kind": CATEGORY, "rule": key[0], "t": t, "level": ObservationLevel.CONFIRMED}

    def alerts(self) -> tuple[Alert, ...]:
        return tuple(
            Alert(e["kind"], e["rule"], e["t"], e["level"], e.get("confirmed_t"))
            for e in sorted(self.first.values(), key=lambda e: e["t"])
        )


def _wait_for_live(pts: float, wall0: float, fps: float) -> bool:
    """At live pace: sleep until the frame's moment; False for a frame already stale (a live camera would
    have handed over a newer one)."""
    ahead = pts - (time.perf_counter() - wall0)
    if ahead > 0:
        time.sleep(ahead)
    return ahead > 0 or -ahead <= 1.0 / fps


def _analyse(
    frame: Frame,
    groups: Mapping[str, RuleGroup],
    detectors: Mapping[str, Detector],
    times: StageTimes,
    found: _Alerts,
    pts: float,
    t0: float,
) -> None:
    """Each detector in use on the frame, then its rule group; observations timed from the grab."""
    for name, group in groups.items():
        t3 = time.perf_counter()
        result = detectors[name].detect([frame])[0]
        t4 = time.perf_counter()
        _, observations = group.feed(result)
        t5 = time.perf_counter()
        times.add(f"detect:{name}", (t4 - t3) * 1000)
        times.add("rules", (t5 - t4) * 1000)
        for obs in observations:
            found.add(obs, pts + (t5 - t0))


def _tamper(
    cam: CameraTamper, frame: Frame, times: StageTimes, found: _Alerts, pts: float, t0: float
) -> None:
    """The camera's tamper checks on a frame they asked for, timed as their own stage."""
    t1 = time.perf_counter()
    event = cam.analyse(frame)
    t2 = time.perf_counter()
    times.add("tamper", (t2 - t1) * 1000)
    if event is not None and event.kind is not None:
        found.add_tamper(event.kind, pts + (t2 - t0))


def _effect_events(case: ClipCase, end: float) -> list[Window]:
    """A generated tampering is a camera_tamper event from its start to its end, by construction."""
    e = case.effect
    if e is None or not e.is_tamper or e.start_s >= end:
        return []
    stop = end if e.duration_s is None else min(end, e.start_s + e.duration_s)
    return [Window(CATEGORY, max(case.start_s, e.start_s), stop)]


def _clipped(intervals: list[Any], start: float, end: float) -> tuple[Window, ...]:
    out = []
    for iv in intervals:
        s, e = max(iv.start, start), min(iv.end if iv.end is not None else end, end)
        if e > s:
            out.append(Window(iv.kind, s, e))
    return tuple(out)


def _tick(groups: Mapping[str, RuleGroup], found: _Alerts, captured_at: float, pts: float) -> None:
    for group in groups.values():
        for obs in group.tick(captured_at):
            found.add(obs, pts)


def _image(source: Any, case: ClipCase, effect: EffectRenderer | None, pts: float) -> np.ndarray:
    """The camera's picture: the decoded frame, cropped, with the case's generated effect."""
    image = source.retrieve()
    if case.crop is not None:
        x0, y0, x1, y1 = case.crop
        image = np.ascontiguousarray(image[y0:y1, x0:x1])
    return effect.apply(image, pts) if effect is not None else image


def run_clip(
    case: ClipCase,
    labels: ClipLabels,
    media: Any,
    index: int,
    detectors: Mapping[str, Detector],
    video: VideoConfig,
    pace: str,
    times: StageTimes,
) -> ClipOutcome:
    cam = camera_for(case, labels, media, index)
    groups = _groups(cam, video)
    missing = sorted(set(groups) - set(detectors))
    if missing:
        raise RuntimeError(f"clip {cam.id}: detectors not loaded: {', '.join(missing)}")
    gate = MotionGate.from_config(cam.motion or video.motion)
    state = CameraState(
        cam, Placement(GRID, GRID, GRID, (cam.id,), {}), gate, int(1e9 / cam.detect_fps), groups
    )
    tamper_cfg = cam.tamper or video.tamper
    tamper = CameraTamper(cam.id, tamper_cfg) if tamper_cfg.enabled else None
    effect = EffectRenderer(case.effect) if case.effect is not None else None
    source = open_source(media, case.start_s)
    end = min(case.end_s or source.duration_s, source.duration_s)
    found = _Alerts()
    next_tick = case.start_s + video.rules_tick_s
    wall0 = time.perf_counter() - case.start_s
    seq = 0
    try:
        while True:
            t0 = time.perf_counter()
            pts = source.grab()
            if pts is None or pts >= end:
                break
            if pace == "live":
                if not _wait_for_live(pts, wall0, source.fps):
                    continue
                t0 = time.perf_counter()
            captured_at = BASE_TS + pts
            if pts >= next_tick:
                next_tick = pts + video.rules_tick_s
                _tick(groups, found, captured_at, pts)
            detect = bool(groups) and state.due(int(pts * 1e9))
            check = tamper is not None and tamper.due(captured_at)
            if not detect and not check:
                continue
            seq += 1
            frame = Frame(cam.id, seq, captured_at, int(pts * 1e9), _image(source, case, effect, pts))
            t1 = time.perf_counter()
            times.add("decode", (t1 - t0) * 1000)
            if tamper is not None and check:
                _tamper(tamper, frame, times, found, pts, t0)
            if not detect:
                continue
            t1 = time.perf_counter()
            decision = gate.check(frame, captured_at)
            times.add("motion_gate", (time.perf_counter() - t1) * 1000)
            if decision.run:
                _analyse(frame, groups, detectors, times, found, pts, t0)
    finally:
        source.close()
    return ClipOutcome(
        cam.id,
        case.start_s,
        end,
        frozenset(r.kind for r in cam.rules) | ({CATEGORY} if tamper is not None else set()),
        (*_clipped(labels.events, case.start_s, end), *_effect_events(case, end)),
        _clipped(labels.dont_care, case.start_s, end),
        found.alerts(),
    )
