"""Generated smoke plumes — the positives a smoke detector must find — over dark and bright backgrounds.

A plume is a stream of soft puffs leaving a source: each rises and drifts with the wind, widens and
thins with age; emission grows over the first seconds (a fire taking hold), so the plume grows over
seconds. Density is rendered at quarter resolution, given a turbulent texture that rises with the smoke,
and composited as *partial transparency*: ``out = background·(1 − α) + tone·α`` with
``α = 1 − exp(−density)``, so the background shows through thin smoke. Everything is deterministic
from the plume's seed and the frame index; nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

W, H = 640, 360
LOW = 4  # density is rendered at 1/LOW of the frame size
LW, LH = W // LOW, H // LOW
_YY, _XX = np.mgrid[0:LH, 0:LW].astype(np.float32)


@dataclass(frozen=True, slots=True)
class Plume:
    """One smoke (or steam, or dust) source. Positions and speeds in full-frame pixels and seconds."""

    source: tuple[int, int]
    start_s: float  # emission begins (negative: already in steady state at frame 0)
    tone: tuple[int, int, int]  # BGR colour of the smoke itself
    density: float  # optical thickness of a fresh puff at full emission (0.5 thin … 3 thick)
    rise: float = 22.0
    wind: float = 0.0
    spread: float = 6.0  # px/s of radius growth
    r0: float = 10.0
    life_s: float = 12.0
    rate: float = 4.0  # puffs per second
    ramp_s: float = 6.0  # emission reaches full strength after this long
    wobble: float = 6.0  # px of sideways meander
    seed: int = 1


@dataclass(frozen=True, slots=True)
class _Puffs:
    born: np.ndarray
    jitter: np.ndarray  # (n, 4): rise factor, wobble phase, wobble gain, sideways start offset


def _puffs(plume: Plume, until_s: float = 40.0) -> _Puffs:
    rng = np.random.default_rng(plume.seed)
    n = int((until_s - plume.start_s) * plume.rate) + 1
    born = plume.start_s + (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / plume.rate
    jitter = np.stack(
        [
            rng.uniform(0.75, 1.25, n),
            rng.uniform(0, 2 * np.pi, n),
            rng.uniform(0.5, 1.5, n),
            rng.uniform(-0.5, 0.5, n) * plume.r0,
        ],
        axis=1,
    )
    return _Puffs(born, jitter)


def texture(seed: int, scale: float = 3.0) -> np.ndarray:
    """A turbulent field around 1 (0.3–1.7), twice the low-res height so it can scroll upward."""
    rng = np.random.default_rng(seed)
    field: np.ndarray = cv2.GaussianBlur(rng.normal(0, 1, (2 * LH, LW)).astype(np.float32), (0, 0), scale)
    field = field / (float(field.std()) + 1e-6)
    return np.clip(1.0 + 0.35 * field, 0.3, 1.7).astype(np.float32)


def puff_density(
    x: np.ndarray, y: np.ndarray, r: np.ndarray, strength: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Sum of round Gaussian puffs (full-frame px coordinates) on the low-res grid."""
    density = np.zeros((LH, LW), np.float32) if out is None else out
    for cx, cy, rad, s in zip(x / LOW, y / LOW, r / LOW, strength, strict=True):
        if s <= 1e-3:
            continue
        reach = 3 * rad + 1
        x0, x1 = max(0, int(cx - reach)), min(LW, int(cx + reach) + 1)
        y0, y1 = max(0, int(cy - reach)), min(LH, int(cy + reach) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        d2 = (_XX[y0:y1, x0:x1] - cx) ** 2 + (_YY[y0:y1, x0:x1] - cy) ** 2
        density[y0:y1, x0:x1] += s * np.exp(-d2 / (2 * rad * rad))
    return density


def plume_density(plume: Plume, puffs: _Puffs, t: float, tex: np.ndarray) -> np.ndarray:
    """The plume's optical thickness at time ``t`` on the low-res grid."""
    age = t - puffs.born
    live = (age >= 0) & (age < 2.5 * plume.life_s)
    a, j = age[live], puffs.jitter[live]
    if a.size == 0:
        return np.zeros((LH, LW), np.float32)
    sx, sy = plume.source
    x = sx + j[:, 3] + plume.wind * a + plume.wobble * j[:, 2] * np.sin(0.9 * a + j[:, 1]) * np.minimum(a, 2)
    y = sy - plume.rise * j[:, 0] * a
    r = plume.r0 + plume.spread * a
    emitted = np.clip((puffs.born[live] - plume.start_s) / plume.ramp_s, 0.15, 1.0)
    strength = plume.density * emitted * np.exp(-a / plume.life_s) * plume.r0 / r
    density = puff_density(x, y, r, strength)
    offset = int(plume.rise * t / LOW) % LH  # texture rises with the smoke
    return density * tex[LH - offset : 2 * LH - offset]


def composite(background: np.ndarray, density: np.ndarray, tone: tuple[int, int, int]) -> np.ndarray:
    """Smoke over ``background``: partial transparency from the low-res density."""
    alpha = (1.0 - np.exp(-cv2.resize(density, (W, H), interpolation=cv2.INTER_LINEAR)))[..., None]
    smoke = np.asarray(tone, np.float32)
    out = background.astype(np.float32) * (1 - alpha) + smoke * alpha
    return np.clip(out, 0, 255).astype(np.uint8)


# ----- backgrounds -------------------------------------------------------------------------------------


def dark_room(seed: int) -> np.ndarray:
    """An unlit room: dark walls and floor, a sofa and a shelf, a dim window."""
    rng = np.random.default_rng(seed)
    img = np.full((H, W, 3), (34, 32, 36), np.uint8)
    cv2.rectangle(img, (0, 250), (W, H), (24, 26, 30), -1)  # floor
    wx = int(rng.integers(60, 420))
    cv2.rectangle(img, (wx, 50), (wx + 130, 150), (62, 52, 46), -1)  # window, faint night sky
    cv2.line(img, (wx + 65, 50), (wx + 65, 150), (28, 26, 28), 3)
    sx = int(rng.integers(20, 360))
    cv2.rectangle(img, (sx, 200), (sx + 220, 275), (30, 34, 48), -1)  # sofa
    for k in range(4):
        cv2.line(img, (520, 80 + 45 * k), (630, 80 + 45 * k), (44, 46, 52), 4)  # shelf
    return img


def night_yard(seed: int) -> np.ndarray:
    """A yard at night: dark sky, a building with a few lit windows, a fence."""
    rng = np.random.default_rng(seed)
    img = np.full((H, W, 3), (26, 20, 18), np.uint8)
    cv2.rectangle(img, (0, 120), (W, 300), (38, 36, 40), -1)  # building
    for _ in range(5):
        x, y = int(rng.integers(20, 600)), int(rng.integers(140, 250))
        cv2.rectangle(img, (x, y), (x + 26, y + 34), (80, 150, 200), -1)
    cv2.rectangle(img, (0, 300), (W, H), (22, 30, 26), -1)
    for x in range(0, W, 24):
        cv2.line(img, (x, 280), (x, 320), (45, 45, 45), 2)
    return img


def day_skyline(seed: int) -> np.ndarray:
    """Daylight: a pale sky over roofs and a street."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, 200, dtype=np.float32)[:, None, None]
    img = np.full((H, W, 3), (110, 112, 115), np.uint8)
    img[:200] = np.clip(np.asarray((235, 215, 195), np.float32) - 40 * y, 0, 255).astype(np.uint8)
    x = 0
    while x < W:
        w, top = int(rng.integers(60, 140)), int(rng.integers(120, 200))
        shade = int(rng.integers(70, 130))
        cv2.rectangle(img, (x, top), (x + w, 290), (shade, shade + 5, shade + 15), -1)
        for wy in range(top + 12, 270, 30):
            cv2.rectangle(img, (x + 10, wy), (x + w - 10, wy + 12), (60, 55, 50), -1)
        x += w + 4
    cv2.rectangle(img, (0, 290), (W, H), (85, 85, 88), -1)
    return img


def hillside(seed: int) -> np.ndarray:
    """Countryside: bright sky, a green hill with trees."""
    rng = np.random.default_rng(seed)
    img = np.full((H, W, 3), (238, 218, 196), np.uint8)
    ridge = 150 + 30 * np.sin(np.linspace(0, 3, W) + seed)
    for x in range(W):
        img[int(ridge[x]) :, x] = (60, 125, 80)
    for _ in range(30):
        x, y = int(rng.integers(0, W)), int(rng.integers(200, H))
        cv2.circle(img, (x, y), int(rng.integers(8, 20)), (40, 90, 50), -1)
    return img


def warehouse(seed: int) -> np.ndarray:
    """A dim warehouse: racks of boxes, ceiling beams, a few weak lamps."""
    rng = np.random.default_rng(seed)
    img = np.full((H, W, 3), (52, 54, 58), np.uint8)
    for y in (30, 70):
        cv2.line(img, (0, y), (W, y), (30, 30, 32), 6)  # beams
    for x in range(20, W, 160):
        cv2.rectangle(img, (x, 110), (x + 120, 330), (40, 42, 46), -1)
        for y in range(120, 320, 50):
            shade = int(rng.integers(60, 100))
            cv2.rectangle(img, (x + 6, y), (x + 114, y + 38), (shade - 20, shade, shade + 30), -1)
    for x in (100, 330, 560):
        cv2.circle(img, (x, 20), 6, (170, 210, 230), -1)
    return img


# ----- scenes ------------------------------------------------------------------------------------------


def plume_scene(
    background: np.ndarray, plumes: tuple[Plume, ...]
) -> Callable[[int, np.random.Generator], np.ndarray]:
    """Frames (10 fps) of ``plumes`` over a fixed background."""
    prepared = [(p, _puffs(p), texture(p.seed + 1000)) for p in plumes]

    def draw(i: int, rng: np.random.Generator) -> np.ndarray:
        img = background
        for plume, puffs, tex in prepared:
            img = composite(img, plume_density(plume, puffs, i / 10, tex), plume.tone)
        return img.copy() if img is background else img

    return draw


# The positives. Tuning: dark_room, day_roof, white_field. Held out (never used to choose a threshold):
# night_wisp, warehouse, dark_room_b (docs/ACCURACY.md).
SMOKE_PLUMES: dict[str, Callable[[], Callable[[int, np.random.Generator], np.ndarray]]] = {
    "smoke_dark_room": lambda: plume_scene(
        dark_room(3), (Plume((300, 300), 3.0, (150, 150, 155), 1.6, rise=20, spread=5, seed=5),)
    ),
    "smoke_day_roof": lambda: plume_scene(
        day_skyline(8),
        (Plume((380, 170), 2.0, (85, 88, 92), 2.2, rise=26, wind=10, spread=7, r0=12, seed=9),),
    ),
    "smoke_white_field": lambda: plume_scene(
        hillside(2),
        (Plume((220, 250), 2.0, (222, 224, 226), 1.8, rise=18, wind=16, spread=8, seed=13),),
    ),
    "smoke_night_wisp": lambda: plume_scene(
        night_yard(4),
        (Plume((430, 290), 2.5, (140, 140, 145), 0.8, rise=16, wind=-6, spread=4, r0=8, seed=21),),
    ),
    "smoke_warehouse": lambda: plume_scene(
        warehouse(6), (Plume((250, 320), 3.0, (165, 165, 168), 1.4, rise=24, spread=9, seed=33),)
    ),
    "smoke_dark_room_b": lambda: plume_scene(
        dark_room(17),
        (Plume((470, 260), 2.0, (120, 122, 128), 1.1, rise=14, wind=5, spread=6, r0=9, seed=41),),
    ),
}
