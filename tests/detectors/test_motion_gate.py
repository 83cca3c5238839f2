"""Motion gate: scripted frames and an explicit clock, plus a real moving clip."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.config import MotionGateConfig
from detectors.motion import GateReason, MotionGate
from ingest.types import Frame

STILL = np.full((360, 640, 3), 90, np.uint8)


def with_block(x: int, size: int = 80, level: int = 230) -> np.ndarray:
    image = STILL.copy()
    image[100 : 100 + size, x : x + size] = level
    return image


def frame(image: np.ndarray, camera: str = "cam", seq: int = 0) -> Frame:
    return Frame(camera, seq, 0.0, 0, image)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        # (image, now) steps → reasons
        ([(STILL, 0.0), (STILL, 0.5), (STILL, 1.0)], ["first", "still", "still"]),
        ([(STILL, 0.0), (STILL, 1.0), (STILL, 2.0), (STILL, 2.5), (STILL, 4.1)],
         ["first", "still", "forced", "still", "forced"]),
        ([(STILL, 0.0), (with_block(100), 0.2), (with_block(100), 0.4)], ["first", "motion", "still"]),
        ([(with_block(100), 0.0), (with_block(300), 0.2), (with_block(300), 0.4)],
         ["first", "motion", "still"]),
        # a faint change (below the pixel threshold) never counts as motion
        ([(STILL, 0.0), (with_block(100, level=96), 0.2)], ["first", "still"]),
        # a tiny object (under the changed fraction) is not motion either
        ([(STILL, 0.0), (with_block(100, size=6), 0.2)], ["first", "still"]),
    ],
)  # fmt: skip
def test_gate_decisions(script, expected) -> None:
    gate = MotionGate(force_every_s=2.0)
    assert [gate.check(frame(image), now).reason.value for image, now in script] == expected


def test_slow_change_accumulates_against_the_last_passed_frame() -> None:
    """A faint block creeping 2 px per frame is invisible frame to frame but adds up against the reference."""
    gate = MotionGate(force_every_s=None)
    reasons = [gate.check(frame(with_block(100 + 2 * i, level=130)), 0.2 * i).reason.value for i in range(9)]
    assert reasons == ["first", "still", "still", "still", "motion", "still", "still", "still", "motion"]


def test_cameras_are_independent() -> None:
    gate = MotionGate()
    assert gate.check(frame(STILL, "a"), 0.0).reason is GateReason.FIRST
    assert gate.check(frame(with_block(200), "b"), 0.1).reason is GateReason.FIRST
    assert gate.check(frame(STILL, "a"), 0.2).reason is GateReason.STILL
    gate.forget("a")
    assert gate.check(frame(STILL, "a"), 0.3).reason is GateReason.FIRST


def test_disabled_gate_passes_everything() -> None:
    gate = MotionGate.from_config(MotionGateConfig(enabled=False))
    assert all(gate.check(frame(STILL), t).run for t in (0.0, 0.1, 0.2))


def test_real_street_clip_moves_and_a_frozen_frame_does_not(media) -> None:
    gate = MotionGate(force_every_s=None)
    frames = list(media.video("video/crosswalk_pedestrians.mp4", every_s=0.2, max_s=6))
    moving = [gate.check(f, f.captured_at).run for f in frames[1:]]
    assert np.mean(moving) > 0.9
    frozen = MotionGate(force_every_s=None)
    decisions = [frozen.check(frames[0], 0.2 * i).run for i in range(10)]
    assert decisions == [True] + [False] * 9
