"""Generated camera tampering and its look-alikes, applied to a real clip from some time on.

A tamper effect (cover, spray, blur, shift, freeze, darken, glare) makes its clip a ``camera_tamper`` event
from ``start_s`` to the end (or ``duration_s``) by construction; a look-alike (exposure ramp, headlight
sweep, a bus or a passer-by in front of the lens, rain, shake) is a negative by construction. Deterministic:
noise is seeded by the frame's time, so a run is reproducible.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from ingest.config import Strict

TAMPER_EFFECTS = ("cover", "spray", "blur", "shift", "freeze", "darken", "glare")
EffectKind = Literal[
    "cover", "spray", "blur", "shift", "freeze", "darken", "glare",
    "exposure_ramp", "headlights", "bus", "passer_by", "rain", "shake",
]  # fmt: skip


class Effect(Strict):
    """What happens to the camera's picture from ``start_s`` (clip seconds) on."""

    kind: EffectKind
    start_s: float = Field(0.0, ge=0)
    duration_s: float | None = Field(None, gt=0, description="None: to the end of the clip")

    @property
    def is_tamper(self) -> bool:
        return self.kind in TAMPER_EFFECTS


def _noise(shape: tuple[int, ...], t: float, sigma: float) -> np.ndarray:
    rng = np.random.default_rng(int(t * 1000) & 0xFFFFFFFF)
    return rng.normal(0.0, sigma, shape).astype(np.float32)


def _u8(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0, 255).astype(np.uint8)


class EffectRenderer:
    """Applies one effect to successive frames (``freeze`` remembers the frame it froze on)."""

    def __init__(self, effect: Effect) -> None:
        self.effect = effect
        self._frozen: np.ndarray | None = None

    def apply(self, image: np.ndarray, t: float) -> np.ndarray:
        e = self.effect
        since = t - e.start_s
        if since < 0 or (e.duration_s is not None and since >= e.duration_s):
            return image
        return getattr(self, f"_{e.kind}")(image, t, since)

    # ----- tampering ------------------------------------------------------------------------------------
    def _cover(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """A palm or tape over the lens, slid in over half a second: a dim, nearly uniform brown glow."""
        h, w = image.shape[:2]
        ramp = np.linspace(0.7, 1.0, h, dtype=np.float32)[:, None, None]
        cover = np.array([28, 38, 52], np.float32) * ramp + _noise((h, w, 1), t, 1.5)
        edge = int(w * min(1.0, since / 0.5))
        out = image.astype(np.float32)
        out[:, :edge] = np.broadcast_to(cover, (h, w, 3))[:, :edge]
        return _u8(out)

    def _spray(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """Paint sprayed on the lens: a milky veil over a heavily smeared scene."""
        veil = cv2.GaussianBlur(image, (0, 0), 25).astype(np.float32)
        return _u8(0.35 * veil + 0.65 * np.array([170, 175, 180], np.float32) + _noise(image.shape, t, 1.5))

    def _blur(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """Defocused (focus ring turned, lens fogged): about 1 % of the width of blur."""
        return cv2.GaussianBlur(image, (0, 0), image.shape[1] / 100)

    def _shift(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """Knocked aside: turned by 12° and a quarter of the width, the scene goes on moving."""
        h, w = image.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 12.0, 1.0)
        m[0, 2] += 0.25 * w
        m[1, 2] += 0.08 * h
        return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)

    def _freeze(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """The stream stays up but the picture stops: the same frame over and over."""
        if self._frozen is None:
            self._frozen = image.copy()
        return self._frozen

    def _darken(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """Lights out or infrared failed: 6 % of the light and the sensor's noise."""
        return _u8(image.astype(np.float32) * 0.06 + _noise((*image.shape[:2], 1), t, 1.0))

    def _glare(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """A torch or laser into the lens: most of the picture clipped white with a bloom around it."""
        h, w = image.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot(xx - w * 0.55, yy - h * 0.5) / (0.6 * w)
        light = (np.clip(1.6 - r, 0, 1) ** 0.7 * 400)[..., None]
        return _u8(image.astype(np.float32) * 0.5 + light)

    # ----- look-alikes ----------------------------------------------------------------------------------
    def _exposure_ramp(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """Dusk auto-exposure: the picture loses 55 % of its light over 6 s, and stays so."""
        gain = 1.0 - 0.55 * min(1.0, since / 6.0)
        return _u8(image.astype(np.float32) * gain + _noise((*image.shape[:2], 1), t, 1.0))

    def _headlights(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """Headlights sweeping across the picture every 4 s, each pass 1.5 s, clipping the centre."""
        phase = since % 4.0
        if phase >= 1.5:
            return image
        h, w = image.shape[:2]
        cx = -0.2 * w + 1.4 * w * phase / 1.5
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot(xx - cx, (yy - 0.6 * h) * 1.5) / (0.45 * w)
        light = (np.clip(1.2 - r, 0, 1) * 420)[..., None]
        return _u8(image.astype(np.float32) + light)

    def _bus(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """A bus drives past close to the camera for 3 s, filling 85 % of the frame at its widest."""
        if since >= 3.0:
            return image
        h, w = image.shape[:2]
        x0 = int(w * (1.0 - since / 1.0)) if since < 1.0 else 0
        x1 = w if since < 2.0 else int(w * (3.0 - since))
        out = image.copy()
        y0 = int(0.1 * h)
        body = np.full((h - y0, max(0, x1 - x0), 3), (60, 140, 40), np.uint8)
        for i in range(0, body.shape[1], max(1, w // 8)):  # windows and pillars
            body[int(0.1 * h) : int(0.4 * h), i : i + w // 12] = (90, 80, 70)
        out[y0:, x0:x1] = body
        return out

    def _passer_by(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """Someone walks right past the lens: a dark, out-of-focus body crossing in 1.5 s, every 5 s."""
        phase = since % 5.0
        if phase >= 1.5:
            return image
        h, w = image.shape[:2]
        mask: np.ndarray = np.zeros((h, w), np.float32)
        cx = int(w * (1.2 - 1.4 * phase / 1.5))
        cv2.ellipse(mask, (cx, h), (int(0.3 * w), int(1.1 * h)), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), w / 40)[..., None]
        return _u8(image.astype(np.float32) * (1 - mask) + np.array([35, 30, 30], np.float32) * mask)

    def _rain(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """Rain: bright slanted streaks and a little haze, different every frame."""
        h, w = image.shape[:2]
        rng = np.random.default_rng(int(t * 1000))
        streaks: np.ndarray = np.zeros((h, w), np.float32)
        for x, y in zip(rng.integers(0, w, 400), rng.integers(0, h, 400), strict=True):
            cv2.line(streaks, (int(x), int(y)), (int(x) + 4, int(y) + 18), 90.0, 1)
        haze = image.astype(np.float32) * 0.85 + 30
        return _u8(haze + streaks[..., None] + _noise((h, w, 1), t, 3.0))

    def _shake(self, image: np.ndarray, t: float, since: float) -> np.ndarray:
        """Wind shakes the pole: the picture jitters by up to 1 % of the width."""
        rng = np.random.default_rng(int(t * 1000))
        dx, dy = (rng.uniform(-1, 1, 2) * image.shape[1] / 100).tolist()
        m = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
        return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REFLECT_101)
