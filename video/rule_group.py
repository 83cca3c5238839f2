"""A camera's rules served by one detector: zones, ignore masks and crowd-fusion modes, then the rules."""

from __future__ import annotations

import threading
from dataclasses import replace

from alarms.grids import Placement
from alarms.observations import Observation
from alarms.rules import CameraRules
from alarms.rules.config import RuleConfig
from detectors.crowd_fusion import CrowdModes
from detectors.types import DetectionResult
from detectors.zones import IgnoreMask, PolygonZone
from video.config import CameraConfig


class RuleGroup:
    """One camera's rules served by one detector. Zones need the frame size, so the rules are built on
    the first result (and rebuilt if the camera's resolution changes). Fed by the detector's batcher
    thread and by the tick; the lock keeps the two apart."""

    def __init__(self, camera: CameraConfig, placement: Placement, detector: str, rules: list[RuleConfig]):
        self.camera = camera
        self.placement = placement
        self.detector = detector
        self.configs = rules
        self.lock = threading.Lock()
        self.frame_wh: tuple[int, int] | None = None
        self.zones: dict[str, PolygonZone] = {}
        self.ignore: IgnoreMask | None = None
        self.rules: CameraRules | None = None
        self.crowd_modes = CrowdModes()

    def _build(self, frame_wh: tuple[int, int]) -> None:
        cam = self.camera
        self.zones = {
            z.name: PolygonZone(z.polygon, frame_wh, area_m2=z.area_m2, name=z.name) for z in cam.zones
        }
        self.ignore = IgnoreMask(cam.ignore.polygons, frame_wh) if cam.ignore.polygons else None
        self.rules = CameraRules(cam.id, cam.grid, self.configs, self.zones)
        self.crowd_modes = CrowdModes()
        self.frame_wh = frame_wh

    def feed(self, result: DetectionResult) -> tuple[DetectionResult, list[Observation]]:
        """Ignore masks, density zone counts and crowd-fusion modes applied, then the rules; returns what
        they saw."""
        height, width = result.frame.image.shape[:2]
        with self.lock:
            if self.frame_wh != (width, height):
                self._build((width, height))
            assert self.rules is not None
            if self.ignore is not None and len(result.detections):
                result = replace(result, detections=self.ignore.apply(result.detections))
            density = result.extras.density
            if density is not None and self.zones:
                counts = {name: z.count_in_density(density) for name, z in self.zones.items()}
                result = replace(result, extras=replace(result.extras, zone_counts=counts))
            fused = self.crowd_modes.update(result, self.zones)
            if fused is not None:  # crowd fusion: boxes or density per zone, with hysteresis
                modes, per_mpx = fused
                extras = replace(result.extras, crowd_modes=modes, crowd_per_mpx=per_mpx)
                result = replace(result, extras=extras)
            return result, self.rules.feed(result, result.frame.captured_at)

    def tick(self, now: float) -> list[Observation]:
        """Time passes without a frame: lets a smoke episode end while the camera is down or still."""
        with self.lock:
            return [] if self.rules is None else self.rules.feed(None, now)

    def rearm(self, kind: str) -> int:
        """Forget the episodes of this kind (a silence ended): what is still in view is seen afresh."""
        with self.lock:
            if self.rules is None:
                return 0
            runners = [
                r
                for r in self.rules.runners
                if getattr(getattr(r.rule, "config", None), "kind", None) == kind
            ]
            for r in runners:
                r.state = r.rule.initial()
            return len(runners)


def _kind(rule: object) -> str | None:
    return getattr(getattr(rule, "config", None), "kind", None)
