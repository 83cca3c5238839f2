"""Zone geometry: which detections fall in which polygon of a camera's frame, and what to ignore.

A zone is built once per camera (the polygon is rasterised into a mask for the frame size in `__init__`),
then `trigger` is a vectorised lookup per frame. People are placed by the bottom-centre of their box
(where they stand), which is what a floor area in m² refers to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np

from detectors.types import Detections

Anchor = Literal["bottom_center", "center"]
PolygonLike = np.ndarray | Sequence[tuple[float, float]] | Sequence[Sequence[float]]


def anchor_points(xyxy: np.ndarray, anchor: Anchor) -> np.ndarray:
    """N×2 points: box bottom-centre (feet) or centre."""
    x = (xyxy[:, 0] + xyxy[:, 2]) / 2
    y = xyxy[:, 3] if anchor == "bottom_center" else (xyxy[:, 1] + xyxy[:, 3]) / 2
    return np.stack([x, y], axis=1)


def _polygon_mask(polygons: Sequence[np.ndarray], frame_wh: tuple[int, int]) -> np.ndarray:
    width, height = frame_wh
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in polygons], 1)
    return mask.astype(bool)


def _as_polygon(points: PolygonLike) -> np.ndarray:
    polygon = np.asarray(points, dtype=np.float32)
    if polygon.ndim != 2 or polygon.shape[1] != 2 or len(polygon) < 3:
        raise ValueError(f"a polygon needs at least 3 (x, y) points, got shape {polygon.shape}")
    return polygon


def _lookup(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """mask value at each point; points outside the frame are outside every zone."""
    height, width = mask.shape
    if not len(points):
        return np.zeros(0, dtype=bool)
    x, y = points[:, 0], points[:, 1]
    inside = (x >= 0) & (x <= width) & (y >= 0) & (y <= height)
    col = np.clip(np.floor(x).astype(np.int64), 0, width - 1)
    row = np.clip(np.floor(y).astype(np.int64), 0, height - 1)
    return inside & mask[row, col]


class PolygonZone:
    """A polygon in frame pixels with an optional real-world floor area, for counting and density."""

    def __init__(
        self,
        polygon_px: PolygonLike,
        frame_wh: tuple[int, int],
        *,
        area_m2: float | None = None,
        name: str = "",
        anchor: Anchor = "bottom_center",
    ) -> None:
        if area_m2 is not None and area_m2 <= 0:
            raise ValueError(f"zone {name!r}: area_m2 must be positive, got {area_m2}")
        self.name = name
        self.polygon = _as_polygon(polygon_px)
        self.frame_wh = frame_wh
        self.area_m2 = area_m2
        self.anchor: Anchor = anchor
        self.mask = _polygon_mask([self.polygon], frame_wh)
        self.pixels = int(self.mask.sum())
        if not self.pixels:
            raise ValueError(f"zone {name!r} covers no pixel of a {frame_wh[0]}×{frame_wh[1]} frame")

    def trigger(self, detections: Detections) -> np.ndarray:
        """Boolean mask over `detections`: True where the anchor point lies in the zone."""
        return _lookup(self.mask, anchor_points(detections.xyxy, self.anchor))

    def count(self, detections: Detections) -> int:
        return int(self.trigger(detections).sum())

    def count_in_density(self, density: np.ndarray) -> float:
        """Sum of a density map (any resolution, same framing as the frame) over the zone."""
        height, width = density.shape
        coverage = cv2.resize(self.mask.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
        return float((density * coverage).sum())

    def density_per_m2(self, count: float) -> float | None:
        """People per m², or None when the zone has no known area."""
        return None if self.area_m2 is None else count / self.area_m2


class IgnoreMask:
    """Polygons whose detections are dropped (a flickering neon sign, a road with brake lights)."""

    def __init__(
        self, polygons_px: Sequence[PolygonLike], frame_wh: tuple[int, int], *, anchor: Anchor = "center"
    ) -> None:
        self.polygons = [_as_polygon(p) for p in polygons_px]
        self.anchor: Anchor = anchor
        self.mask = (
            _polygon_mask(self.polygons, frame_wh)
            if self.polygons
            else np.zeros((frame_wh[1], frame_wh[0]), dtype=bool)
        )

    def keep(self, detections: Detections) -> np.ndarray:
        """Boolean mask over `detections`: False where the anchor lies in an ignored area."""
        return ~_lookup(self.mask, anchor_points(detections.xyxy, self.anchor))

    def apply(self, detections: Detections) -> Detections:
        return detections[self.keep(detections)] if self.polygons else detections
