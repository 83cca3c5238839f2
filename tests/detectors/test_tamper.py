"""The tamper analyser on generated frames: each kind on its own, and normal changes that stay quiet; the
dwell tracker as a table."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from detectors.tamper import TamperAnalyser, small_grey
from detectors.tamper_config import TamperConfig, TamperDwell
from video.tamper_watch import DwellTracker

W, H = 320, 180
_BASE_RNG = np.random.default_rng(7)


def _base() -> np.ndarray:
    """A street-like scene: blocks, lines and a gradient, textured everywhere."""
    img = np.zeros((H, W, 3), np.uint8)
    img[:] = np.linspace(60, 160, W, dtype=np.uint8)[None, :, None]
    for _ in range(40):
        x, y = _BASE_RNG.integers(0, W), _BASE_RNG.integers(0, H)
        w, h = _BASE_RNG.integers(8, 60), _BASE_RNG.integers(8, 50)
        colour = tuple(int(c) for c in _BASE_RNG.integers(20, 235, 3))
        cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), colour, -1)
    for _ in range(15):
        p, q = _BASE_RNG.integers(0, W, 2), _BASE_RNG.integers(0, H, 2)
        cv2.line(img, (int(p[0]), int(q[0])), (int(p[1]), int(q[1])), (240, 240, 240), 2)
    return img


BASE = _base()


def scene(i: int) -> np.ndarray:
    """Frame ``i``: the scene with fresh sensor noise and a person-sized block walking across."""
    rng = np.random.default_rng(1000 + i)
    img = BASE.astype(np.float32) + rng.normal(0, 2.0, (H, W, 1)).astype(np.float32)
    x = (i * 7) % W
    cv2.rectangle(img, (x, 90), (x + 20, 160), (40, 50, 60), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _run(effect: Callable[[np.ndarray, int], np.ndarray], frames: int = 30) -> list[frozenset[str]]:
    """Learn on 6 normal frames (2 fps), then ``frames`` more with the effect; the kinds of those."""
    analyser = TamperAnalyser(TamperConfig())
    for i in range(6):
        assert analyser.analyse(scene(i), i * 0.5).learning == (i * 0.5 < 2.0)
    return [frozenset(analyser.analyse(effect(scene(i), i), i * 0.5).kinds) for i in range(6, 6 + frames)]


def _frozen(img: np.ndarray, i: int) -> np.ndarray:
    return scene(6)


def _shifted(img: np.ndarray, i: int) -> np.ndarray:
    m = cv2.getRotationMatrix2D((W / 2, H / 2), 15.0, 1.0)
    m[0, 2] += 0.3 * W
    return cv2.warpAffine(img, m, (W, H), borderMode=cv2.BORDER_REFLECT_101)


def _covered(img: np.ndarray, i: int) -> np.ndarray:
    noise = np.random.default_rng(i).normal(0, 1.0, (H, W, 1))
    return np.clip(np.full((H, W, 3), (30, 40, 50), np.float32) + noise, 0, 255).astype(np.uint8)


TAMPER = {
    "cover": _covered,
    "blur": lambda img, i: cv2.GaussianBlur(img, (0, 0), 4.0),
    "shift": _shifted,
    "freeze": _frozen,
    "dark": lambda img, i: (img.astype(np.float32) * 0.04).astype(np.uint8),
    "glare": lambda img, i: np.clip(img.astype(np.int16) + 200, 0, 255).astype(np.uint8),
}


@pytest.mark.parametrize("kind", sorted(TAMPER))
def test_each_tampering_is_seen_on_every_frame(kind: str) -> None:
    readings = _run(TAMPER[kind])
    if kind == "freeze":  # the first frozen frame still differs from the live one before it
        assert not readings.pop(0)
    assert all(kind in kinds for kinds in readings), readings


LOOK_ALIKES = {
    "normal": lambda img, i: img,
    "exposure_drop_40pc": lambda img, i: (img.astype(np.float32) * 0.6).astype(np.uint8),
    "brighter_30pc": lambda img, i: np.clip(img.astype(np.float32) * 1.3, 0, 255).astype(np.uint8),
    "rain_noise": lambda img, i: np.clip(
        img.astype(np.float32) + np.random.default_rng(i).normal(0, 8, img.shape), 0, 255
    ).astype(np.uint8),
    "shake_2px": lambda img, i: np.roll(img, (i % 3) - 1, axis=1),
}


@pytest.mark.parametrize("name", sorted(LOOK_ALIKES))
def test_normal_changes_raise_no_kind(name: str) -> None:
    readings = _run(LOOK_ALIKES[name])
    assert not any(readings), readings


def test_the_reference_follows_a_slow_dusk_but_not_a_cover() -> None:
    """Exposure falling to a fifth over 10 minutes is followed (reference refreshed from normal frames)."""
    analyser = TamperAnalyser(TamperConfig())
    for i in range(1200):  # 10 min at 2 fps
        gain = 1.0 - 0.8 * i / 1200
        reading = analyser.analyse((scene(i).astype(np.float32) * gain).astype(np.uint8), i * 0.5)
        assert not reading.kinds, (i, reading)
    covered = analyser.analyse(_covered(scene(0), 0), 600.5)
    assert "cover" in covered.kinds


def test_small_grey_is_downscaled_and_grey() -> None:
    big = cv2.resize(scene(0), (1920, 1080))
    assert small_grey(big, 160).shape == (90, 160)
    assert small_grey(cv2.cvtColor(scene(0), cv2.COLOR_BGR2GRAY), 160).shape == (90, 160)


def _tracker(**dwell: float | None) -> DwellTracker:
    return DwellTracker(TamperConfig(dwell_s=TamperDwell(**dwell), clear_s=3.0, grace_s=1.0))  # type: ignore[arg-type]


C = frozenset({"cover"})
N: frozenset[str] = frozenset()


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        # covered from t=0: raised after the 8 s dwell; back at 12, past the grace at 13, closed at 16
        (
            [(t, C) for t in range(12)] + [(t, N) for t in range(12, 17)],
            [(8, "raise", "cover"), (16, "clear", None)],
        ),
        # a bus: 3 s of cover, then normal again: nothing
        ([(t, C) for t in range(3)] + [(t, N) for t in range(3, 20)], []),
        # a gap of one normal reading (within grace) does not restart the dwell
        ([(t, N if t == 4 else C) for t in range(10)], [(8, "raise", "cover")]),
        # a gap longer than the grace restarts it
        ([(t, N if t in (3, 4, 5) else C) for t in range(12)], []),
    ],
)
def test_dwell_raises_after_the_dwell_and_clears_when_back(
    script: list[tuple[float, frozenset[str]]], expected: list[tuple[float, str, str | None]]
) -> None:
    tracker = _tracker()
    got = []
    for t, kinds in script:
        step = tracker.step(kinds, t)  # type: ignore[arg-type]
        if step is not None:
            got.append((t, *step))
    assert got == expected


def test_a_kind_turned_off_never_raises() -> None:
    tracker = _tracker(shift=None)
    assert all(tracker.step(frozenset({"shift"}), float(t)) is None for t in range(60))
