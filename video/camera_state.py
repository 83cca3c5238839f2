"""Per-camera state of the pipeline: rate limit, motion gate, rule groups and video status."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from alarms.grids import Placement
from detectors.motion import MotionGate
from video.config import CameraConfig
from video.rule_group import RuleGroup


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
