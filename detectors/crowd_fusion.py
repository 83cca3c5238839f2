"""Crowd counting by scene density: person boxes where a scene is sparse, the density map where it is dense.

Why: box detectors count a handful of people to ±2 but find 6 of 1,546 in a dense crowd; MCNN density maps
are the only usable count there but report 115 people for a bus stop with 4. The switch is the density
model's own estimate of how packed a region is, in people per megapixel of that region (sparse labelled
scenes stay ≤ ~180, dense ones ≥ ~450), so it applies to a whole frame and to any zone of it alike: a
dense plaza and a sparse pavement in one frame each get the right backend.

Both models run on every frame (the box model is the cheap one). The detector only reports; the choice per
zone, with hysteresis so a zone near the switch point does not flap between backends, is made per camera
by `CrowdModes` (held by the camera's rule group) and read by the crowd rules' `count_people`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from detectors.base import build_detector, register
from detectors.config import CrowdFusionConfig
from detectors.types import CrowdMode, DetectionResult
from detectors.zones import PolygonZone
from ingest.types import Frame

FRAME_KEY = ""
"""Key of the whole frame in `extras.crowd_modes` (zone names are never empty)."""


def per_mpx(count: float, pixels: float) -> float:
    """People per megapixel: the density model's count over a region, scaled by the region's size."""
    return count / (pixels / 1e6) if pixels > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ModeState:
    mode: CrowdMode
    since: float  # when this mode was entered


@dataclass(frozen=True, slots=True)
class FusionSwitch:
    """Two thresholds and a hold time. Sparse → dense at ≥ `dense_per_mpx`; dense → sparse only below
    `sparse_per_mpx`; and a mode, once entered, is kept for `hold_s` whatever the value. A region whose
    estimate wanders around one threshold therefore keeps one backend (its count does not jump between
    the two models' numbers frame to frame)."""

    dense_per_mpx: float
    sparse_per_mpx: float
    hold_s: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.sparse_per_mpx <= self.dense_per_mpx:
            raise ValueError("sparse_per_mpx must be within [0, dense_per_mpx]")
        if self.hold_s < 0:
            raise ValueError("hold_s must be >= 0")

    def first(self, value: float) -> CrowdMode:
        """Mode for a region seen for the first time (or a single still): the upper threshold decides."""
        return "density" if value >= self.dense_per_mpx else "boxes"

    def step(self, state: ModeState | None, value: float, now: float) -> ModeState:
        if state is None:
            return ModeState(self.first(value), now)
        if now - state.since < self.hold_s:
            return state
        if state.mode == "boxes" and value >= self.dense_per_mpx:
            return ModeState("density", now)
        if state.mode == "density" and value < self.sparse_per_mpx:
            return ModeState("boxes", now)
        return state


@register("crowd_fusion")
class CrowdFusionDetector:
    """Every result carries the person boxes *and* the density map, plus the switch (`extras.fusion`),
    the density count (`extras.density_count`) and a stateless whole-frame mode (`extras.crowd_mode`;
    `extras.count` only when that mode is density). Per-zone, hysteretic modes come from `CrowdModes`."""

    def __init__(self, config: CrowdFusionConfig) -> None:
        self.config = config
        self.name = config.label
        self.switch = FusionSwitch(config.dense_per_mpx, config.sparse_level, config.hold_s)
        self._density = build_detector(config.density)
        self._boxes = build_detector(config.boxes)
        self.class_names = self._boxes.class_names

    def detect(self, frames: Sequence[Frame]) -> list[DetectionResult]:
        densities = self._density.detect(frames)
        boxes = self._boxes.detect(frames)
        results = []
        for frame, dens, box in zip(frames, densities, boxes, strict=True):
            count = _density_count(dens)
            height, width = frame.image.shape[:2]
            mode = self.switch.first(per_mpx(count, width * height))
            extras = replace(
                box.extras,
                density=dens.extras.density,
                density_count=count,
                crowd_mode=mode,
                fusion=self.switch,
                count=count if mode == "density" else box.extras.count,
            )
            ms = dens.inference_ms + box.inference_ms
            results.append(replace(box, model=self.name, inference_ms=ms, extras=extras))
        return results

    def close(self) -> None:
        self._density.close()
        self._boxes.close()


def _density_count(result: DetectionResult) -> float:
    if result.extras.count is None:
        raise ValueError(f"{result.model}: a density backend must report extras.count")
    return float(result.extras.count)


class CrowdModes:
    """One camera's backend choice per zone (and for the whole frame), with the switch's hysteresis.

    Stateful and not thread-safe: the camera's rule group owns one and feeds it under its lock."""

    def __init__(self) -> None:
        self.states: dict[str, ModeState] = {}

    def update(
        self, result: DetectionResult, zones: Mapping[str, PolygonZone]
    ) -> tuple[dict[str, CrowdMode], dict[str, float]] | None:
        """(mode, people per megapixel) per zone name and `FRAME_KEY`; None for a non-fusion result."""
        extras = result.extras
        switch, density, density_count = extras.fusion, extras.density, extras.density_count
        if switch is None or density is None or density_count is None:
            return None
        height, width = result.frame.image.shape[:2]
        values = {FRAME_KEY: per_mpx(float(density_count), width * height)}
        known = extras.zone_counts or {}
        for name, zone in zones.items():
            count = known[name] if name in known else zone.count_in_density(density)
            values[name] = per_mpx(float(count), zone.pixels)
        now = result.frame.captured_at
        modes: dict[str, CrowdMode] = {}
        for name, value in values.items():
            state = switch.step(self.states.get(name), value, now)
            self.states[name] = state
            modes[name] = state.mode
        return modes, {name: round(v, 1) for name, v in values.items()}
