"""Small parts of the video wiring: per-camera state, a camera's rules for one detector, and metrics.

Kept apart from :mod:`sharpeyes.video` so that module reads as the flow (frames in, incidents out).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram

from alarms.grids import Placement
from alarms.observations import Observation
from alarms.rules import CameraRules
from alarms.rules.config import RuleConfig
from detectors.crowd_fusion import CrowdModes
from detectors.motion import MotionGate
from detectors.types import DetectionResult, Detections
from detectors.zones import IgnoreMask, PolygonZone
from ingest.types import Frame
from sharpeyes.video_config import CameraConfig

# A main-stream frame further than this from the analysed detect-stream frame would show another moment.
MAIN_FRAME_MAX_SKEW_S = 0.5

_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class VideoMetrics:
    """Series of the video path beyond ingest and the batchers (which register their own)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.gate = Counter(
            "sharpeyes_video_gate_frames",
            "Frames offered to the motion gate, by decision reason (first, motion, forced, still, disabled)",
            ["camera", "reason"],
            registry=registry,
        )
        self.observations = Counter(
            "sharpeyes_video_observations",
            "Rule observations from camera video",
            ["camera", "kind", "level"],
            registry=registry,
        )
        self.capture_to_observation = Histogram(
            "sharpeyes_capture_to_observation_seconds",
            "Frame capture (decode wall time) to the rule observation it caused",
            ["kind"],
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.observation_to_incident = Histogram(
            "sharpeyes_observation_to_incident_seconds",
            "Rule observation to its incident change committed (snapshot included)",
            ["kind"],
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.errors = Counter(
            "sharpeyes_video_errors",
            "Failures in the video path outside the readers and batchers",
            ["stage"],
            registry=registry,
        )


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
                result = _with(result, detections=self.ignore.apply(result.detections))
            density = result.extra.get("density")
            if isinstance(density, np.ndarray) and self.zones:
                counts = {name: z.count_in_density(density) for name, z in self.zones.items()}
                result = _with(result, extra={**result.extra, "zone_counts": counts})
            fused = self.crowd_modes.update(result, self.zones)
            if fused is not None:  # crowd fusion: boxes or density per zone, with hysteresis
                modes, per_mpx = fused
                result = _with(result, extra={**result.extra, "crowd_modes": modes, "crowd_per_mpx": per_mpx})
            return result, self.rules.feed(result, result.frame.captured_at)

    def tick(self, now: float) -> list[Observation]:
        """Time passes without a frame: lets a smoke episode end while the camera is down or still."""
        with self.lock:
            return [] if self.rules is None else self.rules.feed(None, now)


def _with(result: DetectionResult, **changes: Any) -> DetectionResult:
    return DetectionResult(
        changes.get("frame", result.frame),
        changes.get("detections", result.detections),
        result.model,
        result.inference_ms,
        changes.get("extra", result.extra),
    )


@dataclass(slots=True)
class CameraState:
    """Per camera: rate limit and motion gate (on its reader thread), its rule groups, its video status."""

    config: CameraConfig
    placement: Placement
    gate: MotionGate
    period_ns: int
    groups: dict[str, RuleGroup] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_ns: int = 0
    analysed: int = 0
    video_lost: bool = False
    seen_online: bool = False

    def due(self, mono_ns: int) -> bool:
        """At most ``detect_fps`` frames a second reach the gate; a late frame restarts the schedule."""
        if mono_ns < self.next_ns:
            return False
        late = mono_ns - self.next_ns >= self.period_ns
        self.next_ns = mono_ns + self.period_ns if late else self.next_ns + self.period_ns
        return True


@dataclass(frozen=True, slots=True)
class EvidencePicture:
    """What a snapshot is drawn on: the image, the boxes in its pixels, and the factor from the analysed
    frame's pixels (zones and masks are configured in those) to this image's."""

    image: np.ndarray
    detections: Detections
    scale: tuple[float, float]
    captured_at: float

    def points(self, polygon: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
        sx, sy = self.scale
        return [(x * sx, y * sy) for x, y in polygon]


def evidence_picture(result: DetectionResult, main: Frame | None) -> EvidencePicture:
    """Operators judge a fire on the full-resolution picture: with a ``detect_url`` the boxes found on the
    low-resolution sub-stream are scaled onto the main stream's latest frame, when one of about the same
    moment is at hand; otherwise the analysed frame itself is used."""
    frame = result.frame
    if main is None or abs(main.captured_at - frame.captured_at) > MAIN_FRAME_MAX_SKEW_S:
        return EvidencePicture(frame.image, result.detections, (1.0, 1.0), frame.captured_at)
    dh, dw = frame.image.shape[:2]
    mh, mw = main.image.shape[:2]
    sx, sy = mw / dw, mh / dh
    det = result.detections
    xyxy = (det.xyxy * np.array([sx, sy, sx, sy], dtype=np.float32)).astype(det.xyxy.dtype, copy=False)
    scaled = Detections(xyxy, det.scores, det.class_ids, det.class_names)
    return EvidencePicture(main.image, scaled, (sx, sy), main.captured_at)
