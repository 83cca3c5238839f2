"""Evidence pictures: a frame with its zones, ignored areas and detection boxes drawn, as JPEG bytes.

An operator deciding whether to send a fire engine looks at this image first, so it shows what the rule
saw: every box with its class and score, the zone it counted in, and where detections were ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from detectors.types import Detections

# BGR colours per class name; anything else is drawn in white.
_COLOURS: dict[str, tuple[int, int, int]] = {
    "fire": (0, 64, 255),
    "smoke": (200, 200, 200),
    "person": (80, 220, 80),
}
_ZONE = (0, 220, 255)
_IGNORE = (128, 128, 128)


def _poly(points: Sequence[Sequence[float]] | np.ndarray, scale: float) -> np.ndarray:
    return np.round(np.asarray(points, dtype=np.float32) * scale).astype(np.int32).reshape(-1, 1, 2)


def annotate(
    image: np.ndarray,
    detections: Detections,
    *,
    zones: Sequence[tuple[str, Sequence[Sequence[float]]]] = (),
    ignore: Sequence[Sequence[Sequence[float]]] = (),
    caption: str = "",
    max_width: int = 1280,
) -> np.ndarray:
    """A copy of ``image`` (BGR or grey), downscaled to ``max_width``, with everything drawn on it."""
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    scale = 1.0
    if canvas.shape[1] > max_width:
        scale = max_width / canvas.shape[1]
        canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    thick = max(1, round(canvas.shape[1] / 400))
    font = 0.4 + canvas.shape[1] / 2000
    for polygon in ignore:
        cv2.polylines(canvas, [_poly(polygon, scale)], True, _IGNORE, thick, cv2.LINE_AA)
    for name, polygon in zones:
        pts = _poly(polygon, scale)
        cv2.polylines(canvas, [pts], True, _ZONE, thick, cv2.LINE_AA)
        x, y = pts[:, 0, :].min(axis=0)
        cv2.putText(canvas, name, (int(x) + 3, int(y) + 14), cv2.FONT_HERSHEY_SIMPLEX, font, _ZONE, 1)
    for box, score, cls in zip(detections.xyxy, detections.scores, detections.class_ids, strict=True):
        name = detections.name_of(int(cls))
        colour = _COLOURS.get(name.lower(), (255, 255, 255))
        x1, y1, x2, y2 = (round(float(v) * scale) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thick)
        cv2.putText(
            canvas,
            f"{name} {score:.2f}",
            (x1, y1 - 4 if y1 > 36 else y1 + 14),
            cv2.FONT_HERSHEY_SIMPLEX,
            font,
            colour,
            1,
        )
    if caption:
        cv2.rectangle(canvas, (0, 0), (canvas.shape[1], 20), (0, 0, 0), -1)
        cv2.putText(canvas, caption, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
