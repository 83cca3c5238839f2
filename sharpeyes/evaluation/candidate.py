"""The model under test: `sharpeyes eval SUITE --weights FILE` or `--detector FILE.yaml`.

A district measures its own fire/smoke weights (from `sharpeyes train`, or a vendor's ONNX) on its own
labelled footage, or on ours, without editing the suite: the candidate is declared as one more detector
and put in front of every fire and smoke rule of every clip. The report then names it, so a figure is
never read against the wrong model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args

import yaml

from detectors.base import Detector
from detectors.config import parse_detector_config
from detectors.model_fit import check_serves
from sharpeyes.evaluation.suite import LoadedSuite, SuiteError
from video.config import RuleKind

NAME = "candidate"
DEFAULT_KINDS: tuple[RuleKind, ...] = ("fire", "smoke")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A detector config (as in a `detectors:` entry) and the rule kinds it is to serve."""

    config: Mapping[str, Any]
    kinds: tuple[RuleKind, ...] = DEFAULT_KINDS
    name: str = NAME


def parse_kinds(text: str) -> tuple[RuleKind, ...]:
    known = get_args(RuleKind)
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in known]
    if unknown or not kinds:
        raise ValueError(f"--for {text!r}: rule kinds from {', '.join(known)}")
    return cast(tuple[RuleKind, ...], kinds)


def parse_class_map(text: str) -> dict[str, str]:
    """`Flame=fire,Smoke=smoke` (model class = our class); a bare name keeps its own name."""
    mapping: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        source, sep, target = item.partition("=")
        if not source.strip() or (sep and not target.strip()):
            raise ValueError(f"--classes {text!r}: want MODEL_CLASS=OUR_CLASS pairs, e.g. Flame=fire")
        mapping[source.strip()] = (target or source).strip()
    return mapping


def _size(text: str) -> list[int]:
    sides = [int(v) for v in text.replace("x", ",").split(",") if v.strip()]
    if len(sides) not in (1, 2):
        raise ValueError(f"--input-size {text!r}: one side (640) or height,width (384,640)")
    return sides * 2 if len(sides) == 1 else sides


def from_weights(
    path: str,
    *,
    classes: str | None = None,
    class_names: str | None = None,
    input_size: str | None = None,
    conf: float | None = None,
    kinds: tuple[RuleKind, ...] = DEFAULT_KINDS,
) -> Candidate:
    """A `.onnx` runs in our `onnx` backend; anything else (`.pt`, an OpenVINO folder) in `ultralytics`."""
    weights = Path(path).expanduser().absolute()
    onnx = weights.suffix.lower() == ".onnx"
    config: dict[str, Any] = {"kind": "onnx" if onnx else "ultralytics", "model": str(weights)}
    if classes:
        config["classes"] = parse_class_map(classes)
    if class_names:
        if not onnx:
            raise ValueError("--class-names is for ONNX files; ultralytics models carry their names")
        config["class_names"] = [n.strip() for n in class_names.split(",") if n.strip()]
    if input_size:
        config["input_size" if onnx else "imgsz"] = _size(input_size)
    if conf is not None:
        config["conf"] = conf
    return Candidate(config, kinds)


def from_file(path: str, kinds: tuple[RuleKind, ...] = DEFAULT_KINDS) -> Candidate:
    """A YAML file holding one detector: `sharpeyes train`'s `detector.yaml` ({detectors: {name: …}})
    or a bare entry ({kind: onnx, model: …, classes: …})."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SuiteError(f"--detector {path}: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("detectors"), dict):
        entries = data["detectors"]
        if len(entries) != 1:
            raise SuiteError(f"--detector {path}: want one detector, found {', '.join(entries) or 'none'}")
        data = next(iter(entries.values()))
    if not isinstance(data, dict) or "kind" not in data:
        raise SuiteError(f"--detector {path}: want a detector entry such as {{kind: onnx, model: …}}")
    return Candidate(data, kinds)


def apply(loaded: LoadedSuite, candidate: Candidate) -> None:
    """Declare the candidate in the suite and route the chosen rule kinds of every clip to it."""
    suite = loaded.suite
    try:
        config = parse_detector_config(dict(candidate.config))
    except ValueError as exc:
        raise SuiteError(f"detector under test: {exc}") from exc
    routes = dict.fromkeys(candidate.kinds, candidate.name)
    clips = [
        case.model_copy(
            update={"camera": {**case.camera, "detectors": {**case.camera.get("detectors", {}), **routes}}}
        )
        for case in suite.clips
    ]
    video = suite.video.model_copy(update={"default_detectors": {**suite.video.default_detectors, **routes}})
    detectors = {**suite.detectors, candidate.name: config}
    loaded.suite = suite.model_copy(update={"detectors": detectors, "video": video, "clips": clips})


def describe(
    candidate: Candidate | None, detectors: Mapping[str, Detector], configs: Mapping[str, Any]
) -> dict[str, Any]:
    """Each built detector's kind, label, weights and classes; the candidate's rule kinds. Raises
    WeightsError when the candidate's classes serve none of its rule kinds."""
    out: dict[str, Any] = {}
    for name, detector in sorted(detectors.items()):
        config = configs[name]
        model = getattr(config, "model", None)
        model = getattr(model, "model", model)  # fire_fusion: its confirming model's weights
        entry: dict[str, Any] = {
            "kind": config.kind,
            "label": detector.name,
            "model": str(model) if isinstance(model, Path) else None,
            "classes": list(detector.class_names),
        }
        if candidate is not None and name == candidate.name:
            check_serves(name, detector.class_names, candidate.kinds)
            entry["under_test"] = True
            entry["serves"] = list(candidate.kinds)
        out[name] = entry
    return out


def check_needed(names: Sequence[str], candidate: Candidate | None) -> None:
    """SuiteError when the suite has no rule the candidate would serve (it would never be built)."""
    if candidate is not None and candidate.name not in names:
        raise SuiteError(
            f"the suite has no {' or '.join(candidate.kinds)} rule for the detector under test to serve"
        )
