"""A generated scene: a deterministic frame function, so a suite can hold a clip without a media file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class SyntheticScene:
    name: str
    fps: float
    frames: int
    draw: Callable[[int, np.random.Generator], np.ndarray]

    def render(self, index: int) -> np.ndarray:
        rng = np.random.default_rng(index * 7919 + len(self.name))
        image = self.draw(index, rng)
        noise = rng.normal(0, 3, image.shape)  # sensor noise: a still scene is never perfectly still
        return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
