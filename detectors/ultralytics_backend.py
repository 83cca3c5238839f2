"""Ultralytics backend: any model `ultralytics.YOLO` loads (.pt, .onnx, an OpenVINO directory).

ultralytics (and torch behind it) is imported only when a detector is built; `from_ultralytics` reads a
result by duck typing, so converting results never imports it either.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from detectors.base import register
from detectors.classes import ClassMapper
from detectors.config import UltralyticsConfig
from detectors.model_fit import MissingWeights, WeightsError
from detectors.types import DetectionResult, Detections
from ingest.types import Frame

if TYPE_CHECKING:  # imported at run time only when a detector is built (see above)
    from ultralytics import YOLO


def _numpy(value: Any) -> np.ndarray:
    """A torch tensor (on any device) or array-like as a numpy array."""
    for step in ("detach", "cpu", "numpy"):
        if hasattr(value, step):
            value = getattr(value, step)()
    return np.asarray(value)


def _names(result: Any) -> tuple[str, ...]:
    names = getattr(result, "names", None) or {}
    if isinstance(names, Mapping):
        return tuple(str(names[k]) for k in sorted(names))
    return tuple(str(n) for n in names)


def from_ultralytics(result: Any, mapper: ClassMapper | None = None) -> Detections:
    """Detections from one ultralytics `Results` (reads `.boxes.xyxy/.conf/.cls` and `.names`).

    Without a mapper the model's own class names are kept; with one, classes are renamed and unmapped
    ones dropped.
    """
    boxes = getattr(result, "boxes", None)
    names = mapper.model_names if mapper is not None else _names(result)
    if boxes is None or len(boxes) == 0:
        return Detections.empty(mapper.class_names if mapper is not None else names)
    xyxy = _numpy(boxes.xyxy).astype(np.float32).reshape(-1, 4)
    scores = _numpy(boxes.conf).astype(np.float32).reshape(-1)
    class_ids = _numpy(boxes.cls).astype(np.int64).reshape(-1)
    if mapper is not None:
        return mapper.detections(xyxy, scores, class_ids)
    return Detections(xyxy=xyxy, scores=scores, class_ids=class_ids, class_names=names)


@register("ultralytics")
class UltralyticsDetector:
    """Wraps `ultralytics.YOLO(path, task="detect")`; batches when the model accepts a batch."""

    def __init__(self, config: UltralyticsConfig) -> None:
        if not config.model.exists():
            raise MissingWeights(config.model)
        for module in config.preload_modules:
            importlib.import_module(module)
        from ultralytics import YOLO

        self.config = config
        self.name = config.label
        try:
            model = YOLO(str(config.model), task="detect")
        except (
            Exception
        ) as exc:  # a corrupt or foreign file: torch, onnx and ultralytics each raise their own
            raise WeightsError(
                "weights_unreadable", path=config.model, format="ultralytics", reason=exc
            ) from exc
        self._model: YOLO | None = model  # None once closed
        model_names = _names(self._model)
        self.mapper = ClassMapper(model_names, config.classes)
        self.class_names = self.mapper.class_names
        # Exported graphs (.onnx, OpenVINO, …) usually have a fixed batch of 1; .pt models batch freely.
        self.batched = config.model.suffix == ".pt"

    def _predict(self, images: list[np.ndarray]) -> list[Any]:
        if self._model is None:
            raise RuntimeError(f"{self.name} is closed")
        return list(
            self._model.predict(
                images,
                imgsz=self.config.imgsz,
                conf=self.config.conf,
                iou=self.config.iou,
                max_det=self.config.max_det,
                device=self.config.device,
                verbose=False,
            )
        )

    def detect(self, frames: Sequence[Frame]) -> list[DetectionResult]:
        groups = [list(frames)] if self.batched else [[frame] for frame in frames]
        results: list[DetectionResult] = []
        for group in groups:
            if not group:
                continue
            start = time.perf_counter()
            predictions = self._predict([frame.image for frame in group])
            elapsed_ms = (time.perf_counter() - start) * 1000
            results.extend(
                DetectionResult(frame, from_ultralytics(prediction, self.mapper), self.name, elapsed_ms)
                for frame, prediction in zip(group, predictions, strict=True)
            )
        return results

    def close(self) -> None:
        self._model = None
