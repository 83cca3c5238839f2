"""Generated smoke look-alikes: grey, white or hazy things that move but are not smoke — fog and haze,
steam from vents, clouds, dust behind vehicles, headlights in rain, white vehicles, white clothing.

Each is a negative by construction (every smoke alert on one is a false alarm). Variants differ by seed
and a few parameters; the first of each kind is tuning data, the ``_b`` variant is held out
(docs/ACCURACY.md). Deterministic: layouts from the variant's seed, per-frame randomness from the frame's
own generator.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from sharpeyes.evaluation.smoke_scenes import (
    LH,
    LW,
    H,
    Plume,
    W,
    composite,
    day_skyline,
    night_yard,
    plume_scene,
    puff_density,
    texture,
)

Draw = Callable[[int, np.random.Generator], np.ndarray]


def fog(seed: int, level: tuple[float, float], drift: float) -> Draw:
    """Fog rolling over a street: a veil over the whole picture, thickening from ``level[0]`` to
    ``level[1]`` optical depth over 20 s, its thickness varying slowly as banks drift past."""
    background = day_skyline(seed)
    tex = np.tile(texture(seed, scale=8.0), (1, 2))

    def draw(i: int, rng: np.random.Generator) -> np.ndarray:
        t = i / 10
        shift = int(drift * t / 4) % LW
        bank = tex[:LH, LW - shift : 2 * LW - shift]
        depth = (level[0] + (level[1] - level[0]) * t / 20) * bank
        depth = depth * np.linspace(1.2, 0.8, LH, dtype=np.float32)[:, None]  # thicker far away (top)
        return composite(background, depth.astype(np.float32), (205, 205, 208))

    return draw


def steam_vent(seed: int, vents: tuple[tuple[int, int], ...]) -> Draw:
    """Steam from roof and street vents: white, rising fast, gone within a metre — a plume that keeps
    the same size from the first frame to the last."""
    plumes = tuple(
        Plume(v, -8.0, (238, 238, 240), 1.6, rise=55, wind=8, spread=14, r0=9, life_s=1.0, rate=10,
              ramp_s=0.1, wobble=3, seed=seed + k)
        for k, v in enumerate(vents)
    )  # fmt: skip
    return plume_scene(day_skyline(seed), plumes)


def clouds(seed: int, count: int, speed: float) -> Draw:
    """White and grey clouds crossing a blue sky above a skyline, slowly changing shape."""
    layout = np.random.default_rng(seed)
    background = day_skyline(seed)
    sky = np.full((200, W, 3), (215, 170, 120), np.uint8)  # a bluer sky makes the white stand out
    background[:120] = sky[:120]
    centres = layout.uniform((0, 20), (W + 300, 110), (count, 2))
    blobs = [layout.uniform((-60, -15, 12), (60, 15, 30), (7, 3)) for _ in range(count)]
    speeds = speed * layout.uniform(0.6, 1.4, count)
    tex = texture(seed + 7)

    def draw(i: int, rng: np.random.Generator) -> np.ndarray:
        t = i / 10
        density = np.zeros((LH, LW), np.float32)
        for (cx, cy), parts, v in zip(centres, blobs, speeds, strict=True):
            x0 = (cx + v * t) % (W + 300) - 150
            breathe = 1 + 0.15 * np.sin(0.3 * t + cx)
            puff_density(x0 + parts[:, 0], cy + parts[:, 1], parts[:, 2] * breathe, np.full(7, 1.2), density)
        density *= tex[:LH]
        img = composite(background, density, (245, 245, 246))
        img[120:] = background[120:]  # clouds are behind the roofs
        return img

    return draw


def _car(img: np.ndarray, x: int, y: int, body: tuple[int, int, int], length: int = 150) -> None:
    cv2.rectangle(img, (x, y - 45), (x + length, y), body, -1)
    cv2.rectangle(img, (x + 25, y - 70), (x + length - 35, y - 45), body, -1)
    cv2.rectangle(img, (x + 32, y - 66), (x + length - 42, y - 48), (60, 55, 50), -1)  # windows
    for wx in (x + 28, x + length - 28):
        cv2.circle(img, (wx, y), 14, (25, 25, 25), -1)


def dust(seed: int, speed: float, every_s: float) -> Draw:
    """A dirt road: cars pass every few seconds trailing pale dust that settles within seconds."""
    rng0 = np.random.default_rng(seed)
    background = day_skyline(seed)
    background[290:] = (120, 140, 155)  # dirt
    direction = 1 if rng0.uniform() < 0.5 else -1
    tex = texture(seed + 3, 4.0)

    def draw(i: int, rng: np.random.Generator) -> np.ndarray:
        t = i / 10
        img = background.copy()
        density = np.zeros((LH, LW), np.float32)
        for k in range(int(t // every_s) + 1):
            since = t - k * every_s
            x = -160 + speed * since if direction > 0 else W + 10 - speed * since
            if -170 < x < W + 170:
                _car(img, int(x), 320, (40, 40, 120) if k % 2 else (90, 90, 95))
            ages = np.arange(0, min(since, 4.0), 0.1)  # dust dropped every 0.1 s, lasting 4 s
            tail = x - direction * 10 + (0 if direction > 0 else 150)
            px = tail - direction * speed * ages
            puff_density(px, 320 - 8 * ages, 14 + 20 * ages, 0.9 * np.exp(-ages / 1.5), density)
        return composite(img, density * tex[:LH], (165, 178, 190))

    return draw


def rain_headlights(seed: int, cars: int) -> Draw:
    """A wet night street in the rain: headlights come towards the camera, blooming in the rain and
    mirrored on the road; streaks of rain everywhere."""
    layout = np.random.default_rng(seed)
    background = night_yard(seed)
    starts = layout.uniform(0, 12, cars)

    def draw(i: int, rng: np.random.Generator) -> np.ndarray:
        t = i / 10
        img = background.astype(np.float32)
        glow = np.zeros((H, W), np.float32)
        for k, t0 in enumerate(starts):
            phase = ((t - t0) % 8.0) / 8.0  # each car takes 8 s to come close
            scale = 0.3 + 2.2 * phase**2
            cx, cy = 200 + 240 * k % 400 + 60 * phase, 250 + 60 * phase
            for dx in (-40, 40):
                centre = (int(cx + dx * scale), int(cy))
                cv2.circle(glow, centre, int(6 * scale + 2), 255.0, -1)
                mirror = (centre[0], int(cy + 40 * scale))  # on the wet road
                axes = (int(5 * scale + 2), int(30 * scale + 4))
                cv2.ellipse(glow, mirror, axes, 0, 0, 360, 120.0, -1)
        bloom = cv2.GaussianBlur(glow, (0, 0), 18)
        img += (glow * 0.8 + bloom * 1.5)[..., None]
        streaks = np.zeros((H, W), np.float32)
        for x, y in zip(rng.integers(0, W, 350), rng.integers(0, H, 350), strict=True):
            cv2.line(streaks, (int(x), int(y)), (int(x) + 3, int(y) + 16), 60.0, 1)
        img += (streaks * (0.5 + bloom / 255))[..., None]
        return np.clip(img, 0, 255).astype(np.uint8)

    return draw


def white_vehicles(seed: int, vans: int) -> Draw:
    """White vans and cars driving by, one of them slowing to a stop and pulling away again."""
    layout = np.random.default_rng(seed)
    background = day_skyline(seed)
    lanes = layout.uniform(310, 350, vans)
    speeds = layout.uniform(20, 70, vans) * layout.choice([-1, 1], vans)
    starts = layout.uniform(0, W, vans)

    def draw(i: int, rng: np.random.Generator) -> np.ndarray:
        t = i / 10
        img = background.copy()
        for k in range(vans):
            # the first van brakes to a stop between 6 and 11 s
            travel = speeds[k] * (min(t, 6) + max(0, t - 11)) if k == 0 else speeds[k] * t
            x = int((starts[k] + travel) % (W + 400)) - 200
            _car(img, x, int(lanes[k]), (226, 228, 230), length=190 if k % 2 else 150)
        return img

    return draw


def white_clothing(seed: int, people: int) -> Draw:
    """People in white shirts and pale coats walking slowly close to the camera, arms swinging."""
    layout = np.random.default_rng(seed)
    background = np.full((H, W, 3), (120, 125, 135), np.uint8)  # paving, shop wall behind
    cv2.rectangle(background, (0, 0), (W, 150), (70, 80, 110), -1)
    speeds = layout.uniform(8, 30, people) * layout.choice([-1, 1], people)
    starts = layout.uniform(0, W, people)
    sizes = layout.uniform(0.8, 1.4, people)

    def draw(i: int, rng: np.random.Generator) -> np.ndarray:
        t = i / 10
        img = background.copy()
        for k in range(people):
            s = sizes[k]
            x = int((starts[k] + speeds[k] * t) % (W + 200)) - 100
            y = int(330 - 20 * k % 60)
            shirt = (232, 234, 236) if k % 2 == 0 else (205, 215, 225)
            cv2.rectangle(img, (x - int(15 * s), y - int(40 * s)), (x + int(15 * s), y), (50, 45, 40), -1)
            cv2.rectangle(
                img, (x - int(30 * s), y - int(140 * s)), (x + int(30 * s), y - int(40 * s)), shirt, -1
            )
            swing = int(15 * s * np.sin(t * 3 + k))
            for side in (-1, 1):
                shoulder = (x + side * int(32 * s), y - int(130 * s))
                hand = (x + side * int(36 * s) + side * swing, y - int(60 * s))
                cv2.line(img, shoulder, hand, shirt, int(12 * s))
            cv2.circle(img, (x, y - int(160 * s)), int(18 * s), (90, 120, 170), -1)
        return img

    return draw


# Tuning variants (plain names) and held-out ones (`_b`), docs/ACCURACY.md.
SMOKE_LOOKALIKES: dict[str, Callable[[], Draw]] = {
    "fog": lambda: fog(5, (0.3, 0.9), 12.0),
    "fog_b": lambda: fog(29, (0.6, 1.3), -20.0),
    "steam_vent": lambda: steam_vent(7, ((200, 170), (470, 190))),
    "steam_vent_b": lambda: steam_vent(31, ((120, 300), (350, 140), (560, 180))),
    # generated after steam_vent_b's false alarm had changed the growth test: fresh held-out, run once
    "steam_vent_c": lambda: steam_vent(67, ((300, 200), (520, 260))),
    "clouds": lambda: clouds(9, 4, 12.0),
    "clouds_b": lambda: clouds(43, 6, 25.0),
    "dust": lambda: dust(11, 90.0, 7.0),
    "dust_b": lambda: dust(47, 60.0, 9.0),
    "rain_headlights": lambda: rain_headlights(13, 2),
    "rain_headlights_b": lambda: rain_headlights(53, 3),
    "white_vehicles": lambda: white_vehicles(15, 3),
    "white_vehicles_b": lambda: white_vehicles(59, 4),
    "white_clothing": lambda: white_clothing(17, 3),
    "white_clothing_b": lambda: white_clothing(61, 4),
}
