"""Config for the video path: cameras, named detectors, and the defaults that tie rules to detectors.

A camera's rules are served by detectors named in the top-level ``detectors:`` map. Without a ``detector:``
on the camera, each rule kind uses ``video.default_detectors`` (fire/smoke → ``fire``, crowd/gathering →
``people``); the names ``fire`` (classical_fire, no weights) and ``people`` (YOLOX-Nano from the shared
assets) work without being declared, so a minimal camera needs only an id, a URL, a grid and rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field

from alarms.rules.config import CrowdRuleConfig, RuleConfig
from detectors.config import (
    BatcherConfig,
    ClassicalFireConfig,
    DetectorConfig,
    IgnoreConfig,
    MotionGateConfig,
    OnnxConfig,
    ZoneConfig,
)
from detectors.tamper_config import TamperConfig
from ingest.config import Location, StreamConfig, Strict

RuleKind = Literal["fire", "smoke", "crowd", "gathering"]
Loc = tuple[str | int, ...]
_NAME = r"^[A-Za-z0-9_:-][A-Za-z0-9_.:-]*$"  # no leading dot: ids name snapshot folders


def builtin_detectors(env: Mapping[str, str]) -> dict[str, DetectorConfig]:
    """Detectors usable without declaring them. Weights come from ``$SHARPEYES_ASSETS`` (else
    ``../shared/assets``); a missing file is reported when the detector is built, not here."""
    assets = Path(env.get("SHARPEYES_ASSETS") or "../shared/assets")
    return {
        "fire": ClassicalFireConfig(name="fire"),
        "people": OnnxConfig(
            name="people",
            model=assets / "weights" / "yolox_nano.onnx",
            input_size=(256, 416),  # same scale as 416² for 16:9 frames, ~40 % less compute
            threads=1,  # less CPU per frame than 2 when many cameras share two cores
            classes={"person": "person"},
        ),
    }


class CameraConfig(StreamConfig):
    """One camera: its stream (owned by ingest), its place and its rules. ``url`` may carry a password
    through ``${VAR}``; it is never logged or shown unredacted."""

    id: str = Field(min_length=1, max_length=64, pattern=_NAME)
    name: str = ""
    grid: str
    location: Location | None = None
    enabled: bool = True
    detector: str | None = Field(None, description="one named detector for all rules of this camera")
    detectors: dict[RuleKind, str] = Field(
        default_factory=dict,
        description="rule kind → named detector for this camera, e.g. {fire: fire_smoke, smoke: fire_smoke}; "
        "wins over `detector` and video.default_detectors: one camera's fire model, not its crowd one",
    )
    detect_fps: float = Field(5.0, gt=0, le=60, description="frames per second offered to the detectors")
    rules: list[RuleConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)
    ignore: IgnoreConfig = IgnoreConfig()
    motion: MotionGateConfig | None = Field(None, description="overrides video.motion for this camera")
    tamper: TamperConfig | None = Field(None, description="overrides video.tamper for this camera")


def _default_detectors() -> dict[RuleKind, str]:
    return {"fire": "fire", "smoke": "fire", "crowd": "people", "gathering": "people"}


class VideoConfig(Strict):
    """Defaults shared by every camera."""

    default_detectors: dict[RuleKind, str] = Field(
        default_factory=_default_detectors,
        description="rule kind → detector name, for cameras without `detector`",
    )
    motion: MotionGateConfig = MotionGateConfig()
    batcher: BatcherConfig = BatcherConfig()
    tamper: TamperConfig = TamperConfig()  # camera tampering checks, on by default (video/tamper_watch.py)
    snapshot_quality: int = Field(85, ge=10, le=100)
    snapshot_max_width: int = Field(1280, ge=160, le=7680)
    rules_tick_s: float = Field(1.0, gt=0, description="how often rules see time pass without a frame")
    detector_hang_s: float = Field(
        30.0, gt=0, description="a model call running longer than this is hung: its detector is replaced"
    )
    detector_restart_every_s: float = Field(
        60.0, ge=0, description="at most one replacement of a hung detector per this many seconds"
    )


def detector_for(camera: CameraConfig, kind: RuleKind, video: VideoConfig) -> str:
    """The detector name that serves a rule of this kind at this camera."""
    return camera.detectors.get(kind) or camera.detector or video.default_detectors.get(kind, kind)


def detector_configs(
    declared: Mapping[str, DetectorConfig], env: Mapping[str, str]
) -> dict[str, DetectorConfig]:
    """Declared detectors, plus the built-in ones not overridden."""
    return {**builtin_detectors(env), **declared}


def video_problems(
    cameras: list[CameraConfig],
    declared: Mapping[str, DetectorConfig],
    video: VideoConfig,
    grid_ids: set[str],
    env: Mapping[str, str],
) -> list[tuple[Loc, str]]:
    """Cross references a single model cannot check: ids, grids, detector names, rule zones."""
    known = detector_configs(declared, env)
    problems: list[tuple[Loc, str]] = [
        (("detectors", name), f"bad detector name {name!r} (letters, digits, _.:-)")
        for name in declared
        if not name or len(name) > 64 or not all(c.isalnum() or c in "_.:-" for c in name)
    ]
    seen: set[str] = set()
    for i, cam in enumerate(cameras):
        if cam.id in seen:
            problems.append((("cameras", i, "id"), f"duplicate camera id {cam.id!r}"))
        seen.add(cam.id)
        problems += _camera_problems(("cameras", i), cam, known, video, grid_ids)
    return sorted(set(problems), key=lambda p: [str(x) for x in p[0]])


def _camera_problems(
    at: Loc, cam: CameraConfig, known: Mapping[str, DetectorConfig], video: VideoConfig, grid_ids: set[str]
) -> list[tuple[Loc, str]]:
    """One camera's grid, detector, zones and rules (`at`: the camera's place in the config)."""
    problems: list[tuple[Loc, str]] = []
    if cam.grid not in grid_ids:
        problems.append(((*at, "grid"), f"unknown grid {cam.grid!r}"))
    if cam.detector is not None and cam.detector not in known:
        problems.append(((*at, "detector"), f"unknown detector {cam.detector!r}"))
    problems += [
        ((*at, "detectors", kind), f"unknown detector {name!r}")
        for kind, name in cam.detectors.items()
        if name not in known
    ]
    areas: dict[str, float | None] = {}  # zone name → its area in m², first one wins
    for z, zone in enumerate(cam.zones):
        if zone.name in areas:
            problems.append(((*at, "zones", z, "name"), f"duplicate zone {zone.name!r}"))
        areas.setdefault(zone.name, zone.area_m2)
    rule_ids: set[str] = set()
    for r, rule in enumerate(cam.rules):
        if rule.rule_id in rule_ids:
            problems.append(((*at, "rules", r), f"duplicate rule id {rule.rule_id!r}: give one a `name`"))
        rule_ids.add(rule.rule_id)
        problems += _rule_zone_problems((*at, "rules", r), rule, areas)
        name = detector_for(cam, rule.kind, video)
        if cam.detector is None and rule.kind not in cam.detectors and name not in known:
            problems.append(((*at, "rules", r), f"unknown detector {name!r} (video.default_detectors)"))
    return problems


def _rule_zone_problems(
    at: Loc, rule: RuleConfig, areas: Mapping[str, float | None]
) -> list[tuple[Loc, str]]:
    """A rule's zone must exist, and a per-m² crowd threshold needs an area from the zone or the rule."""
    if rule.zone is None:
        return []
    if rule.zone not in areas:
        return [((*at, "zone"), f"unknown zone {rule.zone!r}")]
    if not isinstance(rule, CrowdRuleConfig) or rule.area_m2 is not None or areas[rule.zone] is not None:
        return []
    return [
        (
            (*at, option),
            f"{option} needs the zone's area: zone {rule.zone!r} has no area_m2 "
            "(set it on the zone, or area_m2 on the rule)",
        )
        for option in rule.density_options
    ]
