"""Smoke for the classical detector: grey or white plumes that drift, stay, and grow over seconds.

Per pixel (as before): low saturation, soft (low texture), present over most of the short history while
changing gently — semi-transparent drift, not a rigid grey object walking past. Evidence accumulates per
pixel. Brightness is not required: a grey plume over a dark room is darker than any sky but brighter than
its room, so the floor is low (`smoke_value_min`) and static dark surfaces are left out by the need to
change. Smoke is not looked for in monochrome frames (IR night mode, old footage), judged by chroma at any
brightness, so an unlit colour room still counts as colour.

Per region (new, issue 18): a candidate alarms only if it **grows** — its area now is at least
`smoke_growth` × the largest area it had `smoke_growth_window_s` or more ago, with most of the latest old
region still inside the new one (a plume spreads from where it was; a cloud, a van or a person in white
moves away from it); not judged in the camera's first `smoke_growth_window_s`, while evidence still builds
up — or if it is **large and grey**: at least `smoke_large_area` of the frame and not white (mean grey
under `smoke_white_max`). Steady steam from a vent, clouds sliding across the sky and white clothing do
neither; a fire's plume does at least one. Thresholds and the suites they were chosen on: docs/ACCURACY.md.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from detectors.config import ClassicalFireConfig

Box = tuple[tuple[int, ...], float]


@dataclass(frozen=True, slots=True)
class SmokeThresholds:
    sat_max: int
    value_min: int
    texture_max: float
    std: tuple[float, float]
    jump_max: float
    persistence: float
    evidence: float
    motion: float
    min_area: float
    colourful_min: float
    growth: float
    growth_window_s: float
    contained: float
    large_area: float
    white_max: float

    @classmethod
    def from_config(cls, config: ClassicalFireConfig) -> SmokeThresholds:
        s = config.sensitivity
        return cls(
            sat_max=round(18 + 14 * s),
            value_min=config.smoke_value_min,
            texture_max=6.0,
            std=(2.0, 14.0),
            jump_max=18 + 8 * s,
            persistence=0.75,
            evidence=0.6 - 0.2 * s,
            motion=config.smoke_motion,
            min_area=config.min_smoke_area,
            colourful_min=0.02,
            growth=config.smoke_growth,
            growth_window_s=config.smoke_growth_window_s,
            contained=config.smoke_contained,
            large_area=config.smoke_large_area,
            white_max=config.smoke_white_max,
        )


@dataclass(slots=True)
class SmokeHistory:
    """Per camera: short-history colour masks and evidence, and candidate masks about every second."""

    colour: deque[np.ndarray]
    evidence: np.ndarray
    candidates: deque[tuple[float, np.ndarray]] = field(default_factory=lambda: deque(maxlen=16))
    started_at: float | None = None  # first sampled frame: evidence is still building up just after it


def smoke_colour(small: np.ndarray, grey: np.ndarray, t: SmokeThresholds) -> tuple[np.ndarray, float]:
    """Grey, soft pixels that are not black or clipped; and how much colour the frame has (0: monochrome)."""
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    sat, val = hsv[..., 1], hsv[..., 2]
    colourful = float(np.count_nonzero((sat > 40) & (val > 25))) / sat.size
    texture = cv2.blur(np.abs(cv2.Laplacian(grey, cv2.CV_32F)), (5, 5))
    colour = (sat < t.sat_max) & (val > t.value_min) & (val < 245) & (texture < t.texture_max)
    return colour, colourful


def _then(history: SmokeHistory, now: float, window_s: float) -> list[np.ndarray]:
    """The candidate masks at least `window_s` old (the region's past, without its last seconds)."""
    return [mask for at, mask in history.candidates if now - at >= window_s]


def _grows(
    region: np.ndarray, then: list[np.ndarray], box: tuple[int, int, int, int], t: SmokeThresholds
) -> bool:
    """Grown to `growth` × the largest area the old region near the box ever had (a steady plume that
    breathes is not growing), with at least `contained` of the most recent old region inside the new one."""
    if not then:
        return False
    x, y, w, h = box
    pad = max(w, h) // 2 + 4
    window = (slice(max(0, y - pad), y + h + pad), slice(max(0, x - pad), x + w + pad))
    before = max(int(np.count_nonzero(mask[window])) for mask in then)
    latest = int(np.count_nonzero(then[-1][window]))
    if before == 0 or np.count_nonzero(then[-1] & region) < t.contained * latest:
        return False
    return int(np.count_nonzero(region)) >= t.growth * before


def find_smoke(
    history: SmokeHistory,
    stack: np.ndarray,
    colour: np.ndarray,
    colourful: float,
    now: float,
    t: SmokeThresholds,
    kernel: np.ndarray,
) -> tuple[list[Box], np.ndarray, np.ndarray | None]:
    """Smoke boxes (work pixels); the updated evidence map and candidate mask, to keep if this frame is
    sampled. `stack` is the grey history with the current frame last."""
    if colourful < t.colourful_min or len(stack) < 3:
        return [], history.evidence * 0.5, None
    grey = stack[-1]
    spread = stack.std(axis=0)
    jump = np.abs(np.diff(stack, axis=0)).max(axis=0)
    persistent = np.stack([*history.colour, colour]).mean(axis=0) >= t.persistence
    drifting = colour & persistent & (spread > t.std[0]) & (spread < t.std[1]) & (jump < t.jump_max)
    evidence = history.evidence * 0.7 + 0.3 * drifting
    candidate = cv2.morphologyEx((evidence > t.evidence).astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
    min_pixels = max(16, int(t.min_area * grey.size))
    then = _then(history, now, t.growth_window_s)
    boxes: list[Box] = []
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate.astype(np.uint8), connectivity=8)
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area < min_pixels:
            continue
        region = labels == label
        if float(drifting[region].mean()) < t.motion:
            continue
        large_grey = area >= t.large_area * grey.size and float(grey[region].mean()) < t.white_max
        if not (large_grey or _grows(region, then, (x, y, w, h), t)):
            continue
        size_term = min(1.0, region.mean() / (5 * t.min_area))
        score = 0.4 + 0.3 * float(evidence[region].mean()) + 0.3 * size_term
        boxes.append(((x, y, x + w, y + h), min(1.0, score)))
    return boxes, evidence, candidate


def keep(
    history: SmokeHistory,
    colour: np.ndarray,
    evidence: np.ndarray,
    candidate: np.ndarray | None,
    now: float,
    warm_up_s: float,
) -> None:
    """The sampled frame joins the history; a candidate mask is kept about once a second, but only after
    `warm_up_s` (evidence still accumulating when the camera starts would look like growth)."""
    history.colour.append(colour)
    history.evidence = evidence
    if history.started_at is None:
        history.started_at = now
    if candidate is None:
        history.candidates.clear()
        history.started_at = now
    elif now - history.started_at < warm_up_s:
        return
    elif not history.candidates or now - history.candidates[-1][0] >= 0.9:
        history.candidates.append((now, candidate))
