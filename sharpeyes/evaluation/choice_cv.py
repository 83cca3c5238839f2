"""Held-out validation of a choice among counting backends, and of a calibration gain.

Why: picking the tile grid, the density model or MCNN's input scale by the lowest MAE on the same images
it is then scored on flatters the pick (with two dense images, grossly). Leave-one-out picks on all images
but one, scores that one and repeats; its MAE is what to expect on an image the pick never saw. A gain
(true / estimated people, fitted as a ratio of sums) is validated the same way.

The rules are fixed in advance: lowest training MAE wins, ties go to the candidate listed first (list the
cheapest first); the gain is sum(true) / sum(estimate) over the training images.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sharpeyes.evaluation.suite import CountingCase


@dataclass(frozen=True, slots=True)
class CountRow:
    """One labelled image: its true count and each backend's estimate."""

    name: str
    true: float
    estimates: Mapping[str, float]


def mae_of(rows: Sequence[CountRow], backend: str) -> float:
    return sum(abs(r.estimates[backend] - r.true) for r in rows) / len(rows)


def choose(rows: Sequence[CountRow], candidates: Sequence[str]) -> str:
    """The candidate with the lowest MAE on `rows` (rounded: float noise never decides; ties: first)."""
    if not rows or not candidates:
        raise ValueError("a choice needs rows and candidates")
    return min(candidates, key=lambda c: (round(mae_of(rows, c), 9), candidates.index(c)))


def choice_loo(rows: Sequence[CountRow], candidates: Sequence[str]) -> dict[str, Any]:
    """LOO MAE of choosing among `candidates`, beside the in-sample choice and each candidate alone."""
    if len(rows) < 2:
        raise ValueError("leave-one-out needs at least 2 images")
    folds: list[dict[str, Any]] = []
    for i, held in enumerate(rows):
        picked = choose([r for j, r in enumerate(rows) if j != i], candidates)
        estimate = held.estimates[picked]
        folds.append(
            {
                "held_out": held.name,
                "chosen": picked,
                "true": held.true,
                "estimate": round(estimate, 1),
                "error": round(abs(estimate - held.true), 1),
            }
        )
    in_sample = choose(rows, candidates)
    return {
        "n": len(rows),
        "candidates": {c: round(mae_of(rows, c), 2) for c in candidates},
        "in_sample_choice": in_sample,
        "in_sample_mae": round(mae_of(rows, in_sample), 2),
        "loo_mae": round(sum(f["error"] for f in folds) / len(rows), 2),
        "loo_choices": dict(Counter(f["chosen"] for f in folds)),
        "folds": folds,
    }


def fit_gain(rows: Sequence[CountRow], backend: str) -> float:
    """sum(true) / sum(estimate): the multiplier that makes the backend's total right on `rows`."""
    estimated = sum(r.estimates[backend] for r in rows)
    return sum(r.true for r in rows) / estimated if estimated > 0 else 1.0


def gain_loo(rows: Sequence[CountRow], backend: str) -> dict[str, Any]:
    """LOO MAE of the backend times a gain fitted on the other images, beside the raw and in-sample MAE."""
    if len(rows) < 2:
        raise ValueError("leave-one-out needs at least 2 images")
    folds: list[dict[str, Any]] = []
    for i, held in enumerate(rows):
        gain = fit_gain([r for j, r in enumerate(rows) if j != i], backend)
        estimate = gain * held.estimates[backend]
        folds.append(
            {
                "held_out": held.name,
                "gain": round(gain, 3),
                "true": held.true,
                "estimate": round(estimate, 1),
                "error": round(abs(estimate - held.true), 1),
            }
        )
    gain = fit_gain(rows, backend)
    n = len(rows)
    return {
        "n": n,
        "raw_mae": round(mae_of(rows, backend), 2),
        "in_sample_gain": round(gain, 3),
        "in_sample_mae": round(sum(abs(gain * r.estimates[backend] - r.true) for r in rows) / n, 2),
        "loo_mae": round(sum(f["error"] for f in folds) / n, 2),
        "folds": folds,
    }


def rows_from_counts(
    per_image: Sequence[Mapping[str, Any]], backends: Sequence[str], sets: Sequence[str] | None = None
) -> list[CountRow]:
    """The report's per-image count rows regrouped per image, for images every backend counted."""
    grouped: dict[str, dict[str, Any]] = {}
    for p in per_image:
        if p["backend"] not in backends or (sets and p["set"] not in sets):
            continue
        key = f"{p['media']}@{p['t']}"
        entry = grouped.setdefault(key, {"true": p["true"], "estimates": {}})
        entry["estimates"][p["backend"]] = float(p["estimate"])
    return [
        CountRow(key, float(v["true"]), v["estimates"])
        for key, v in grouped.items()
        if all(b in v["estimates"] for b in backends)
    ]


def choice_validation(case: CountingCase, per_image: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The suite's `counting.choose` and `counting.calibrate`, each validated leave-one-out."""
    out: dict[str, Any] = {"choices": {}, "gains": {}}
    for name, choice in case.choose.items():
        rows = rows_from_counts(per_image, choice.backends, choice.sets)
        if len(rows) >= 2:
            out["choices"][name] = choice_loo(rows, choice.backends)
    for backend, sets in case.calibrate.items():
        rows = rows_from_counts(per_image, [backend], sets or None)
        if len(rows) >= 2:
            out["gains"][backend] = gain_loo(rows, backend)
    return out
