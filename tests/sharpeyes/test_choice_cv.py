"""Leave-one-out validation of backend choices and gains: a pick that only fits the images it was made on
shows up as a LOO MAE above the in-sample one; the suite refuses a choice naming an unknown backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sharpeyes.evaluation.choice_cv import (
    CountRow,
    choice_loo,
    choice_validation,
    choose,
    gain_loo,
    rows_from_counts,
)
from sharpeyes.evaluation.report import render
from sharpeyes.evaluation.suite import CountingCase

# Two dense images on which two MCNN input scales disagree (the numbers are MCNN-A's on IMG_1 / IMG_4).
DENSE = [
    CountRow("IMG_1", 1546, {"half": 285, "full": 1027}),
    CountRow("IMG_4", 413, {"half": 427, "full": 348}),
]


def test_ties_go_to_the_first_listed_candidate() -> None:
    rows = [CountRow("a", 10, {"cheap": 9, "dear": 11})]
    assert choose(rows, ["cheap", "dear"]) == "cheap"
    assert choose(rows, ["dear", "cheap"]) == "dear"


def test_a_choice_that_each_image_contradicts_costs_more_held_out() -> None:
    report = choice_loo(DENSE, ["half", "full"])
    assert report["in_sample_choice"] == "full"
    assert report["in_sample_mae"] == pytest.approx((519 + 65) / 2)
    # holding out IMG_1 leaves IMG_4, which prefers half scale: IMG_1 is then counted 285 for 1,546
    assert report["folds"][0]["chosen"] == "half" and report["folds"][0]["error"] == 1261
    assert report["loo_mae"] == pytest.approx((1261 + 65) / 2)
    assert report["loo_mae"] > report["in_sample_mae"]


def test_a_gain_fitted_on_the_other_images_is_scored_on_the_held_out_one() -> None:
    rows = [CountRow("a", 100, {"m": 50}), CountRow("b", 300, {"m": 150}), CountRow("c", 40, {"m": 40})]
    report = gain_loo(rows, "m")
    assert report["raw_mae"] == pytest.approx(200 / 3, abs=0.01)
    # holding out c: gain 400/200 = 2 → 80 for 40
    assert report["folds"][2]["gain"] == 2.0 and report["folds"][2]["error"] == 40.0
    assert report["in_sample_gain"] == pytest.approx(440 / 240, abs=1e-3)


def test_report_rows_become_per_image_choices() -> None:
    per_image = [
        {"backend": b, "set": s, "media": m, "t": None, "true": t, "estimate": e}
        for b, s, m, t, e in [
            ("half", "crowd_dense", "IMG_1", 1546, 285),
            ("full", "crowd_dense", "IMG_1", 1546, 1027),
            ("half", "crowd_dense", "IMG_4", 413, 427),
            ("full", "crowd_dense", "IMG_4", 413, 348),
            ("full", "people_images", "bus", 4, 115),
        ]
    ]
    assert len(rows_from_counts(per_image, ["half", "full"])) == 2  # bus has no 'half' count
    case = CountingCase.model_validate(
        {
            "backends": ["half", "full"],
            "labels": ["x.yaml"],
            "choose": {"scale": {"backends": ["half", "full"], "sets": ["crowd_dense"]}},
            "calibrate": {"full": ["crowd_dense"]},
        }
    )
    out = choice_validation(case, per_image)
    assert out["choices"]["scale"]["loo_mae"] == pytest.approx(663)
    assert out["gains"]["full"]["n"] == 2
    text = render({"suite": "s", "commit": "c", "pace": "fast", "wall_s": 1, "events": {}, "counting": {},
                   "speed": {}, "checks": [], "choice_cv": out})  # fmt: skip
    assert "| scale | 2 | full | 292 | 663 | full ×1, half ×1 |" in text
    assert "| full | 2 | 292 |" in text  # the gain table: raw MAE beside the fitted gain's


def test_a_choice_naming_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"not among counting\.backends"):
        CountingCase.model_validate(
            {"backends": ["a", "b"], "labels": ["x.yaml"], "choose": {"c": {"backends": ["a", "zzz"]}}}
        )


def test_the_crowd_counting_suite_declares_valid_detectors_and_choices(tmp_path) -> None:
    from sharpeyes.evaluation.suite import LoadedSuite

    suite = LoadedSuite(
        Path(__file__).resolve().parents[2] / "eval" / "crowd_counting.yaml",
        {"SHARPEYES_ASSETS": str(tmp_path), "SHARPEYES_CSRNET": str(tmp_path / "csrnet.npz")},
    ).suite
    assert suite.counting is not None
    assert set(suite.counting.choose) == {"tile_grid", "mcnn_scale", "dense_model", "fusion"}
    assert suite.detectors["fused_csrnet"].boxes.kind == "tiled"  # type: ignore[union-attr]
