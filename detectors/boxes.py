"""Box geometry shared by the YOLO backends: letterboxing and class-aware non-maximum suppression."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class LetterboxTransform:
    """How a frame was scaled and padded into the model input; `to_source` undoes it for boxes."""

    scale: float
    pad_x: float
    pad_y: float
    source_hw: tuple[int, int]

    def to_source(self, xyxy: np.ndarray) -> np.ndarray:
        out = np.asarray(xyxy, dtype=np.float32).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        height, width = self.source_hw
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
        return out


def letterbox(
    image: np.ndarray,
    size_hw: tuple[int, int],
    *,
    centre: bool,
    pad_value: int = 114,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, LetterboxTransform]:
    """Resize keeping the aspect ratio and pad to `size_hw`: centred (ultralytics) or top-left (YOLOX).

    `out`, if given, is an H×W×3 uint8 buffer to fill (saves an allocation per frame in a batch).
    """
    target_h, target_w = size_hw
    src_h, src_w = image.shape[:2]
    scale = min(target_h / src_h, target_w / src_w)
    new_w, new_h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    if centre:
        left, top = round((target_w - new_w) / 2 - 0.1), round((target_h - new_h) / 2 - 0.1)
    else:
        left = top = 0
    canvas = out if out is not None else np.empty((target_h, target_w, 3), dtype=np.uint8)
    canvas[...] = pad_value
    resized = image if (new_w, new_h) == (src_w, src_h) else cv2.resize(image, (new_w, new_h))
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, LetterboxTransform(scale, float(left), float(top), (src_h, src_w))


def nms(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy class-aware NMS, best score first.

    Class-aware by offsetting each class's boxes into its own region of the plane, so one pass suffices.
    """
    if len(xyxy) == 0:
        return np.empty((0,), dtype=np.int64)
    offset = class_ids.astype(np.float32)[:, None] * (float(xyxy.max()) + 1.0)
    boxes = xyxy.astype(np.float32) + offset
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        width = (np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest])).clip(0)
        height = (np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest])).clip(0)
        inter = width * height
        iou = inter / (areas[best] + areas[rest] - inter + 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
