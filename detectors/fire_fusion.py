"""Fire and smoke from two kinds of evidence: the classical heuristic proposes, a learned detector confirms.

Why this direction (candidates confirmed by the model, not model boxes confirmed by flicker): the heuristic
is the one with temporal evidence and per-camera history, and it already finds the flames on our clips
within a second; what it cannot do is tell a flame from a thing that looks and flickers like one (a
campfire-coloured screen, a blinking amber lamp, a sunset). A model trained on D-Fire judges appearance,
which is exactly that missing test. Requiring both also means the model runs only on frames where the
heuristic found something: on a quiet street it costs nothing. The price: recall can only go down (a fire
the heuristic misses stays missed; `confirm: [fire]` leaves smoke to the heuristic alone), so measure with
`sharpeyes eval` before and after, on the same suite.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from detectors.base import build_detector, register
from detectors.classical_fire import ClassicalFireDetector
from detectors.config import FireFusionConfig
from detectors.types import DetectionResult, Detections, FireFusionInfo
from ingest.types import Frame


def overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box's area, for every pair (N×4 and M×4 xyxy → N×M)."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = (x1 - x0).clip(0) * (y1 - y0).clip(0)
    area_a = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])).clip(1e-6)
    area_b = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).clip(1e-6)
    return inter / np.minimum(area_a[:, None], area_b[None, :])


@register("fire_fusion")
class FireFusionDetector:
    """The classical detector's boxes, each of a `confirm` class kept only where a model box of the same
    class (score ≥ `model_min_score`) overlaps it. `extras.fire_fusion` says what was proposed, confirmed
    and dropped, and whether the model ran."""

    def __init__(self, config: FireFusionConfig) -> None:
        self.config = config
        self.name = config.label
        self._classical = ClassicalFireDetector(config.classical)
        self._model = build_detector(config.model) if config.model is not None else None
        self.class_names = self._classical.class_names

    def _confirmed(self, candidates: Detections, seen: Detections) -> np.ndarray:
        keep = np.ones(len(candidates), dtype=bool)
        strong = seen[seen.scores >= self.config.model_min_score]
        model_classes = np.asarray([strong.name_of(int(c)).lower() for c in strong.class_ids])
        for i, class_id in enumerate(candidates.class_ids):
            name = candidates.name_of(int(class_id))
            if name not in self.config.confirm:
                continue
            same = strong.xyxy[model_classes == name] if len(strong) else strong.xyxy
            keep[i] = bool(
                len(same)
                and (overlap_of_smaller(candidates.xyxy[i : i + 1], same) >= self.config.min_overlap).any()
            )
        return keep

    def detect(self, frames: Sequence[Frame]) -> list[DetectionResult]:
        proposed = self._classical.detect(frames)
        if self._model is None:
            return proposed
        to_check = [
            i
            for i, r in enumerate(proposed)
            if any(r.detections.name_of(int(c)) in self.config.confirm for c in r.detections.class_ids)
        ]
        start = time.perf_counter()
        checked = dict(zip(to_check, self._model.detect([frames[i] for i in to_check]), strict=True))
        model_ms = (time.perf_counter() - start) * 1000 / max(1, len(to_check))
        results = []
        for i, result in enumerate(proposed):
            candidates = result.detections
            if i not in checked:
                info = FireFusionInfo(proposed=len(candidates), model_ran=False)
                results.append(
                    DetectionResult(
                        result.frame,
                        candidates,
                        self.name,
                        result.inference_ms,
                        replace(result.extras, fire_fusion=info),
                    )
                )
                continue
            keep = self._confirmed(candidates, checked[i].detections)
            info = FireFusionInfo(
                proposed=len(candidates),
                model_ran=True,
                confirmed=int(keep.sum()),
                dropped=int((~keep).sum()),
                model=checked[i].model,
            )
            results.append(
                DetectionResult(
                    result.frame,
                    candidates[keep],
                    self.name,
                    result.inference_ms + model_ms,
                    replace(result.extras, fire_fusion=info),
                )
            )
        return results

    def forget(self, camera_id: str) -> None:
        self._classical.forget(camera_id)

    def close(self) -> None:
        self._classical.close()
        if self._model is not None:
            self._model.close()
