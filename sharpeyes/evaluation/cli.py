"""`sharpeyes eval SUITE.yaml [--weights FILE | --detector FILE.yaml]`: argument parsing only; heavy imports
stay lazy. Errors about weights are printed in the user's language (`--lang`, else SHARPEYES_LANG/LANG)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sharpeyes.evaluation.candidate import Candidate


def _candidate(args: argparse.Namespace) -> Candidate | None:
    from sharpeyes.evaluation.candidate import from_file, from_weights, parse_kinds

    kinds = parse_kinds(args.serves)
    if args.detector:
        return from_file(args.detector, kinds)
    if args.weights:
        return from_weights(
            args.weights,
            classes=args.classes,
            class_names=args.class_names,
            input_size=args.input_size,
            conf=args.conf,
            kinds=kinds,
        )
    if args.classes or args.class_names or args.input_size or args.conf is not None:
        raise ValueError("--classes, --class-names, --input-size and --conf go with --weights")
    return None


def cmd_eval(args: argparse.Namespace) -> int:
    from detectors.model_fit import describe, language_from_env
    from sharpeyes.evaluation.evaluate import evaluate
    from sharpeyes.evaluation.report import render
    from sharpeyes.evaluation.suite import SuiteError

    lang = args.lang or language_from_env(os.environ)
    try:
        report = evaluate(args.suite, pace=args.pace, candidate=_candidate(args))
    except (SuiteError, FileNotFoundError, ValueError) as exc:
        print(f"eval: {describe(exc, lang)}", file=sys.stderr)
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
    model = ev.add_argument_group(
        "model under test", "your own weights in front of the suite's fire and smoke rules, on every clip"
    )
    which = model.add_mutually_exclusive_group()
    which.add_argument("--weights", help=".onnx (onnx backend) or .pt / OpenVINO folder (ultralytics)")
    which.add_argument(
        "--detector", help="YAML with one detector entry, e.g. `sharpeyes train`'s OUT/detector.yaml"
    )
    model.add_argument("--classes", help="class map MODEL=OURS,…, e.g. Flame=fire,Smoke=smoke")
    model.add_argument("--class-names", help="ONNX without names in its metadata: its classes in id order")
    model.add_argument("--input-size", help="640, or height,width such as 384,640")
    model.add_argument("--conf", type=float, help="lowest box score kept (default 0.25)")
    model.add_argument("--for", dest="serves", default="fire,smoke", help="rule kinds it serves")
    ev.add_argument("--lang", choices=["en", "zh-CN"], help="language of error messages")
    ev.set_defaults(func=cmd_eval)
