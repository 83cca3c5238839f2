"""Frame sources for evaluation: a clip file decoded with OpenCV, or a generated synthetic scene.

Both offer ``grab()`` (advance, returning the frame's time in seconds) and ``retrieve()`` (the BGR image),
so frames the camera's rate limit would drop are never converted, as in the live reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from sharpeyes.evaluation.suite import SYNTHETIC, SuiteError
from sharpeyes.evaluation.synthetic import SCENES, SyntheticScene


class FrameSource(Protocol):
    fps: float
    duration_s: float

    def grab(self) -> float | None: ...

    def retrieve(self) -> np.ndarray: ...

    def close(self) -> None: ...


class VideoFile:
    def __init__(self, path: Path, start_s: float = 0.0) -> None:
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise SuiteError(f"cannot open {path}")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 25.0
        frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.duration_s = frames / self.fps
        self._index = round(start_s * self.fps) - 1
        if start_s > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, self._index + 1)

    def grab(self) -> float | None:
        if not self._cap.grab():
            return None
        self._index += 1
        return self._index / self.fps

    def retrieve(self) -> np.ndarray:
        ok, image = self._cap.retrieve()
        if not ok or image is None:
            raise SuiteError("decode failed")
        return image

    def close(self) -> None:
        self._cap.release()


class SyntheticSource:
    def __init__(self, scene: SyntheticScene, start_s: float = 0.0) -> None:
        self._scene = scene
        self.fps = scene.fps
        self.duration_s = scene.frames / scene.fps
        self._index = round(start_s * self.fps) - 1

    def grab(self) -> float | None:
        if self._index + 1 >= self._scene.frames:
            return None
        self._index += 1
        return self._index / self.fps

    def retrieve(self) -> np.ndarray:
        return self._scene.render(self._index)

    def close(self) -> None:
        pass


def open_source(media: Path | str, start_s: float = 0.0) -> FrameSource:
    if isinstance(media, str) and media.startswith(SYNTHETIC):
        name = media.removeprefix(SYNTHETIC)
        if name not in SCENES:
            raise SuiteError(f"unknown synthetic scene {name!r}; known: {', '.join(sorted(SCENES))}")
        return SyntheticSource(SCENES[name](), start_s)
    return VideoFile(Path(media), start_s)


def still_image(media: Path | str, t: float | None) -> np.ndarray:
    """An image file, or the frame of a clip at ``t`` seconds."""
    if t is None:
        image = cv2.imread(str(media))
        if image is None:
            raise SuiteError(f"cannot decode {media}")
        return image
    source = open_source(media, t)
    try:
        if source.grab() is None:
            raise SuiteError(f"{media} has no frame at {t} s")
        return source.retrieve()
    finally:
        source.close()
