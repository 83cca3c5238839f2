"""Per-camera motion gate: skip inference on still scenes, cheaply.

Each frame is shrunk to a tiny blurred grey thumbnail (64×36 by default, ~0.1 ms) and compared with the
thumbnail of the last frame that went through. Comparing with the last *passed* frame rather than the
previous one means slow changes (a person walking at 5 fps, a plume building up) accumulate until they
count. `force_every_s` lets fire/smoke detection take a periodic look at a still scene anyway: a fire in an
empty room at night barely moves the thumbnail at first. Time comes in as `now`, so tests need no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from detectors.config import MotionGateConfig
from ingest.types import Frame


class GateReason(StrEnum):
    FIRST = "first"  # no reference yet for this camera
    MOTION = "motion"
    FORCED = "forced"  # still, but force_every_s has passed since the last look
    STILL = "still"
    DISABLED = "disabled"  # the gate is off: every frame runs


@dataclass(frozen=True, slots=True)
class GateDecision:
    run: bool
    reason: GateReason
    changed_fraction: float


@dataclass(slots=True)
class _CameraState:
    reference: np.ndarray
    last_run_at: float


class MotionGate:
    """Decides per frame whether a detector should run. One instance serves many cameras; not thread-safe."""

    def __init__(
        self,
        *,
        size: tuple[int, int] = (64, 36),
        pixel_threshold: int = 12,
        min_changed_fraction: float = 0.004,
        force_every_s: float | None = 2.0,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self.size = size
        self.pixel_threshold = pixel_threshold
        self.min_changed_fraction = min_changed_fraction
        self.force_every_s = force_every_s
        self._cameras: dict[str, _CameraState] = {}

    @classmethod
    def from_config(cls, config: MotionGateConfig) -> MotionGate:
        return cls(
            size=config.size,
            pixel_threshold=config.pixel_threshold,
            min_changed_fraction=config.min_changed_fraction,
            force_every_s=config.force_every_s,
            enabled=config.enabled,
        )

    def thumbnail(self, image: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        small = cv2.resize(grey, self.size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (3, 3), 0)

    def check(self, frame: Frame, now: float) -> GateDecision:
        """Whether to run the detector on `frame`; a passing frame becomes the camera's new reference."""
        if not self.enabled:
            return GateDecision(True, GateReason.DISABLED, 1.0)
        thumb = self.thumbnail(frame.image)
        state = self._cameras.get(frame.camera_id)
        if state is None:
            self._cameras[frame.camera_id] = _CameraState(thumb, now)
            return GateDecision(True, GateReason.FIRST, 1.0)
        changed = (
            float(np.count_nonzero(cv2.absdiff(thumb, state.reference) > self.pixel_threshold)) / thumb.size
        )
        if changed >= self.min_changed_fraction:
            reason = GateReason.MOTION
        elif self.force_every_s is not None and now - state.last_run_at >= self.force_every_s:
            reason = GateReason.FORCED
        else:
            return GateDecision(False, GateReason.STILL, changed)
        state.reference, state.last_run_at = thumb, now
        return GateDecision(True, reason, changed)

    def forget(self, camera_id: str) -> None:
        """Drop a camera's reference (it went offline; its next frame passes as FIRST)."""
        self._cameras.pop(camera_id, None)
