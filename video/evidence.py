"""The picture an operator judges: boxes from the analysed frame drawn on the best frame of that moment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from alarms.locale import DEFAULT_TIMEZONE, local_time
from detectors.annotate import annotate, encode_jpeg
from detectors.types import DetectionResult, Detections
from ingest.types import Frame
from video.config import CameraConfig, VideoConfig

# A main-stream frame further than this from the analysed detect-stream frame would show another moment.
MAIN_FRAME_MAX_SKEW_S = 0.5


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


def snapshot_jpeg(
    result: DetectionResult,
    main: Frame | None,
    cam: CameraConfig,
    caption: str,
    video: VideoConfig,
    timezone: str = DEFAULT_TIMEZONE,
) -> tuple[bytes, float]:
    """The annotated evidence JPEG (boxes, zones, ignore areas, caption with the time in the configured
    zone, whatever the server's own zone) and the capture time of the picture it was drawn on."""
    pic = evidence_picture(result, main)
    image = annotate(
        pic.image,
        pic.detections,
        zones=[(z.name, pic.points(z.polygon)) for z in cam.zones],
        ignore=[pic.points(p) for p in cam.ignore.polygons],
        caption=f"{caption} {local_time(pic.captured_at, timezone)}",
        max_width=video.snapshot_max_width,
    )
    return encode_jpeg(image, video.snapshot_quality), pic.captured_at


def detections_view(camera_id: str, result: DetectionResult) -> dict[str, Any]:
    """The newest detector boxes of a camera in frame pixels, as the live view draws them."""
    det, image = result.detections, result.frame.image
    return {
        "camera_id": camera_id,
        "frame_size": [int(image.shape[1]), int(image.shape[0])],
        "captured_at": result.frame.captured_at,
        "model": result.model,
        "boxes": [
            {
                "xyxy": [round(float(v), 1) for v in det.xyxy[i]],
                "label": det.name_of(int(det.class_ids[i])),
                "score": round(float(det.scores[i]), 3),
            }
            for i in range(len(det))
        ],
    }
