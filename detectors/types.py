"""Detections: a validated bundle of numpy arrays, and the result of running a model on a frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.types import Frame


@dataclass(frozen=True, slots=True)
class Detections:
    """Boxes (N×4 xyxy pixels), scores (N) and class ids (N). Shapes are checked once, here."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must be N×4, got {self.xyxy.shape}")
        if self.scores.shape != (n,):
            raise ValueError(f"scores must be ({n},), got {self.scores.shape}")
        if self.class_ids.shape != (n,):
            raise ValueError(f"class_ids must be ({n},), got {self.class_ids.shape}")

    @classmethod
    def empty(cls, class_names: tuple[str, ...] = ()) -> Detections:
        return cls(
            xyxy=np.empty((0, 4), dtype=np.float32),
            scores=np.empty((0,), dtype=np.float32),
            class_ids=np.empty((0,), dtype=np.int64),
            class_names=class_names,
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: np.ndarray | slice | int) -> Detections:
        """Mask or index selection, always returning Detections (an int keeps a 1-row result)."""
        if isinstance(index, int):
            index = slice(index, index + 1) if index != -1 else slice(-1, None)
        return Detections(
            xyxy=self.xyxy[index],
            scores=self.scores[index],
            class_ids=self.class_ids[index],
            class_names=self.class_names,
        )

    @property
    def areas(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]).clip(0) * (self.xyxy[:, 3] - self.xyxy[:, 1]).clip(0)

    def name_of(self, class_id: int) -> str:
        return self.class_names[class_id] if 0 <= class_id < len(self.class_names) else str(class_id)

    def of_class(self, name: str) -> Detections:
        """Keep only detections whose class name is `name`."""
        if name not in self.class_names:
            return self[np.zeros(len(self), dtype=bool)]
        return self[self.class_ids == self.class_names.index(name)]


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """What a detector saw in one frame. `extra` carries backend outputs such as a density count."""

    frame: Frame
    detections: Detections
    model: str
    inference_ms: float
    extra: dict[str, Any] = field(default_factory=dict)
