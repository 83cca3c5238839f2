"""Suite and label files: what to run (clips as cameras, images for counting) and what is true.

A suite reuses the service's own config models (cameras, detectors, video defaults), so an evaluated
camera is configured exactly like a production one. Labels are separate small YAML files, paths relative
to the suite; media paths are relative to the assets folder (``$SHARPEYES_ASSETS``, else
``../shared/assets``), so nothing is copied into the repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from detectors.config import DetectorConfig
from ingest.config import Strict
from sharpeyes.evaluation.tamper_effects import Effect
from sharpeyes.settings import ConfigProblem, _interpolate
from video.config import VideoConfig

EventKind = Literal["fire", "smoke", "crowd", "gathering", "camera_tamper"]
_DEFAULT_KINDS: tuple[EventKind, ...] = ("fire", "smoke", "crowd", "camera_tamper")
SYNTHETIC = "synthetic:"


class Interval(Strict):
    """A labelled stretch of a clip, in seconds from the clip's first frame; ``end: null`` = to the end."""

    kind: EventKind
    start: float = Field(ge=0)
    end: float | None = Field(None, ge=0)
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"interval ends ({self.end}) before it starts ({self.start})")
        return self


class ClipLabels(Strict):
    """Ground truth for one clip. Time outside ``events`` and ``dont_care`` of a kind is negative for it."""

    media: str = Field(description="relative to the assets folder, or synthetic:NAME")
    events: list[Interval] = Field(default_factory=list)
    dont_care: list[Interval] = Field(
        default_factory=list, description="ambiguous stretches: alerts there count neither way"
    )
    note: str = ""


class CountLabel(Strict):
    """A true people count for an image, or for the frame of a clip at ``t`` seconds."""

    media: str
    count: float = Field(ge=0)
    t: float | None = Field(None, ge=0, description="seconds into a clip; None for a still image")
    source: str = Field("", description="where the count comes from (annotation file, counted by eye)")


class CountLabels(Strict):
    items: list[CountLabel] = Field(min_length=1)
    note: str = ""


class ClipCase(Strict):
    """One clip replayed as a camera. ``camera`` holds the camera's config minus id, url and grid."""

    labels: str = Field(description="label file, relative to the suite")
    name: str | None = None
    camera: dict[str, Any] = Field(default_factory=dict)
    start_s: float = Field(0.0, ge=0, description="evaluate from here (a fast subset)")
    end_s: float | None = Field(None, gt=0, description="…to here; None = end of clip")
    crop: tuple[int, int, int, int] | None = Field(
        None, description="x0, y0, x1, y1 in source pixels: the camera sees only this region (a closer view)"
    )
    effect: Effect | None = Field(
        None, description="generated tampering (a camera_tamper event by construction) or a look-alike"
    )

    @model_validator(mode="after")
    def _crop_ordered(self) -> ClipCase:
        if self.crop is not None:
            x0, y0, x1, y1 = self.crop
            if not 0 <= x0 < x1 or not 0 <= y0 < y1:
                raise ValueError(
                    f"crop {self.crop} must be x0, y0, x1, y1 with 0 <= x0 < x1 and 0 <= y0 < y1"
                )
        return self


class ChoiceCase(Strict):
    """A choice among counting backends (e.g. tile grids, MCNN input scales), validated leave-one-out."""

    backends: list[str] = Field(min_length=2, description="candidates, cheapest first (ties go to it)")
    sets: list[str] | None = Field(None, description="label sets (file stems) to choose on; None = all")


class CountingCase(Strict):
    """Every label set is counted by every backend (a named detector)."""

    backends: list[str] = Field(min_length=1)
    labels: list[str] = Field(min_length=1)
    choose: dict[str, ChoiceCase] = Field(
        default_factory=dict, description="named choices among the backends, validated leave-one-out"
    )
    calibrate: dict[str, list[str]] = Field(
        default_factory=dict,
        description="backend → label sets to fit a count gain on ([] = all), validated leave-one-out",
    )

    @model_validator(mode="after")
    def _known(self) -> CountingCase:
        named = [*(b for case in self.choose.values() for b in case.backends), *self.calibrate]
        unknown = sorted(set(named) - set(self.backends))
        if unknown:
            raise ValueError(f"choose/calibrate name {unknown}, which are not among counting.backends")
        return self


class Match(Strict):
    """An alert belongs to an event when it falls within [start - early_s, end + late_s]."""

    early_s: float = Field(1.0, ge=0)
    late_s: float = Field(5.0, ge=0)


class Suite(Strict):
    name: str
    pace: Literal["fast", "live"] = "fast"
    assets: str | None = Field(None, description="default: $SHARPEYES_ASSETS, else ../shared/assets")
    detectors: dict[str, DetectorConfig] = Field(default_factory=dict)
    video: VideoConfig = VideoConfig()
    match: Match = Match()
    event_kinds: list[EventKind] = Field(default_factory=lambda: list(_DEFAULT_KINDS))
    clips: list[ClipCase] = Field(default_factory=list)
    counting: CountingCase | None = None
    floors: dict[str, float] = Field(default_factory=dict, description="metric path → minimum")
    ceilings: dict[str, float] = Field(default_factory=dict, description="metric path → maximum")


class SuiteError(ValueError):
    """A suite or label file that cannot be used; the message names the file."""


def assets_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("SHARPEYES_ASSETS") or "../shared/assets")


def _read_yaml(path: Path, env: Mapping[str, str]) -> Any:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SuiteError(f"{path}: {exc}") from exc
    problems: list[ConfigProblem] = []
    data = _interpolate(data, (), env, problems)
    if problems:
        raise SuiteError(f"{path}: " + "; ".join(p.message for p in problems))
    return data


def _model(cls: type[Strict], data: Any, path: Path) -> Any:
    try:
        return cls.model_validate(data)
    except ValueError as exc:
        raise SuiteError(f"{path}: {exc}") from exc


class LoadedSuite:
    """A validated suite with its label files read and its assets folder resolved."""

    def __init__(self, path: str | Path, env: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        base_env = dict(os.environ if env is None else env)
        try:
            raw = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SuiteError(f"{self.path}: {exc}") from exc
        given = raw.get("assets") if isinstance(raw, dict) else None
        assets = Path(os.path.expandvars(given)) if given else assets_dir(base_env)
        self.env = {**base_env, "SHARPEYES_ASSETS": str(assets)}
        self.suite: Suite = _model(Suite, _read_yaml(self.path, self.env), self.path)
        self.assets = assets
        here = self.path.parent
        self.clip_labels = [
            _model(ClipLabels, _read_yaml(here / c.labels, self.env), here / c.labels)
            for c in self.suite.clips
        ]
        counting = self.suite.counting
        self.count_labels: dict[str, CountLabels] = {}
        for rel in counting.labels if counting else []:
            self.count_labels[Path(rel).stem] = _model(
                CountLabels, _read_yaml(here / rel, self.env), here / rel
            )

    def media(self, rel: str) -> Path | str:
        """A path under the assets folder (checked), or the synthetic:NAME string as is."""
        if rel.startswith(SYNTHETIC):
            return rel
        path = self.assets / rel
        if not path.is_file():
            raise SuiteError(f"missing media {path} (set SHARPEYES_ASSETS to the shared assets folder)")
        return path
