"""The only stateful part: a runner holds one pure rule's state for one camera and feeds it results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Generic

from alarms.observations import Observation
from alarms.rules.common import I, Rule, S, ZoneLike
from alarms.rules.config import (
    CrowdRuleConfig,
    FireRuleConfig,
    GatheringRuleConfig,
    RuleConfig,
    SmokeRuleConfig,
    check_unique_rule_ids,
)
from alarms.rules.crowd import CrowdRule
from alarms.rules.fire import FlameRule
from alarms.rules.gathering import GatheringRule
from detectors.types import DetectionResult

AnyRule = FlameRule | CrowdRule | GatheringRule


class RuleRunner(Generic[S, I]):
    """Not thread-safe: feed each runner from one place (the camera's result loop)."""

    __slots__ = ("camera_id", "rule", "state")

    def __init__(self, camera_id: str, rule: Rule[S, I], state: S | None = None) -> None:
        self.camera_id = camera_id
        self.rule = rule
        self.state: S = rule.initial() if state is None else state

    @property
    def rule_id(self) -> str:
        return self.rule.rule_id

    def feed(self, result: DetectionResult | None, now: float) -> list[Observation]:
        """One analysed frame, or None when time passed without one (lets episodes end)."""
        if result is not None and result.frame.camera_id != self.camera_id:
            raise ValueError(f"result from {result.frame.camera_id!r} fed to {self.camera_id!r}'s rules")
        inp = self.rule.measure(result) if result is not None else None
        self.state, out = self.rule.step(self.state, inp, now)
        return out


def _zone(zones: Mapping[str, ZoneLike], name: str | None, camera_id: str) -> ZoneLike | None:
    if name is None:
        return None
    if name not in zones:
        raise ValueError(
            f"camera {camera_id!r}: rule refers to unknown zone {name!r} (known: {sorted(zones)})"
        )
    return zones[name]


def build_rule(
    camera_id: str, grid_id: str, config: RuleConfig, zones: Mapping[str, ZoneLike] | None = None
) -> AnyRule:
    """Resolve the rule's zone (its `trigger` mask and optional `area_m2`) and build the pure rule."""
    zone = _zone(zones or {}, config.zone, camera_id)
    mask = zone.trigger if zone is not None else None
    if isinstance(config, FireRuleConfig | SmokeRuleConfig):
        return FlameRule(camera_id, grid_id, config.to_core(), mask)
    if isinstance(config, CrowdRuleConfig):
        area: Any = config.area_m2 or getattr(zone, "area_m2", None)
        return CrowdRule(camera_id, grid_id, config.to_core(), mask, config.zone, area)
    if isinstance(config, GatheringRuleConfig):
        return GatheringRule(camera_id, grid_id, config.to_core(), mask, config.zone)
    raise TypeError(f"unknown rule config {type(config).__name__}")


def build_runner(
    camera_id: str, grid_id: str, config: RuleConfig, zones: Mapping[str, ZoneLike] | None = None
) -> RuleRunner[Any, Any]:
    return RuleRunner(camera_id, build_rule(camera_id, grid_id, config, zones))


class CameraRules:
    """All rule runners of one camera, fed together."""

    __slots__ = ("camera_id", "runners")

    def __init__(
        self,
        camera_id: str,
        grid_id: str,
        configs: Iterable[RuleConfig],
        zones: Mapping[str, ZoneLike] | None = None,
    ) -> None:
        configs = list(configs)
        check_unique_rule_ids(configs)
        self.camera_id = camera_id
        self.runners = [build_runner(camera_id, grid_id, c, zones) for c in configs]

    def feed(self, result: DetectionResult | None, now: float) -> list[Observation]:
        return [o for r in self.runners for o in r.feed(result, now)]
