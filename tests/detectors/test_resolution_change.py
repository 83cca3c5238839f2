"""A camera that changes resolution mid-stream (a re-configured encoder, a switched sub-stream): the motion
gate, the classical fire detector (which keeps per-camera history) and the YOLO backend take the new size
without an error, and boxes come back in the new frame's coordinates."""

from __future__ import annotations

import cv2
import numpy as np

from detectors.base import build_detector
from detectors.classical_fire import ClassicalFireDetector
from detectors.config import MotionGateConfig, parse_detector_config
from detectors.motion import MotionGate
from ingest.types import Frame


def _frames(media, sizes: list[tuple[int, int]]) -> list[Frame]:  # type: ignore[no-untyped-def]
    base = next(iter(media.video("video/crosswalk_pedestrians.mp4", every_s=1.0, max_s=0))).image
    return [
        Frame("cam", i, float(i), i * 1_000_000_000, cv2.resize(base, size)) for i, size in enumerate(sizes)
    ]


SIZES = [(1280, 720), (1280, 720), (640, 360), (640, 360), (1920, 1080), (1280, 720)]


def test_motion_gate_takes_a_new_size(media) -> None:  # type: ignore[no-untyped-def]
    gate = MotionGate.from_config(MotionGateConfig())
    decisions = [gate.check(f, f.captured_at) for f in _frames(media, SIZES)]
    assert len(decisions) == len(SIZES)


def test_classical_fire_keeps_going_across_sizes(media) -> None:  # type: ignore[no-untyped-def]
    detector = ClassicalFireDetector()
    for frame in _frames(media, SIZES):
        [result] = detector.detect([frame])
        h, w = frame.image.shape[:2]
        boxes = result.detections.xyxy
        assert np.all(boxes[:, [0, 2]] <= w) and np.all(boxes[:, [1, 3]] <= h)


def test_yolo_batch_of_mixed_sizes_gives_boxes_in_each_frames_coordinates(media) -> None:  # type: ignore[no-untyped-def]
    detector = build_detector(
        parse_detector_config({"kind": "onnx", "model": str(media.path("weights/yolox_nano.onnx"))})
    )
    frames = _frames(media, [(1280, 720), (640, 360), (1920, 1080)])
    results = detector.detect(frames)
    counts = [len(r.detections) for r in results]
    assert counts[0] > 0 and max(counts) - min(counts) <= max(2, counts[0] // 2)  # same scene, any size
    for frame, result in zip(frames, results, strict=True):
        h, w = frame.image.shape[:2]
        boxes = result.detections.xyxy
        assert np.all(boxes[:, [0, 2]] <= w + 1) and np.all(boxes[:, [1, 3]] <= h + 1)
        assert boxes[:, 2].max() > w * 0.3  # scaled to this frame, not to another one's size
