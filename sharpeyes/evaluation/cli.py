"""`sharpeyes eval SUITE.yaml`: argument parsing only; heavy imports stay lazy."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_eval(args: argparse.Namespace) -> int:
    from sharpeyes.evaluation.evaluate import evaluate
    from sharpeyes.evaluation.report import render
    from sharpeyes.evaluation.suite import SuiteError

    try:
        report = evaluate(args.suite, pace=args.pace)
    except (SuiteError, FileNotFoundError, ValueError) as exc:
        print(f"eval: {exc}", file=sys.stderr)
        return 2
    print(render(report))
    out = Path(args.json) if args.json else None
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nreport: {out}")
    return 0 if all(c["ok"] for c in report["checks"]) else 1


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ev = sub.add_parser("eval", help="run the detection pipeline over labelled media and score it")
    ev.add_argument("suite", help="suite YAML (e.g. eval/full.yaml)")
    ev.add_argument("--pace", choices=["fast", "live"], help="override the suite's pacing")
    ev.add_argument("--json", help="write the full report here")
    ev.set_defaults(func=cmd_eval)
