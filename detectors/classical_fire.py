"""Flames and smoke without weights: colour rules plus time, per camera.

Colour alone is useless on a street (red coats, brake lights, red-brown soil, tail lamps all pass a fire
colour rule), so every decision also needs temporal evidence from a short per-camera history of small frames:

- fire: bright, saturated red-orange-yellow pixels (R > G > B, high luma, large R−B) in regions where the
  colour mask *flickers* — pixels switch in and out of the mask at least twice within the history, each
  time with a real brightness jump (`flicker_step`: noise dithering a sunset sky across the colour
  threshold is not flicker), which flames do and rigid objects passing by rarely do; a region that keeps
  its shape from frame to frame once its motion is taken out (`fire_rigid_max`: a lamp blinking on a moving
  car, a screen) is dropped; growth of the total flame area adds to the score;
- smoke (`detectors.smoke_plumes`): low-saturation, low-texture pixels, not black, that stay smoke-coloured
  over most of the history while changing gently (semi-transparent drift, not a rigid grey object walking
  past); evidence accumulates per pixel, and a region alarms only if it grows over seconds from where it
  was, or is large and grey rather than white (steam, clouds). Not looked for in monochrome frames.

Frames are downscaled to `work_width` first (~2 ms per frame at 320 px). Scores are heuristic confidences
in 0–1 meant for thresholds in the rules layer, not calibrated probabilities.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from detectors.base import register
from detectors.config import ClassicalFireConfig
from detectors.smoke_plumes import SmokeHistory, SmokeThresholds, find_smoke
from detectors.smoke_plumes import keep as keep_smoke
from detectors.smoke_plumes import smoke_colour as smoke_colour_mask
from detectors.types import DetectionResult, Detections
from ingest.types import Frame

FIRE, SMOKE = 0, 1
CLASS_NAMES = ("fire", "smoke")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Pixel and region thresholds, derived from the config's sensitivity (0 strict … 1 eager)."""

    red_min: int
    red_minus_blue: int
    luma_min: int
    flicker_transitions: int
    fire_flicker: float
    flicker_step: float
    fire_coherence_max: float
    fire_rigid_max: float
    min_fire_area: float

    @classmethod
    def from_config(cls, config: ClassicalFireConfig) -> Thresholds:
        s = config.sensitivity
        return cls(
            red_min=round(215 - 30 * s),
            red_minus_blue=round(95 - 30 * s),
            luma_min=round(150 - 20 * s),
            flicker_transitions=2,
            fire_flicker=config.fire_flicker * (1.5 - s),
            flicker_step=config.flicker_step,
            fire_coherence_max=0.95,
            fire_rigid_max=config.fire_rigid_max,
            min_fire_area=config.min_fire_area,
        )


def fire_colour_mask(small: np.ndarray, t: Thresholds) -> np.ndarray:
    """Bright red-orange-yellow pixels: R ≥ G > B, R and luma high, R−B large."""
    b, g, r = (small[..., i].astype(np.int32) for i in range(3))
    luma = (r * 77 + g * 150 + b * 29) >> 8
    return (r > t.red_min) & (r >= g) & (g > b) & (g > 90) & (r - b > t.red_minus_blue) & (luma > t.luma_min)


@dataclass(slots=True)
class _CameraHistory:
    """Frames sampled at most every `min_interval_s`, so temporal statistics mean the same at any fps."""

    shape: tuple[int, ...]
    grey: deque[np.ndarray]
    fire: deque[np.ndarray]
    fire_area: deque[float]
    smoke: SmokeHistory
    sampled_at: float | None = None


def _regions(mask: np.ndarray, min_pixels: int) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    """Connected components of `mask` at least `min_pixels` big: (component mask, x, y, w, h)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    found = []
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        if area >= min_pixels:
            found.append((labels == label, (int(x), int(y), int(w), int(h))))
    return found


def _flicker_coherence(masks: np.ndarray) -> float:
    """How much a region switches as one piece (T×N masks of its pixels over time): 1 for a blinking lamp,
    near 0 for flames, whose pixels turn on and off in different places at the same moment."""
    turned_on = np.count_nonzero(masks[1:] & ~masks[:-1], axis=1)
    turned_off = np.count_nonzero(masks[:-1] & ~masks[1:], axis=1)
    changes = np.maximum(turned_on, turned_off).sum()
    return 1.0 if changes == 0 else 1.0 - float(np.minimum(turned_on, turned_off).sum()) / float(changes)


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`mask` moved by (dy, dx), zero-filled (no wrap-around)."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = mask[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def _shape_stability(masks: np.ndarray) -> float:
    """Median overlap (IoU) of consecutive masks of a region after moving each onto the next one's centroid.

    Near 1 for something rigid — a lamp, a sign, a blinking or passing light — however it moves; flames
    change shape from one frame to the next (0.2–0.5 on our clips). A pair where either mask is under a
    quarter of the window's largest is a blink (on/off: judged by coherence), not a change of shape, and is
    skipped; with no usable pair the answer is 0 (no evidence of rigidity)."""
    areas = np.count_nonzero(masks.reshape(len(masks), -1), axis=1)
    present = areas >= max(3, 0.25 * int(areas.max(initial=0)))
    overlaps = []
    for i, (before, after) in enumerate(itertools.pairwise(masks)):
        if not (present[i] and present[i + 1]):
            continue
        yb, xb = np.nonzero(before)
        ya, xa = np.nonzero(after)
        moved = _shift(before, round(ya.mean() - yb.mean()), round(xa.mean() - xb.mean()))
        overlaps.append(np.count_nonzero(moved & after) / np.count_nonzero(moved | after))
    return float(np.median(overlaps)) if overlaps else 0.0


@register("classical_fire")
class ClassicalFireDetector:
    """Fire and smoke boxes from colour, flicker and growth; state per camera, keyed by `camera_id`."""

    class_names: tuple[str, ...] = CLASS_NAMES

    def __init__(self, config: ClassicalFireConfig | None = None) -> None:
        self.config = config or ClassicalFireConfig()
        self.name = self.config.label
        self.thresholds = Thresholds.from_config(self.config)
        self.smoke_thresholds = SmokeThresholds.from_config(self.config)
        self._cameras: dict[str, _CameraHistory] = {}
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def _history(self, camera_id: str, shape: tuple[int, ...]) -> _CameraHistory:
        history = self._cameras.get(camera_id)
        if history is None or history.shape != shape:
            n = self.config.history - 1  # the current frame completes the window
            history = _CameraHistory(
                shape=shape,
                grey=deque(maxlen=n),
                fire=deque(maxlen=n),
                fire_area=deque(maxlen=n),
                smoke=SmokeHistory(deque(maxlen=n), np.zeros(shape[:2], np.float32)),
            )
            self._cameras[camera_id] = history
        return history

    def _small(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        if width <= self.config.work_width:
            return image
        size = (self.config.work_width, max(1, round(height * self.config.work_width / width)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    # -- fire ---------------------------------------------------------------------------------------------

    def _fire(
        self, history: _CameraHistory, colour: np.ndarray, grey: np.ndarray
    ) -> list[tuple[tuple[int, ...], float]]:
        t = self.thresholds
        masks = np.stack([*history.fire, colour])
        # a transition counts only with a real brightness jump: noise dithering a pixel across the colour
        # threshold (a sunset sky) or a slow drift crossing it once is not a flame's flicker
        greys = np.stack([*list(history.grey)[-(len(masks) - 1) :], grey])
        jumps = np.abs(np.diff(greys, axis=0)) >= t.flicker_step
        transitions = np.count_nonzero((masks[1:] != masks[:-1]) & jumps, axis=0)
        flicker = transitions >= t.flicker_transitions
        grown = cv2.morphologyEx(colour.astype(np.uint8), cv2.MORPH_CLOSE, self._kernel)
        min_pixels = max(4, int(t.min_fire_area * colour.size))
        area_now = float(colour.mean())
        past = [a for a in history.fire_area if a > 0]
        growth = area_now / float(np.median(past)) if past else 1.0
        boxes: list[tuple[tuple[int, ...], float]] = []
        for region, (x, y, w, h) in _regions(grown > 0, min_pixels):
            # flicker may sit on the edge of a steady flame core: look in a slightly dilated region
            around = cv2.dilate(region.astype(np.uint8), self._kernel) > 0
            ratio = float(flicker[around].mean())
            if ratio < t.fire_flicker or _flicker_coherence(masks[:, around]) > t.fire_coherence_max:
                continue
            if t.fire_rigid_max < 1:
                pad = 3
                box = masks[:, max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad]
                if _shape_stability(box) > t.fire_rigid_max:
                    continue  # keeps its shape while it moves or blinks: a lamp, not a flame
            score = (
                0.45
                + 0.35 * min(1.0, ratio / (3 * t.fire_flicker))
                + 0.1 * min(1.0, region.sum() / (20 * min_pixels))
            )
            score += 0.1 * min(1.0, max(0.0, growth - 1.0))
            boxes.append(((x, y, x + w, y + h), min(1.0, score)))
        return boxes

    # -- per frame ----------------------------------------------------------------------------------------

    def detect_one(self, frame: Frame) -> Detections:
        """Fire/smoke boxes (frame pixels) for `frame`, judged against its camera's history.

        The frame joins the history only if `min_interval_s` has passed since the last one that did, so a
        30 fps and a 5 fps feed see the same temporal statistics.
        """
        small = self._small(frame.image)
        history = self._history(frame.camera_id, small.shape)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
        found: list[tuple[tuple[int, ...], float, int]] = []
        fire_colour = fire_colour_mask(small, self.thresholds) if self.config.fire else None
        if fire_colour is not None and len(history.fire) >= 2:
            found += [(box, score, FIRE) for box, score in self._fire(history, fire_colour, grey)]
        smoke_colour, evidence, candidate = None, history.smoke.evidence, None
        if self.config.smoke:
            smoke_colour, colourful = smoke_colour_mask(small, grey, self.smoke_thresholds)
            stack = np.stack([*history.grey, grey])
            boxes, evidence, candidate = find_smoke(
                history.smoke,
                stack,
                smoke_colour,
                colourful,
                frame.captured_at,
                self.smoke_thresholds,
                self._kernel,
            )
            found += [(box, score, SMOKE) for box, score in boxes]

        last = history.sampled_at
        if last is None or not 0 <= frame.captured_at - last < self.config.min_interval_s:
            history.sampled_at = frame.captured_at
            history.grey.append(grey)
            if fire_colour is not None:
                history.fire.append(fire_colour)
                history.fire_area.append(float(fire_colour.mean()))
            if smoke_colour is not None:
                keep_smoke(
                    history.smoke,
                    smoke_colour,
                    evidence,
                    candidate,
                    frame.captured_at,
                    self.smoke_thresholds.growth_window_s,
                )

        if not found:
            return Detections.empty(CLASS_NAMES)
        height, width = frame.image.shape[:2]
        xyxy = np.asarray([box for box, _, _ in found], dtype=np.float32) * (width / small.shape[1])
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
        return Detections(
            xyxy=xyxy,
            scores=np.asarray([score for _, score, _ in found], dtype=np.float32),
            class_ids=np.asarray([cls for _, _, cls in found], dtype=np.int64),
            class_names=CLASS_NAMES,
        )

    def detect(self, frames: Sequence[Frame]) -> list[DetectionResult]:
        results = []
        for frame in frames:
            start = time.perf_counter()
            detections = self.detect_one(frame)
            elapsed_ms = (time.perf_counter() - start) * 1000
            results.append(DetectionResult(frame, detections, self.name, elapsed_ms))
        return results

    def forget(self, camera_id: str) -> None:
        self._cameras.pop(camera_id, None)

    def close(self) -> None:
        self._cameras.clear()
