"""Decoders from a YOLO graph's raw output to candidate boxes (model-input pixels), scores and class ids.

One per output layout the `onnx` backend runs: YOLOX (raw grid offsets), YOLOv5/v7 (boxes already decoded,
three anchors per cell), the full ultralytics YOLOv8/11 output, and the raw ultralytics head we cut the
graph to. Classes the class map drops are never scored (`kept`), so NMS sees only wanted boxes.
"""

from __future__ import annotations

import numpy as np

STRIDES = (8, 16, 32)


def grid_cells(input_hw: tuple[int, int]) -> int:
    """Cells over the three strides: YOLOX has one row per cell, YOLOv5/v7 three (one per anchor)."""
    return sum((input_hw[0] // s) * (input_hw[1] // s) for s in STRIDES)


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p))) if p < 1.0 else float("inf")


class Candidates:
    """Per-image boxes (xyxy in model-input pixels), scores and model class ids, before NMS."""

    __slots__ = ("class_ids", "scores", "xyxy")

    def __init__(self, xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> None:
        self.xyxy, self.scores, self.class_ids = xyxy, scores, class_ids


class YoloxDecoder:
    """Output [B, N, 5+nc]: raw xy offsets and log wh per grid cell, sigmoid objectness and class scores."""

    def __init__(self, kept: np.ndarray, conf: float) -> None:
        self.kept, self.conf = kept, conf
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _grid(self, input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        if input_hw not in self._grids:
            grids, strides = [], []
            for stride in STRIDES:
                h, w = input_hw[0] // stride, input_hw[1] // stride
                ys, xs = np.mgrid[0:h, 0:w]
                grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
                strides.append(np.full((h * w, 1), stride))
            self._grids[input_hw] = (
                np.concatenate(grids).astype(np.float32),
                np.concatenate(strides).astype(np.float32),
            )
        return self._grids[input_hw]

    def decode(self, outputs: list[np.ndarray], index: int, input_hw: tuple[int, int]) -> Candidates:
        out = outputs[0][index]
        grid, stride = self._grid(input_hw)
        if len(out) != len(grid):
            raise ValueError(f"YOLOX output has {len(out)} cells, expected {len(grid)} for input {input_hw}")
        scores = out[:, 4:5] * out[:, 5 + self.kept]
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(scores)), best]
        cand = np.flatnonzero(best_score >= self.conf)
        xy = (out[cand, :2] + grid[cand]) * stride[cand]
        wh = np.exp(out[cand, 2:4]) * stride[cand]
        return Candidates(
            np.concatenate([xy - wh / 2, xy + wh / 2], axis=1), best_score[cand], self.kept[best[cand]]
        )


class DecodedDecoder:
    """Output [B, N, 5+nc] already decoded (YOLOv5/v7 exports): centre-size boxes in input pixels,
    objectness and class scores after their sigmoid."""

    def __init__(self, kept: np.ndarray, conf: float) -> None:
        self.kept, self.conf = kept, conf

    def decode(self, outputs: list[np.ndarray], index: int, input_hw: tuple[int, int]) -> Candidates:
        out = outputs[0][index]
        scores = out[:, 4:5] * out[:, 5 + self.kept]
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(scores)), best]
        cand = np.flatnonzero(best_score >= self.conf)
        xy, wh = out[cand, :2], out[cand, 2:4]
        return Candidates(
            np.concatenate([xy - wh / 2, xy + wh / 2], axis=1), best_score[cand], self.kept[best[cand]]
        )


class Yolov8Decoder:
    """Full ultralytics output [B, 4+nc, N]: centre-size boxes in input pixels, sigmoid class scores."""

    def __init__(self, kept: np.ndarray, conf: float) -> None:
        self.kept, self.conf = kept, conf

    def decode(self, outputs: list[np.ndarray], index: int, input_hw: tuple[int, int]) -> Candidates:
        out = outputs[0][index]
        scores = out[4 + self.kept]
        best = scores.argmax(axis=0)
        best_score = scores[best, np.arange(scores.shape[1])]
        cand = np.flatnonzero(best_score >= self.conf)
        cx, cy, w, h = out[:4, cand]
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        return Candidates(xyxy, best_score[cand], self.kept[best[cand]])


class Yolov8RawDecoder:
    """Raw ultralytics head: per stride, DFL box logits [B, 4·reg_max, h, w] and class logits [B, nc, h, w].

    Classes are thresholded on logits first, so the DFL softmax only runs for the few candidate cells.
    """

    def __init__(self, kept: np.ndarray, conf: float) -> None:
        self.kept, self.logit_conf = kept, logit(conf)

    def decode(self, outputs: list[np.ndarray], index: int, input_hw: tuple[int, int]) -> Candidates:
        boxes, scores, ids = [], [], []
        for box_map, cls_map in zip(outputs[0::2], outputs[1::2], strict=True):
            _, _, h, w = cls_map.shape
            stride = input_hw[0] / h
            logits = cls_map[index, self.kept].reshape(len(self.kept), -1)
            best = logits.argmax(axis=0)
            best_logit = logits[best, np.arange(logits.shape[1])]
            cand = np.flatnonzero(best_logit >= self.logit_conf)
            if not cand.size:
                continue
            reg_max = box_map.shape[1] // 4
            dist = box_map[index].reshape(4, reg_max, -1)[:, :, cand]
            dist = np.exp(dist - dist.max(axis=1, keepdims=True))
            dist = (dist * np.arange(reg_max, dtype=np.float32)[None, :, None]).sum(axis=1) / dist.sum(axis=1)
            ax, ay = cand % w + 0.5, cand // w + 0.5
            boxes.append(np.stack([ax - dist[0], ay - dist[1], ax + dist[2], ay + dist[3]], axis=1) * stride)
            scores.append(1.0 / (1.0 + np.exp(-best_logit[cand])))
            ids.append(self.kept[best[cand]])
        if not boxes:
            return Candidates(np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty(0, np.int64))
        return Candidates(np.concatenate(boxes), np.concatenate(scores), np.concatenate(ids))


Decoder = YoloxDecoder | DecodedDecoder | Yolov8Decoder | Yolov8RawDecoder
