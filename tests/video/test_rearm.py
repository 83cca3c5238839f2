"""A latched fire episode never ends while the camera sees fire; an ended silence re-arms the camera's rules
of that kind, so the fire still in view is seen afresh (a new episode, a new event id)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from alarms.grids import Placement
from alarms.incident_writer import Change
from detectors.types import DetectionResult, Detections
from ingest.types import Frame
from video.config import CameraConfig
from video.rearm import rearm_on_silence_end
from video.rule_group import RuleGroup

NAMES = ("fire", "smoke")


def fire_frame(t: float) -> DetectionResult:
    frame = Frame("CAM", int(t), t, int(t * 1e9), np.zeros((100, 100, 3), np.uint8))
    dets = Detections(
        np.array([[0, 0, 40, 40]], np.float32), np.array([0.9], np.float32), np.array([0]), NAMES
    )
    return DetectionResult(frame, dets, "fire", 1.0)


def test_rearm_starts_a_fresh_episode_while_fire_stays_in_view() -> None:
    cam = CameraConfig(
        id="CAM",
        url="/a.mp4",
        grid="G-001",
        rules=[{"kind": "fire", "confirm_k": 2, "confirm_n": 3}, {"kind": "smoke"}],  # type: ignore[list-item]
    )
    group = RuleGroup(cam, Placement("G-001", "C-1", "S-1"), "fire", list(cam.rules))
    seen = [o for t in range(10) for o in group.feed(fire_frame(1000.0 + t))[1]]
    assert [o.level.value for o in seen] == ["suspected", "confirmed"]  # then latched: nothing more
    assert group.rearm("fire") == 1
    again = [o for t in range(10, 13) for o in group.feed(fire_frame(1000.0 + t))[1]]
    assert [o.level.value for o in again] == ["suspected", "confirmed"]
    assert again[0].event_id != seen[0].event_id


class _Pipe:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def rearm(self, camera_id: str, kind: str) -> int:
        self.calls.append((camera_id, kind))
        return 1


def test_listener_rearms_only_on_a_camera_silence_ending() -> None:
    pipe = _Pipe()
    listener = rearm_on_silence_end(pipe)
    button = SimpleNamespace(source_kind="button", source_id="B-1", category="sos")
    cam = SimpleNamespace(source_kind="camera", source_id="CAM", category="fire")
    changes = [Change(button, "silence_expired"), Change(cam, "cancel"), Change(cam, "silence_lifted")]
    listener(changes)  # type: ignore[arg-type]
    assert pipe.calls == [("CAM", "fire")]
