"""Class names: the COCO list most YOLO exports use, and mapping a model's names onto ours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from detectors.model_fit import WeightsError
from detectors.types import Detections

COCO_CLASSES: tuple[str, ...] = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)


class ClassMapper:
    """Maps a model's class ids onto our class names, dropping classes the mapping leaves out.

    Built once per model: a lookup array turns model ids into our ids in one vectorised step, so
    unwanted classes (most of COCO, for a fire/person service) are dropped before NMS, not after.
    """

    def __init__(self, model_names: Sequence[str], mapping: Mapping[str, str] | None = None) -> None:
        self.model_names = tuple(model_names)
        if mapping is None:
            mapping = {name: name for name in self.model_names}
        unknown = sorted(set(mapping) - set(self.model_names))
        if unknown:
            raise WeightsError("weights_unknown_class", unknown=unknown, names=list(self.model_names))
        ours: list[str] = []
        for target in mapping.values():
            if target not in ours:
                ours.append(target)
        self.class_names: tuple[str, ...] = tuple(ours)
        self.lookup = np.full(len(self.model_names), -1, dtype=np.int64)
        for source, target in mapping.items():
            self.lookup[self.model_names.index(source)] = ours.index(target)
        self.kept_model_ids = np.flatnonzero(self.lookup >= 0)

    def to_ours(self, model_class_ids: np.ndarray) -> np.ndarray:
        """Our class id for each model class id; -1 where the class is not wanted."""
        ids = np.asarray(model_class_ids, dtype=np.int64)
        valid = (ids >= 0) & (ids < len(self.lookup))
        return np.where(valid, self.lookup[ids.clip(0, len(self.lookup) - 1)], -1)

    def detections(self, xyxy: np.ndarray, scores: np.ndarray, model_class_ids: np.ndarray) -> Detections:
        """Detections in our class space, without the rows whose class is not mapped."""
        ours = self.to_ours(model_class_ids)
        keep = ours >= 0
        return Detections(
            xyxy=np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)[keep],
            scores=np.asarray(scores, dtype=np.float32).reshape(-1)[keep],
            class_ids=ours[keep],
            class_names=self.class_names,
        )
