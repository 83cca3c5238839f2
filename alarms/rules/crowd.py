"""Crowding: an episode when the measure stays ≥ threshold for `dwell_s`, ending when it stays below
`clear_below` for `clear_dwell_s`. Hysteresis plus cooldown mean a count hovering at the threshold yields
exactly one `confirmed` and one `cleared` per episode, never an alert storm.

The measure is a people count, or people per m² of the zone (`per_m2`); `min_density_per_m2` adds a second
trigger on people per m² beside a count threshold (a large plaza needs many people, a narrow exit few)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from alarms.observations import Observation, ObservationLevel
from alarms.rules.common import ZoneMask, event_id
from alarms.rules.measure import CountMeasurement, CountSource, count_for_rule
from detectors.types import DetectionResult


@dataclass(frozen=True, slots=True)
class CrowdConfig:
    """`clear_below` defaults to 0.8 × threshold. `cooldown_s` runs from an episode's `cleared` to the next
    `confirmed`, so a crowd that re-forms at once is not re-announced within it."""

    threshold: float
    dwell_s: float = 10.0
    clear_below: float | None = None
    clear_dwell_s: float = 10.0
    cooldown_s: float = 60.0
    per_m2: bool = False
    min_density_per_m2: float | None = None
    source: CountSource = "auto"
    person_class: str = "person"
    min_score: float = 0.0
    rule: str = ""
    kind: str = "crowd"

    def __post_init__(self) -> None:
        if self.threshold <= 0:
            raise ValueError("threshold must be > 0")
        if self.clear_below is not None and not 0 <= self.clear_below <= self.threshold:
            raise ValueError("clear_below must be within [0, threshold]")
        if min(self.dwell_s, self.clear_dwell_s, self.cooldown_s) < 0:
            raise ValueError("times must be >= 0")
        if self.min_density_per_m2 is not None:
            if self.min_density_per_m2 <= 0:
                raise ValueError("min_density_per_m2 must be > 0")
            if self.per_m2:
                raise ValueError("per_m2 already makes threshold a density; use one of the two")

    @property
    def rule_id(self) -> str:
        return self.rule or self.kind

    @property
    def clear_level(self) -> float:
        return self.clear_below if self.clear_below is not None else 0.8 * self.threshold

    @property
    def density_clear_level(self) -> float | None:
        """The density trigger's clear level: the same fraction of it as `clear_level` of `threshold`."""
        if self.min_density_per_m2 is None:
            return None
        return self.min_density_per_m2 * self.clear_level / self.threshold


class CrowdPhase(StrEnum):
    IDLE = "idle"
    ARMING = "arming"  # above threshold, dwell running
    ACTIVE = "active"  # confirmed
    CLEARING = "clearing"  # below clear level, clear dwell running


@dataclass(frozen=True, slots=True)
class CrowdState:
    phase: CrowdPhase = CrowdPhase.IDLE
    since: float | None = None  # start of the running dwell (arming or clearing)
    episode_start: float | None = None
    cleared_at: float | None = None
    peak: float = 0.0


@dataclass(frozen=True, slots=True)
class CrowdRule:
    """Crowding at one camera zone. Pure: `step` takes `now`, never reads a clock."""

    source: str
    grid_id: str
    config: CrowdConfig
    zone_mask: ZoneMask | None = None
    zone_name: str | None = None
    area_m2: float | None = None

    def __post_init__(self) -> None:
        if self.config.per_m2 and not self.area_m2:
            raise ValueError(f"crowd rule {self.config.rule_id!r} at {self.source}: per_m2 needs area_m2")
        if self.config.min_density_per_m2 is not None and not self.area_m2:
            raise ValueError(
                f"crowd rule {self.config.rule_id!r} at {self.source}: min_density_per_m2 needs area_m2"
            )

    @property
    def rule_id(self) -> str:
        return self.config.rule_id

    def initial(self) -> CrowdState:
        return CrowdState()

    def measure(self, result: DetectionResult) -> CountMeasurement | None:
        return count_for_rule(result, self.config, self.zone_mask, self.zone_name, self.area_m2)

    def triggers(self, m: CountMeasurement) -> tuple[bool, bool]:
        """(count trigger, density trigger) at the raising level: measure ≥ threshold, people/m² ≥
        min_density_per_m2."""
        c = self.config
        dens = _per_m2(m)
        by_density = c.min_density_per_m2 is not None and dens is not None and dens >= c.min_density_per_m2
        return m.value(c.per_m2) >= c.threshold, by_density

    def holding(self, m: CountMeasurement) -> bool:
        """Still crowded for clearing purposes: either trigger at or above its clear level."""
        c = self.config
        dens, level = _per_m2(m), c.density_clear_level
        return m.value(c.per_m2) >= c.clear_level or (
            level is not None and dens is not None and dens >= level
        )

    def _obs(
        self, level: ObservationLevel, start: float, m: CountMeasurement, now: float, **ev: Any
    ) -> Observation:
        c = self.config
        return Observation(
            event_id=event_id(self.source, c.rule_id, c.kind, level, start),
            source=self.source,
            kind=c.kind,
            grid_id=self.grid_id,
            ts=now,
            level=level,
            count=m.count,
            rule=c.rule_id,
            evidence={
                "count": m.count,
                "value": m.value(c.per_m2),
                "per_m2": c.per_m2,
                "area_m2": m.area_m2,
                "density_per_m2": None if (d := _per_m2(m)) is None else round(d, 4),
                "min_density_per_m2": c.min_density_per_m2,
                "method": m.method,
                "zone": m.zone,
                "threshold": c.threshold,
                "clear_below": c.clear_level,
                "captured_at": m.captured_at,
                "episode_start": start,
                **ev,
            },
        )

    def step(
        self, state: CrowdState, m: CountMeasurement | None, now: float
    ) -> tuple[CrowdState, list[Observation]]:
        """No measurement (None) changes nothing: dwell is judged on measured samples only."""
        if m is None:
            return state, []
        c = self.config
        v = m.value(c.per_m2)
        ph = state.phase
        if ph in (CrowdPhase.IDLE, CrowdPhase.ARMING):
            by_count, by_density = self.triggers(m)
            if not (by_count or by_density):
                return replace(state, phase=CrowdPhase.IDLE, since=None), []
            since = state.since if ph is CrowdPhase.ARMING and state.since is not None else now
            cooled = state.cleared_at is None or now - state.cleared_at >= c.cooldown_s
            if now - since >= c.dwell_s and cooled:
                state = CrowdState(CrowdPhase.ACTIVE, None, since, state.cleared_at, v)
                trigger = "+".join(t for t, on in (("count", by_count), ("density", by_density)) if on)
                obs = self._obs(
                    ObservationLevel.CONFIRMED, since, m, now, dwell_s=now - since, trigger=trigger
                )
                return state, [obs]
            return replace(state, phase=CrowdPhase.ARMING, since=since), []

        assert state.episode_start is not None
        peak = max(state.peak, v)
        if self.holding(m):
            return replace(state, phase=CrowdPhase.ACTIVE, since=None, peak=peak), []
        since = state.since if ph is CrowdPhase.CLEARING and state.since is not None else now
        if now - since >= c.clear_dwell_s:
            obs = self._obs(ObservationLevel.CLEARED, state.episode_start, m, now, peak=peak)
            return CrowdState(cleared_at=now), [obs]
        return replace(state, phase=CrowdPhase.CLEARING, since=since, peak=peak), []


def _per_m2(m: CountMeasurement) -> float | None:
    """People per m² of the measured zone, or None without a known area."""
    return m.count / m.area_m2 if m.area_m2 else None
