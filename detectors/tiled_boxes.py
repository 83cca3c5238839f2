"""Person boxes on tiles: slice the frame, run the box model on every tile, merge across tiles.

Why: a box model letterboxes the whole frame to its input (416 px wide for the built-in YOLOX-Nano), so
a person 20 px tall in a 1330 px still is 6 px at the model and is missed. On a tile the same person is
2–3× larger. Tiles overlap so nobody is only ever seen cut in half; the whole frame is also run (by
default) so people larger than a tile are still found whole. The merge is greedy NMS over all boxes
with two criteria: IoU (the same person seen in two tiles) or intersection over the smaller box (a
person cut by a tile edge inside the same person seen whole) — plain IoU would keep both.

The cost is one model run per tile plus one for the frame (batched into one call when the model allows):
`benchmarks/crowd_counting_cost.py` measures it against the untiled model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from detectors.base import build_detector, register
from detectors.config import TiledBoxesConfig
from detectors.types import DetectionResult, Detections
from ingest.types import Frame

Tile = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels


def tile_grid(
    width: int, height: int, grid: tuple[int, int], overlap: float, region: tuple[float, float] = (0, 1)
) -> list[Tile]:
    """Tiles covering the band `region` (fractions of the height) with `grid` = (rows, cols).

    Neighbouring tiles share `overlap` of a tile's side; tiles at the band's edges end exactly on them.
    """
    rows, cols = grid
    top, bottom = round(region[0] * height), round(region[1] * height)
    band = bottom - top

    def spans(length: int, count: int, offset: int) -> list[tuple[int, int]]:
        side = length / (count - (count - 1) * overlap) if count > 1 else float(length)
        step = side * (1 - overlap)
        out = []
        for i in range(count):
            start = offset + round(i * step)
            end = offset + length if i == count - 1 else min(offset + length, round(start + side))
            out.append((start, end))
        return out

    return [(x0, y0, x1, y1) for y0, y1 in spans(band, rows, top) for x0, x1 in spans(width, cols, 0)]


def merge_boxes(
    dets: Detections, sources: np.ndarray, iou_limit: float, ios_limit: float
) -> tuple[Detections, np.ndarray]:
    """Greedy class-aware NMS over boxes from several runs (`sources`: which tile each came from): a box
    is dropped when a better-scored box of its class overlaps it by IoU > `iou_limit`, or, if it came
    from another run, covers more than `ios_limit` of the smaller of the two. Within one run the model's
    own NMS has spoken: a person half hidden behind another is a box inside a box, and stays."""
    if len(dets) == 0:
        return dets, sources
    order = np.argsort(-dets.scores, kind="stable")
    x1, y1, x2, y2 = dets.xyxy.T
    areas = dets.areas
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        w = (np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest])).clip(0)
        h = (np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest])).clip(0)
        inter = w * h
        iou = inter / (areas[best] + areas[rest] - inter + 1e-9)
        ios = inter / (np.minimum(areas[best], areas[rest]) + 1e-9)
        elsewhere = sources[rest] != sources[best]
        same = (dets.class_ids[rest] == dets.class_ids[best]) & (
            (iou > iou_limit) | (elsewhere & (ios > ios_limit))
        )
        order = rest[~same]
    kept = np.asarray(keep, dtype=np.int64)
    return dets[kept], sources[kept]


def _shifted(dets: Detections, tile: Tile) -> Detections:
    offset = np.array([tile[0], tile[1], tile[0], tile[1]], dtype=np.float32)
    return replace(dets, xyxy=dets.xyxy.astype(np.float32) + offset)


def cut_mask(dets: Detections, tile: Tile, width: int, height: int, margin: float = 0.02) -> np.ndarray:
    """Boxes (in frame pixels) that come within `margin` (of the tile's side) of an edge of `tile` lying
    inside the frame: most likely a person cut by the tile (box edges wander a few pixels, hence a margin,
    not contact)."""
    x0, y0, x1, y1 = tile
    margin_x, margin_y = margin * (x1 - x0), margin * (y1 - y0)
    bx0, by0, bx2, by2 = dets.xyxy.T
    cut = np.zeros(len(dets), dtype=bool)
    if x0 > 0:
        cut |= bx0 <= x0 + margin_x
    if y0 > 0:
        cut |= by0 <= y0 + margin_y
    if x1 < width:
        cut |= bx2 >= x1 - margin_x
    if y1 < height:
        cut |= by2 >= y1 - margin_y
    return cut


def covered(box: np.ndarray, kept: np.ndarray) -> float:
    """Share of `box` inside the kept boxes (summed overlaps, capped at 1: an upper bound of the union)."""
    if len(kept) == 0:
        return 0.0
    w = (np.minimum(box[2], kept[:, 2]) - np.maximum(box[0], kept[:, 0])).clip(0)
    h = (np.minimum(box[3], kept[:, 3]) - np.maximum(box[1], kept[:, 1])).clip(0)
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-9)
    return min(1.0, float((w * h).sum()) / area)


def add_cut(
    whole: tuple[Detections, np.ndarray], cut: tuple[Detections, np.ndarray], max_covered: float
) -> Detections:
    """Cut boxes, best first, join the merged whole boxes only where kept boxes of their class from other
    runs already cover at most `max_covered` of them: a person cut at a seam that nothing else saw
    counts once."""
    (kept, kept_src), (cuts, cut_src) = whole, cut
    boxes, classes, sources = list(kept.xyxy), list(kept.class_ids), list(kept_src)
    chosen: list[int] = []
    for i in np.argsort(-cuts.scores, kind="stable"):
        others = [
            b
            for b, c, s in zip(boxes, classes, sources, strict=True)
            if c == cuts.class_ids[i] and s != cut_src[i]
        ]
        if covered(cuts.xyxy[i], np.asarray(others, dtype=np.float32).reshape(-1, 4)) <= max_covered:
            chosen.append(int(i))
            boxes.append(cuts.xyxy[i])
            classes.append(cuts.class_ids[i])
            sources.append(cut_src[i])
    return _concat([kept, cuts[np.asarray(chosen, dtype=np.int64)]], kept.class_names)


def _concat(parts: Sequence[Detections], class_names: tuple[str, ...]) -> Detections:
    if not parts:
        return Detections.empty(class_names)
    return Detections(
        xyxy=np.concatenate([p.xyxy for p in parts]).astype(np.float32),
        scores=np.concatenate([p.scores for p in parts]).astype(np.float32),
        class_ids=np.concatenate([p.class_ids for p in parts]).astype(np.int64),
        class_names=class_names,
    )


@register("tiled")
class TiledBoxesDetector:
    """Wraps any box backend; results look like the wrapped model's, with boxes from every tile."""

    def __init__(self, config: TiledBoxesConfig) -> None:
        self.config = config
        self.name = config.label
        self._boxes = build_detector(config.boxes)
        self.class_names = self._boxes.class_names

    def tiles(self, width: int, height: int) -> list[Tile]:
        """The crops run for a frame of this size (the whole frame first when `full_frame`)."""
        cfg = self.config
        crops = tile_grid(width, height, cfg.grid, cfg.overlap, cfg.region)
        return [(0, 0, width, height), *crops] if cfg.full_frame else crops

    def detect(self, frames: Sequence[Frame]) -> list[DetectionResult]:
        """All tiles of all frames go to the box model as one batch (it splits it if it must)."""
        start = time.perf_counter()
        crops: list[Frame] = []
        owners: list[tuple[int, Tile]] = []
        for index, frame in enumerate(frames):
            height, width = frame.image.shape[:2]
            for tile in self.tiles(width, height):
                x0, y0, x1, y1 = tile
                crops.append(replace(frame, image=np.ascontiguousarray(frame.image[y0:y1, x0:x1])))
                owners.append((index, tile))
        whole: list[list[tuple[Detections, int]]] = [[] for _ in frames]
        cut: list[list[tuple[Detections, int]]] = [[] for _ in frames]
        for run, ((index, tile), result) in enumerate(zip(owners, self._boxes.detect(crops), strict=True)):
            height, width = frames[index].image.shape[:2]
            boxes = _shifted(result.detections, tile)
            mask = cut_mask(boxes, tile, width, height)
            whole[index].append((boxes[~mask], run))
            cut[index].append((boxes[mask], run))
        elapsed_ms = (time.perf_counter() - start) * 1000
        cfg = self.config
        results = []
        for i, frame in enumerate(frames):
            merged = merge_boxes(*self._pooled(whole[i]), cfg.merge_iou, cfg.merge_ios)
            seams = merge_boxes(*self._pooled(cut[i]), cfg.merge_iou, cfg.merge_ios)
            final = add_cut(merged, seams, cfg.cut_covered)
            results.append(DetectionResult(frame, final, self.name, elapsed_ms))
        return results

    def _pooled(self, parts: Sequence[tuple[Detections, int]]) -> tuple[Detections, np.ndarray]:
        """Boxes of several runs as one set, with the run each came from."""
        dets = _concat([d for d, _ in parts], self.class_names)
        sources = np.concatenate(
            [np.full(len(d), run, dtype=np.int64) for d, run in parts] or [np.empty(0, dtype=np.int64)]
        )
        return dets, sources.astype(np.int64)

    def close(self) -> None:
        self._boxes.close()
