"""Sudden gathering: the people count rises by ≥ `growth` within `within_s` → one observation, then a
cooldown. After firing, the baseline restarts at the current count, so only a further rise fires again.

A change of counting method (crowd fusion moving a zone from boxes to density) also restarts the
baseline: the two backends' counts differ by design, and that jump is not people arriving."""

from __future__ import annotations

from dataclasses import dataclass

from alarms.observations import Observation, ObservationLevel
from alarms.rules.common import ZoneMask, event_id
from alarms.rules.measure import CountMeasurement, CountSource, count_for_rule
from detectors.types import DetectionResult


@dataclass(frozen=True, slots=True)
class GatheringConfig:
    growth: float
    within_s: float = 10.0
    cooldown_s: float = 120.0
    source: CountSource = "auto"
    person_class: str = "person"
    min_score: float = 0.0
    rule: str = ""
    kind: str = "gathering"

    def __post_init__(self) -> None:
        if self.growth <= 0 or self.within_s <= 0:
            raise ValueError("growth and within_s must be > 0")
        if self.cooldown_s < 0:
            raise ValueError("cooldown_s must be >= 0")

    @property
    def rule_id(self) -> str:
        return self.rule or self.kind


@dataclass(frozen=True, slots=True)
class GatheringState:
    samples: tuple[tuple[float, float], ...] = ()  # (ts, count) within the window, oldest first
    last_emitted: float | None = None
    method: str | None = None  # counting method of the samples


@dataclass(frozen=True, slots=True)
class GatheringRule:
    """Sudden gathering at one camera zone. Pure: `step` takes `now`, never reads a clock."""

    source: str
    grid_id: str
    config: GatheringConfig
    zone_mask: ZoneMask | None = None
    zone_name: str | None = None

    @property
    def rule_id(self) -> str:
        return self.config.rule_id

    def initial(self) -> GatheringState:
        return GatheringState()

    def measure(self, result: DetectionResult) -> CountMeasurement | None:
        return count_for_rule(result, self.config, self.zone_mask, self.zone_name)

    def step(
        self, state: GatheringState, m: CountMeasurement | None, now: float
    ) -> tuple[GatheringState, list[Observation]]:
        c = self.config
        if m is None:
            return state, []
        if state.method is not None and m.method != state.method:
            return GatheringState(((now, m.count),), state.last_emitted, m.method), []
        samples = (*(s for s in state.samples if s[0] >= now - c.within_s), (now, m.count))
        base_ts, base = min(samples, key=lambda s: (s[1], s[0]))
        cooled = state.last_emitted is None or now - state.last_emitted >= c.cooldown_s
        if m.count - base < c.growth or not cooled:
            return GatheringState(samples, state.last_emitted, m.method), []
        obs = Observation(
            event_id=event_id(self.source, c.rule_id, c.kind, ObservationLevel.CONFIRMED, base_ts),
            source=self.source,
            kind=c.kind,
            grid_id=self.grid_id,
            ts=now,
            level=ObservationLevel.CONFIRMED,
            count=m.count,
            rule=c.rule_id,
            evidence={
                "count": m.count,
                "from_count": base,
                "from_ts": base_ts,
                "growth": m.count - base,
                "within_s": now - base_ts,
                "method": m.method,
                "zone": m.zone,
                "captured_at": m.captured_at,
            },
        )
        return GatheringState(((now, m.count),), now, m.method), [obs]
