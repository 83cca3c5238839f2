"""Held-out validation of the crowd-fusion switch point (boxes below it, density above).

Why: a threshold read off the same images it is scored on flatters the fusion. Leave-one-out
cross-validation chooses the threshold on all images but one, scores that one, and repeats; its MAE is
what to expect on an image the threshold never saw. With few images on one side of the switch (two dense
crowds here), a fold that holds one of them out must guess the switch from a single dense example: that
fragility is exactly what the LOO number shows and the in-sample number hides.

The choice rule is fixed in advance, not tuned: the candidate thresholds are the geometric midpoints
between consecutive sorted scene densities (people per megapixel, which span orders of magnitude), plus
"everything dense" and "everything sparse"; the lowest training MAE wins, ties going to the widest gap
(in log terms: the most margin on both sides).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SwitchSample:
    """One labelled image: its true count, both backends' counts and the switch variable."""

    true: float
    boxes: float
    density: float
    per_mpx: float
    name: str = ""

    def fused(self, threshold: float) -> float:
        return self.density if self.per_mpx >= threshold else self.boxes


def mae(samples: Sequence[SwitchSample], threshold: float) -> float:
    return sum(abs(s.fused(threshold) - s.true) for s in samples) / len(samples)


def candidates(samples: Sequence[SwitchSample]) -> list[tuple[float, float]]:
    """(threshold, log-width of its gap) for each place a switch can sit between the samples."""
    values = sorted({max(s.per_mpx, 1e-6) for s in samples})
    out = [(values[0] / 2, 0.0), (values[-1] * 2, 0.0)]  # all dense / all sparse: no margin to speak of
    for low, high in itertools.pairwise(values):
        out.append((math.sqrt(low * high), math.log(high / low)))
    return out


def choose_threshold(samples: Sequence[SwitchSample]) -> float:
    """The training-MAE-optimal switch; ties go to the widest gap (MAE rounded: float noise never decides)."""
    if not samples:
        raise ValueError("no samples to choose a threshold on")
    return min(candidates(samples), key=lambda c: (round(mae(samples, c[0]), 9), -c[1]))[0]


def leave_one_out(samples: Sequence[SwitchSample], configured: float | None = None) -> dict[str, Any]:
    """LOO and in-sample MAE of the fused count, next to each backend alone and the configured switch."""
    if len(samples) < 2:
        raise ValueError("leave-one-out needs at least 2 samples")
    folds: list[dict[str, Any]] = []
    for i, held in enumerate(samples):
        threshold = choose_threshold([s for j, s in enumerate(samples) if j != i])
        estimate = held.fused(threshold)
        folds.append(
            {
                "held_out": held.name,
                "threshold": round(threshold, 1),
                "true": held.true,
                "estimate": round(estimate, 1),
                "error": round(abs(estimate - held.true), 1),
            }
        )
    in_sample = choose_threshold(samples)
    n = len(samples)
    report: dict[str, Any] = {
        "n": n,
        "loo_mae": round(sum(f["error"] for f in folds) / n, 2),
        "in_sample_mae": round(mae(samples, in_sample), 2),
        "in_sample_threshold": round(in_sample, 1),
        "boxes_mae": round(sum(abs(s.boxes - s.true) for s in samples) / n, 2),
        "density_mae": round(sum(abs(s.density - s.true) for s in samples) / n, 2),
        "fold_thresholds": [min(f["threshold"] for f in folds), max(f["threshold"] for f in folds)],
        "folds": folds,
    }
    if configured is not None:
        report["configured_threshold"] = configured
        report["configured_mae"] = round(mae(samples, configured), 2)
    return report
