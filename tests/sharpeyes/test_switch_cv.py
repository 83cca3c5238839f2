"""Leave-one-out validation of the crowd-fusion switch: the threshold is chosen without the held-out image,
so an image near the switch that the training folds cannot place shows up as a held-out error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from detectors.crowd_fusion import FusionSwitch
from sharpeyes.evaluation.evaluate import switch_validation
from sharpeyes.evaluation.report import render
from sharpeyes.evaluation.switch_cv import SwitchSample, choose_threshold, leave_one_out

# (true, boxes, density, people per Mpx): sparse scenes boxes get right, two dense crowds only density gets.
SPARSE = [
    SwitchSample(4, 3, 115, 132, "bus"),
    SwitchSample(9, 7, 11, 46, "cw"),
    SwitchSample(2, 2, 10, 10, "z"),
]
DENSE = [SwitchSample(1546, 6, 1027, 1306, "IMG_1"), SwitchSample(413, 10, 348, 456, "IMG_4")]


def test_well_separated_scenes_validate_as_well_as_in_sample() -> None:
    report = leave_one_out(SPARSE + DENSE, configured=250)
    # in sample: split between 132 and 456 (geometric midpoint 245): boxes errors 1+2+0, density 519+65
    assert report["in_sample_threshold"] == pytest.approx(245.3, abs=0.1)
    assert report["in_sample_mae"] == pytest.approx((1 + 2 + 0 + 519 + 65) / 5)
    assert report["configured_mae"] == report["in_sample_mae"]
    # holding IMG_4 out leaves 1306 as the only dense example: the switch moves to sqrt(132·1306) = 415,
    # still below 456; holding bus.jpg out moves it down to sqrt(46·456) = 145, still above 132. Every fold
    # keeps its in-sample answer.
    assert report["loo_mae"] == report["in_sample_mae"]
    assert report["fold_thresholds"] == [pytest.approx(144.8, abs=0.1), pytest.approx(415.2, abs=0.1)]
    assert report["boxes_mae"] == pytest.approx((1 + 2 + 0 + 1540 + 403) / 5, abs=0.01)
    assert report["density_mae"] == pytest.approx((111 + 2 + 8 + 519 + 65) / 5, abs=0.01)


def test_a_dense_scene_near_the_sparse_ones_is_lost_only_when_held_out() -> None:
    crowded_street = SwitchSample(12, 11, 40, 180, "street")  # sparse, but MCNN rates it 180/Mpx
    samples = [*SPARSE, crowded_street, *DENSE]
    report = leave_one_out(samples)
    fold = {f["held_out"]: f for f in report["folds"]}
    assert fold["IMG_4"]["threshold"] == pytest.approx(484.9, abs=0.1)  # sqrt(180·1306) > 456
    assert fold["IMG_4"]["estimate"] == 10 and fold["IMG_4"]["error"] == 403
    assert report["in_sample_mae"] == pytest.approx((1 + 2 + 0 + 1 + 519 + 65) / 6, abs=0.01)
    assert report["loo_mae"] == pytest.approx(report["in_sample_mae"] + (403 - 65) / 6, abs=0.01)


def test_ties_go_to_the_widest_gap_and_degenerate_inputs_are_refused() -> None:
    # the middle scene is 2 off with either backend, so a switch below or above it is equally good: the
    # wider gap (50 → 1000 rather than 10 → 50) wins.
    tie = [SwitchSample(5, 5, 60, 10), SwitchSample(10, 8, 12, 50), SwitchSample(500, 9, 480, 1000)]
    assert choose_threshold(tie) == pytest.approx((50 * 1000) ** 0.5)
    assert choose_threshold(tie[:1] + tie[2:]) == pytest.approx((10 * 1000) ** 0.5)
    with pytest.raises(ValueError, match="at least 2"):
        leave_one_out(SPARSE[:1])
    with pytest.raises(ValueError, match="no samples"):
        choose_threshold([])


def test_eval_report_carries_and_prints_the_validation() -> None:
    rows = [
        {"backend": b, "media": s.name, "t": None, "true": s.true, "estimate": s.fused(250)}
        | ({"boxes": s.boxes, "density": s.density, "per_mpx": s.per_mpx} if b == "fused" else {})
        for b in ("fused", "people")
        for s in SPARSE + DENSE
    ]
    detectors = {"fused": SimpleNamespace(switch=FusionSwitch(250, 150)), "people": SimpleNamespace()}
    cv = switch_validation(detectors, rows)  # type: ignore[arg-type]
    assert list(cv) == ["fused"] and cv["fused"]["n"] == 5 and cv["fused"]["configured_threshold"] == 250
    text = render({"suite": "s", "commit": "c", "pace": "fast", "wall_s": 1, "events": {}, "counting": {},
                   "speed": {}, "checks": [], "switch_cv": cv})  # fmt: skip
    assert "| fusion | n | boxes MAE | density MAE | switch /Mpx | MAE |" in text
    assert f"| fused | 5 | 389 | 141 | 250 | {cv['fused']['configured_mae']:.3g} |" in text
