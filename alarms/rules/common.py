"""Shared pieces of the temporal rules: deterministic event ids and the zone hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import numpy as np

from alarms.observations import Observation, ObservationLevel
from detectors.types import DetectionResult, Detections

S = TypeVar("S")
I = TypeVar("I")  # noqa: E741 - the rule's input type

ZoneMask = Callable[[Detections], np.ndarray]
"""Returns a boolean mask (len(detections)) of detections inside a zone, as a detectors zone's `trigger`."""


class ZoneLike(Protocol):
    """What the rules need from a detectors zone. An optional `area_m2` attribute is read with getattr."""

    def trigger(self, detections: Detections) -> np.ndarray: ...


class Rule(Protocol[S, I]):
    """A pure temporal rule: `measure` extracts its input from a result, `step` advances its state."""

    @property
    def rule_id(self) -> str: ...

    def initial(self) -> S: ...

    def measure(self, result: DetectionResult) -> I | None: ...

    def step(self, state: S, inp: I | None, now: float) -> tuple[S, list[Observation]]: ...


def event_id(source: str, rule: str, kind: str, level: ObservationLevel | str, episode_start: float) -> str:
    """Same camera, rule, level and episode start → same id: a replay or restarted worker is deduplicated."""
    return f"cam:{source}:{rule}:{kind}:{ObservationLevel(level).value}:{round(episode_start * 1000)}"


def apply_zone(detections: Detections, zone_mask: ZoneMask | None) -> Detections:
    """Keep only detections the zone accepts; no zone keeps all."""
    if zone_mask is None or len(detections) == 0:
        return detections
    mask = np.asarray(zone_mask(detections), dtype=bool)
    if mask.shape != (len(detections),):
        raise ValueError(f"zone mask must have shape ({len(detections)},), got {mask.shape}")
    return detections[mask]
