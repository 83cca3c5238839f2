"""Plain-text tables of an evaluation report (the JSON carries everything; this is for people)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (pastes straight into docs/ACCURACY.md)."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|",
    ]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def detectors_line(detectors: dict[str, Any]) -> str:
    """Which model produced these figures: the one under test first, with its weights and classes."""
    lines = []
    for name, d in sorted(detectors.items(), key=lambda item: not item[1].get("under_test")):
        what = f"{d['label']} ({d['kind']}{', ' + d['model'] if d.get('model') else ''})"
        classes = ", ".join(d["classes"]) or "–"
        serves = f" → {', '.join(d['serves'])} rules (under test)" if d.get("under_test") else ""
        lines.append(f"  {name}: {what}; classes {classes}{serves}")
    return "detectors:\n" + "\n".join(lines)


def render(report: dict[str, Any]) -> str:
    parts = [f"suite {report['suite']} @ {report['commit']} ({report['pace']} pace, {report['wall_s']} s)"]
    if report.get("detectors"):
        parts.append(detectors_line(report["detectors"]))
    if report["events"]:
        rows = [
            [
                kind,
                s["events"],
                s["detected"],
                s["recall"],
                s["alerts"],
                s["precision"],
                s["false_alarms"],
                round(s["negative_s"] / 60, 1),
                s["false_alarms_per_h"],
                s["ttfa_median_s"],
                s["ttfa_worst_s"],
                s["ttfc_median_s"],
                s["ttfc_worst_s"],
            ]
            for kind, s in report["events"].items()
        ]
        parts.append(
            table(
                [
                    "kind",
                    "events",
                    "detected",
                    "recall",
                    "alerts",
                    "precision",
                    "false alarms",
                    "negative min",
                    "FA/h",
                    "TTFA med s",
                    "TTFA worst s",
                    "TTFC med s",
                    "TTFC worst s",
                ],
                rows,
            )
        )
    if report["counting"]:
        rows = [
            [backend, name, m["n"], m["mae"], m["rmse"], m["mre"], m.get("bias")]
            for backend, sets in report["counting"].items()
            for name, m in sets.items()
        ]
        parts.append(table(["backend", "set", "n", "MAE", "RMSE", "mean rel. err", "bias"], rows))
    if report.get("switch_cv"):
        rows = [
            [
                backend,
                v["n"],
                v["boxes_mae"],
                v["density_mae"],
                v.get("configured_threshold"),
                v.get("configured_mae"),
                v["in_sample_threshold"],
                v["in_sample_mae"],
                v["loo_mae"],
                f"{v['fold_thresholds'][0]:g}–{v['fold_thresholds'][1]:g}",
            ]
            for backend, v in report["switch_cv"].items()
        ]
        headers = ["fusion", "n", "boxes MAE", "density MAE", "switch /Mpx", "MAE", "in-sample switch"]
        headers += ["in-sample MAE", "LOO MAE", "LOO switches"]
        parts.append(table(headers, rows))
    choices = (report.get("choice_cv") or {}).get("choices") or {}
    if choices:
        rows = [
            [name, v["n"], v["in_sample_choice"], v["in_sample_mae"], v["loo_mae"], _counts(v["loo_choices"])]
            for name, v in choices.items()
        ]
        headers = ["choice", "n", "in-sample pick", "in-sample MAE", "LOO MAE", "LOO picks"]
        parts.append(table(headers, rows))
    gains = (report.get("choice_cv") or {}).get("gains") or {}
    if gains:
        rows = [
            [name, v["n"], v["raw_mae"], v["in_sample_gain"], v["in_sample_mae"], v["loo_mae"]]
            for name, v in gains.items()
        ]
        parts.append(table(["gain for", "n", "raw MAE", "in-sample gain", "in-sample MAE", "LOO MAE"], rows))
    if report["speed"]:
        rows = [
            [stage, s["frames"], s["mean_ms"], s["p50_ms"], s["p95_ms"]]
            for stage, s in report["speed"].items()
        ]
        parts.append(table(["stage", "frames", "mean ms", "p50 ms", "p95 ms"], rows))
    failed = [c for c in report["checks"] if not c["ok"]]
    parts.append(
        f"limits: {len(report['checks']) - len(failed)}/{len(report['checks'])} met"
        + "".join(
            f"\n  FAIL {c['metric']} = {_fmt(c['value'])} (needs {c['op']} {c['limit']})" for c in failed
        )
    )
    return "\n\n".join(parts)


def _counts(picks: dict[str, int]) -> str:
    return ", ".join(f"{name} ×{n}" for name, n in sorted(picks.items()))
