"""Pure temporal rules: detection results → observations (suspected, confirmed, cleared).

Each rule is a frozen dataclass with `initial()`, `measure(result)` and `step(state, input, now)`; no clock,
no I/O. `RuleRunner` / `CameraRules` hold the state for one camera and are the only mutable part.
"""

from alarms.rules.common import Rule, ZoneLike, ZoneMask, event_id
from alarms.rules.config import (
    RULES_ADAPTER,
    CrowdRuleConfig,
    FireRuleConfig,
    GatheringRuleConfig,
    RuleConfig,
    SmokeRuleConfig,
    check_unique_rule_ids,
    parse_rules,
)
from alarms.rules.crowd import CrowdConfig, CrowdPhase, CrowdRule, CrowdState
from alarms.rules.fire import BoxEvidence, FlameConfig, FlameRule, FlameSample, FlameState
from alarms.rules.gathering import GatheringConfig, GatheringRule, GatheringState
from alarms.rules.measure import CountMeasurement, count_people
from alarms.rules.runner import CameraRules, RuleRunner, build_rule, build_runner

__all__ = [
    "RULES_ADAPTER",
    "BoxEvidence",
    "CameraRules",
    "CountMeasurement",
    "CrowdConfig",
    "CrowdPhase",
    "CrowdRule",
    "CrowdRuleConfig",
    "CrowdState",
    "FireRuleConfig",
    "FlameConfig",
    "FlameRule",
    "FlameSample",
    "FlameState",
    "GatheringConfig",
    "GatheringRule",
    "GatheringRuleConfig",
    "GatheringState",
    "Rule",
    "RuleConfig",
    "RuleRunner",
    "SmokeRuleConfig",
    "ZoneLike",
    "ZoneMask",
    "build_rule",
    "build_runner",
    "check_unique_rule_ids",
    "count_people",
    "event_id",
    "parse_rules",
]
