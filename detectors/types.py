"""Detections: a validated bundle of numpy arrays, and the result of running a model on a frame."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from ingest.types import Frame

if TYPE_CHECKING:  # crowd_fusion builds results, so it imports this module at run time
    from detectors.crowd_fusion import FusionSwitch

CrowdMode = Literal["boxes", "density"]


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
class FireFusionInfo:
    """What fire fusion did with one frame's candidates: proposed by the heuristic, confirmed or dropped
    by the model (which runs only where a candidate of a `confirm` class was proposed)."""

    proposed: int
    model_ran: bool
    confirmed: int = 0
    dropped: int = 0
    model: str | None = None  # the confirming model's label, when it ran


@dataclass(frozen=True, slots=True)
class DetectionExtras:
    """Backend outputs beyond boxes; a field is None when the backend (or stage) does not provide it.

    Written by the detectors (`batch_size`: onnx_yolo; `count`, `density`: density; `density_count`,
    `crowd_mode`, `fusion` and `count` in density mode: crowd_fusion; `fire_fusion`: fire_fusion) and by a
    camera's rule group (`zone_counts` from the density map; `crowd_modes`, `crowd_per_mpx` for fusion).
    """

    batch_size: int | None = None
    """Frames in the model call that produced this result."""
    count: float | None = None
    """People in the whole frame by density (a fusion result has it only when its frame mode is density)."""
    density: np.ndarray | None = None
    """Density map (its sum is the count), shrunk to the configured width."""
    density_count: float | None = None
    """A fusion result's density count, whatever its mode."""
    crowd_mode: CrowdMode | None = None
    """A fusion result's stateless whole-frame mode."""
    fusion: FusionSwitch | None = None
    """The switch of the crowd_fusion detector that produced this result."""
    zone_counts: Mapping[str, float] | None = None
    """People per zone name by density."""
    crowd_modes: Mapping[str, CrowdMode] | None = None
    """Hysteretic fusion mode per zone name (and `crowd_fusion.FRAME_KEY` for the whole frame)."""
    crowd_per_mpx: Mapping[str, float] | None = None
    """The switch variable (people per megapixel by density) per zone name and the whole frame."""
    fire_fusion: FireFusionInfo | None = None


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """What a detector saw in one frame. `extras` carries backend outputs such as a density count."""

    frame: Frame
    detections: Detections
    model: str
    inference_ms: float
    extras: DetectionExtras = field(default_factory=DetectionExtras)
