"""CI gate: the fast evaluation subset runs the real pipeline and every committed limit holds.

Limits live in eval/fast.yaml; lowering one is a reviewed change, like any code change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharpeyes.cli import main
from sharpeyes.evaluation.evaluate import evaluate

EVAL = Path(__file__).resolve().parents[2] / "eval"


@pytest.fixture(scope="module")
def fast_report(assets: Path) -> dict:
    return evaluate(EVAL / "fast.yaml", env={"SHARPEYES_ASSETS": str(assets)})


def test_fast_suite_meets_its_floors(fast_report: dict) -> None:
    checks = fast_report["checks"]
    assert len(checks) >= 10, "the fast suite must keep its committed limits"
    failed = [f"{c['metric']} = {c['value']} (needs {c['op']} {c['limit']})" for c in checks if not c["ok"]]
    assert not failed, "quality regression:\n" + "\n".join(failed)


def test_fast_suite_covers_every_kind_and_stage(fast_report: dict) -> None:
    assert {k for k, s in fast_report["events"].items() if s["events"]} == {"fire", "smoke", "crowd"}
    assert fast_report["events"]["fire"]["negative_s"] > 30  # negatives are part of the gate
    assert {"decode", "motion_gate", "detect:fire", "detect:people", "rules"} <= set(fast_report["speed"])


def test_cli_fails_when_a_floor_is_not_met(tmp_path: Path, assets: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SHARPEYES_ASSETS", str(assets))
    labels = tmp_path / "neg.yaml"
    labels.write_text('media: "synthetic:red_clothing"\nevents: [{kind: fire, start: 0, end: 2}]\n')
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: t\nclips: [{name: neg, labels: neg.yaml, end_s: 4, camera: {rules: [{kind: fire}]}}]\n"
        "floors: {events.fire.recall: 1.0}\nceilings: {events.fire.false_alarms: 0}\n"
    )
    out = tmp_path / "r.json"
    assert main(["eval", str(suite), "--json", str(out)]) == 1  # red coats are not a fire: recall 0
    report = json.loads(out.read_text())
    assert report["events"]["fire"]["missed"] == ["neg@0s"]
    assert "FAIL events.fire.recall" in capsys.readouterr().out


def test_cli_reports_a_bad_suite(tmp_path: Path, capsys) -> None:
    suite = tmp_path / "bad.yaml"
    suite.write_text("name: t\nclips: [{labels: nope.yaml}]\n")
    assert main(["eval", str(suite)]) == 2
    assert "nope.yaml" in capsys.readouterr().err
