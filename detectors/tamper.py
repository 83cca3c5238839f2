"""Camera tampering, classically and cheaply: a downscaled grey frame a few times a second against a
reference scene the analyser learned from this camera's own normal frames.

What each kind looks like (ratios to the reference, so exposure and scene content mostly cancel):

- ``cover``: coarse texture (gradient magnitude at half the analysis size, over the mean brightness) is gone;
- ``blur``: fine detail (Laplacian variance, over the same brightness) is gone while coarse texture stays;
- ``shift``: the layout of edges (blurred gradient magnitude) no longer correlates with the reference's;
- ``freeze``: a textured picture that does not change at all between analysed frames;
- ``dark`` / ``glare``: mean brightness near black, or most pixels clipped white.

Only frames with no kind at all refresh the reference (exponentially, ``refresh_s``), so dusk and weather are
followed while a covered or turned camera never becomes the new normal. Pure image maths: no clock (the
caller passes the frame's time), no I/O; the dwell that turns readings into incidents is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from detectors.tamper_config import TamperConfig, TamperKind

_EPS = 1e-6
_BIAS = 10.0  # grey levels added to the mean before normalising: a near-black frame must not look textured


def small_grey(image: np.ndarray, width: int) -> np.ndarray:
    """The frame as a ``width``-wide grey uint8 image. Bilinear to twice the size, then a 2×2 box: about a
    tenth of a millisecond for any input size (a direct area resize of a big frame costs ten times that)."""
    h, w = image.shape[:2]
    height = max(8, round(h * width / w))
    if w > 2 * width:
        image = cv2.resize(image, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small


@dataclass(frozen=True, slots=True)
class SceneStats:
    """What the checks compare: brightness, clipped share, coarse texture and fine detail, edge layout."""

    mean: float
    glare: float
    texture: float
    sharpness: float
    layout: np.ndarray = field(repr=False)


def scene_stats(grey: np.ndarray) -> SceneStats:
    g = grey.astype(np.float32)
    mean = float(cv2.mean(g)[0])
    norm = mean + _BIAS
    coarse = cv2.pyrDown(g)
    mag = cv2.magnitude(cv2.Sobel(coarse, cv2.CV_32F, 1, 0), cv2.Sobel(coarse, cv2.CV_32F, 0, 1))
    sharp = float(cv2.meanStdDev(cv2.Laplacian(g, cv2.CV_32F))[1][0, 0]) ** 2
    return SceneStats(
        mean=mean,
        glare=float(np.count_nonzero(grey >= 250)) / grey.size,
        texture=float(cv2.mean(mag)[0]) / norm,
        sharpness=sharp / (norm * norm),
        layout=cv2.GaussianBlur(mag, (0, 0), 1.5),
    )


def tile_similarity(a: np.ndarray, b: np.ndarray, rows: int = 3, cols: int = 4) -> float:
    """Mean correlation of the best-matching third of the tiles: people in front of part of the view
    lower some tiles; a moved camera lowers all of them."""
    h, w = a.shape[0] // rows * rows, a.shape[1] // cols * cols

    def tiles(x: np.ndarray) -> np.ndarray:
        t = x[:h, :w].reshape(rows, h // rows, cols, w // cols).transpose(0, 2, 1, 3).reshape(rows * cols, -1)
        return t - t.mean(axis=1, keepdims=True)

    ta, tb = tiles(a), tiles(b)
    den = np.sqrt((ta * ta).sum(axis=1) * (tb * tb).sum(axis=1))
    sims = np.where(den > _EPS, (ta * tb).sum(axis=1) / np.maximum(den, _EPS), 0.0)
    return float(np.sort(sims)[-max(1, rows * cols // 3) :].mean())


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Zero-mean normalised correlation: 1 the same layout, about 0 unrelated; blind to gain and offset."""
    da, db = a - float(a.mean()), b - float(b.mean())
    den = float(np.sqrt(float((da * da).sum()) * float((db * db).sum())))
    return float((da * db).sum()) / den if den > _EPS else 0.0


@dataclass(frozen=True, slots=True)
class TamperReading:
    """One analysed frame: the kinds that hold on it (empty: normal) and the measures behind them."""

    t: float
    kinds: frozenset[TamperKind]
    learning: bool
    mean: float
    texture_ratio: float = 1.0
    sharpness_ratio: float = 1.0
    similarity: float = 1.0
    change: float = -1.0  # mean grey-level change since the previous analysed frame; -1 for the first

    def measures(self) -> dict[str, float]:
        """Rounded, for evidence and logs."""
        return {
            "mean": round(self.mean, 1),
            "texture_ratio": round(self.texture_ratio, 3),
            "sharpness_ratio": round(self.sharpness_ratio, 3),
            "similarity": round(self.similarity, 3),
            "change": round(self.change, 3),
        }


class _Reference:
    """The learned normal scene: running means of the stats and of the edge layout."""

    def __init__(self, stats: SceneStats) -> None:
        self.mean, self.texture, self.sharpness = stats.mean, stats.texture, stats.sharpness
        self.layout = stats.layout.copy()

    def blend(self, stats: SceneStats, a: float) -> None:
        self.mean += a * (stats.mean - self.mean)
        self.texture += a * (stats.texture - self.texture)
        self.sharpness += a * (stats.sharpness - self.sharpness)
        cv2.accumulateWeighted(stats.layout, self.layout, a)


class TamperAnalyser:
    """One camera's analyser. ``analyse`` a frame at most ``cfg.fps`` times a second (the caller's rate
    limit); the first ``learn_s`` of frames build the reference and are never judged."""

    def __init__(self, cfg: TamperConfig) -> None:
        self.cfg = cfg
        self._ref: _Reference | None = None
        self._started: float | None = None
        self._last_t: float | None = None
        self._prev: np.ndarray | None = None
        self._learned = 0

    def reset(self) -> None:
        """Forget the reference (the camera was re-aimed on purpose): learn afresh from the next frame."""
        self._ref, self._started, self._last_t, self._prev, self._learned = None, None, None, None, 0

    def analyse(self, image: np.ndarray, t: float) -> TamperReading:
        grey = small_grey(image, self.cfg.width)
        stats = scene_stats(grey)
        change = -1.0 if self._prev is None else float(cv2.mean(cv2.absdiff(grey, self._prev))[0])
        self._prev = grey
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        if self._started is None:
            self._started = t
        if self._ref is None or t - self._started < self.cfg.learn_s:
            self._learn(stats)
            return TamperReading(t, frozenset(), True, stats.mean, change=change)
        reading = self._judge(stats, t, change)
        if not reading.kinds:
            self._ref.blend(stats, min(1.0, dt / self.cfg.refresh_s))
        return reading

    def _learn(self, stats: SceneStats) -> None:
        self._learned += 1
        if self._ref is None:
            self._ref = _Reference(stats)
        else:
            self._ref.blend(stats, 1.0 / self._learned)

    def _judge(self, stats: SceneStats, t: float, change: float) -> TamperReading:
        ref, th = self._ref, self.cfg.thresholds
        assert ref is not None
        texture = stats.texture / max(ref.texture, _EPS)
        sharp = stats.sharpness / max(ref.sharpness, _EPS)
        sim = tile_similarity(stats.layout, ref.layout)
        kinds: set[TamperKind] = set()
        textured = texture >= th.cover_ratio
        if stats.mean < th.dark_level or (stats.mean < ref.mean * th.dark_ratio and stats.mean < 60):
            kinds.add("dark")
        if stats.glare >= th.glare_share:
            kinds.add("glare")
        if not textured:
            kinds.add("cover")
        elif 0 <= change <= th.freeze_diff:
            kinds.add("freeze")
        elif sharp < th.blur_ratio:
            kinds.add("blur")
        elif sim < th.shift_similarity:
            kinds.add("shift")
        return TamperReading(t, frozenset(kinds), False, stats.mean, texture, sharp, sim, change)
