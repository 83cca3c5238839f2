"""Synthetic negative scenes for fire and smoke: things that are red, orange, bright or flickering but are
not fire. Deterministic (seeded per frame), 640×360, so a suite can hold them without any media file.

They are deliberately hard cases for a colour + flicker heuristic; real footage remains the main test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

W, H = 640, 360


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


def _street() -> np.ndarray:
    img = np.full((H, W, 3), (120, 120, 118), np.uint8)
    img[: H // 3] = (150, 140, 130)  # buildings
    cv2.rectangle(img, (0, 220), (W, H), (90, 90, 92), -1)  # road
    for x in range(0, W, 80):
        cv2.rectangle(img, (x, 280), (x + 40, 290), (220, 220, 220), -1)
    return img


def _walker(img: np.ndarray, x: int, y: int, coat: tuple[int, int, int], phase: int) -> None:
    cv2.circle(img, (x, y - 70), 10, (80, 110, 170), -1)  # head
    cv2.rectangle(img, (x - 15, y - 60), (x + 15, y - 10), coat, -1)  # coat
    swing = 8 if phase % 2 else -8
    cv2.line(img, (x - 6, y - 10), (x - 6 + swing, y + 30), (40, 40, 40), 7)
    cv2.line(img, (x + 6, y - 10), (x + 6 - swing, y + 30), (40, 40, 40), 7)


def red_clothing(i: int, rng: np.random.Generator) -> np.ndarray:
    """Pedestrians in red and orange coats crossing the frame (BGR colours)."""
    img = _street()
    coats = [(30, 30, 200), (0, 90, 240), (20, 60, 220), (40, 40, 170)]
    for k, coat in enumerate(coats):
        x = int((60 + k * 150 + i * (2 + k)) % (W + 40)) - 20
        _walker(img, x, 250 + 15 * k, coat, i // 4 + k)
    return img


def brake_lights(i: int, rng: np.random.Generator) -> np.ndarray:
    """Dusk traffic: cars whose red brake lights switch on and off every second or so."""
    img = np.full((H, W, 3), (40, 35, 35), np.uint8)
    cv2.rectangle(img, (0, 200), (W, H), (55, 55, 55), -1)
    for k in range(3):
        x0 = 60 + k * 200 + int(3 * np.sin(i / 10 + k))
        cv2.rectangle(img, (x0, 210), (x0 + 150, 300), (70, 60, 60), -1)
        on = ((i // 12) + k) % 2 == 0
        colour = (30, 30, 255) if on else (30, 30, 90)
        for dx in (10, 115):
            cv2.rectangle(img, (x0 + dx, 240), (x0 + dx + 25, 255), colour, -1)
            if on:  # glow
                cv2.circle(img, (x0 + dx + 12, 248), 22, (40, 60, 200), 2)
    return img


def sunset(i: int, rng: np.random.Generator) -> np.ndarray:
    """An orange-red sky above a dark skyline; clouds drift, the sun glints through them."""
    y = np.linspace(0, 1, H, dtype=np.float32)[:, None]
    sky = np.zeros((H, W, 3), np.float32)
    sky[..., 2] = 255 * (0.95 - 0.2 * y)
    sky[..., 1] = 255 * (0.65 - 0.45 * y)
    sky[..., 0] = 255 * (0.25 + 0.1 * y)
    img = sky.astype(np.uint8)
    cv2.circle(img, (420, 210), 40, (120, 230, 255), -1)
    for k in range(4):
        cx = int((100 + 170 * k + i * 0.7 * (k + 1)) % (W + 200)) - 100
        cv2.ellipse(img, (cx, 170 + 12 * k), (90, 14), 0, 0, 360, (90, 120, 200), -1)
    cv2.rectangle(img, (0, 250), (W, H), (25, 20, 20), -1)
    for k in range(8):
        cv2.rectangle(img, (k * 80 + 10, 215 - 8 * (k % 3)), (k * 80 + 60, 250), (25, 20, 20), -1)
    return img


def orange_sign(i: int, rng: np.random.Generator) -> np.ndarray:
    """A large orange road-works sign and an orange-lit shop front; people in grey pass in front."""
    img = _street()
    cv2.rectangle(img, (380, 60), (600, 200), (0, 140, 255), -1)
    cv2.putText(img, "WORKS", (400, 150), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (20, 20, 20), 4)
    cv2.rectangle(img, (40, 80), (200, 200), (40, 170, 250), -1)
    for k in range(3):
        x = int((W - (i * (3 + k) + 200 * k)) % (W + 40)) - 20
        _walker(img, x, 260 + 10 * k, (110, 110, 110), i // 4 + k)
    return img


SCENES: dict[str, Callable[[], SyntheticScene]] = {
    name: (lambda name=name, fn=fn: SyntheticScene(name, 10.0, 200, fn))
    for name, fn in {
        "red_clothing": red_clothing,
        "brake_lights": brake_lights,
        "sunset": sunset,
        "orange_sign": orange_sign,
    }.items()
}
