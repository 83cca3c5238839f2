"""Rule config as it appears in a camera's YAML `rules:` list, discriminated on `kind`.

Pydantic only at this edge; `to_core()` gives the frozen dataclass each pure rule runs on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, model_validator

from alarms.rules.crowd import CrowdConfig
from alarms.rules.fire import FlameConfig
from alarms.rules.gathering import GatheringConfig
from ingest.config import Strict

_NAME = r"^[A-Za-z0-9_.@-]+$"


class _RuleBase(Strict):
    name: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=_NAME,
        description="rule id in event ids; default kind[@zone]",
    )
    zone: str | None = Field(None, description="a zone of this camera; default: the whole frame")

    @property
    def rule_id(self) -> str:
        kind: str = getattr(self, "kind")  # noqa: B009 - every subclass declares its own Literal kind
        return self.name or (kind if self.zone is None else f"{kind}@{self.zone}")


class _FlameBase(_RuleBase):
    classes: tuple[str, ...] | None = Field(
        None, description="detector class names that count (case-insensitive); default: the kind"
    )
    min_score: float = Field(0.4, ge=0, le=1, description="sensitivity: lower sees more, and more falsely")
    suspect_hits: int = Field(1, ge=1, description="sightings before `suspected`")
    confirm_k: int = Field(3, ge=1, description="`confirmed` when k of the last n analysed frames qualify")
    confirm_n: int = Field(5, ge=1)
    min_area_frac: float = Field(0.0005, ge=0, le=1, description="min box area as a fraction of the frame")
    min_area_px: float = Field(0, ge=0, description="min box area in pixels")
    growth: float | None = Field(None, gt=0, description="require the box to grow to this × its first area")
    window_s: float | None = Field(None, gt=0, description="frames older than this leave the k-of-n window")
    cooldown_s: float = Field(
        60, ge=0, description="no new episode until this long after the last observation"
    )
    clear_after_s: float = Field(30, ge=0, description="absence that ends an episode")

    @model_validator(mode="after")
    def _k_le_n(self) -> Any:
        if self.confirm_k > self.confirm_n:
            raise ValueError(f"confirm_k ({self.confirm_k}) must not exceed confirm_n ({self.confirm_n})")
        if self.growth is not None and self.confirm_k < 2:
            raise ValueError("growth compares two frames: it needs confirm_k >= 2")
        return self

    def _flame(self, kind: str, emit_cleared: bool) -> FlameConfig:
        return FlameConfig(
            kind=kind,
            rule=self.rule_id,
            classes=self.classes or (kind,),
            min_score=self.min_score,
            suspect_hits=self.suspect_hits,
            confirm_k=self.confirm_k,
            confirm_n=self.confirm_n,
            min_area_frac=self.min_area_frac,
            min_area_px=self.min_area_px,
            growth=self.growth,
            window_s=self.window_s,
            cooldown_s=self.cooldown_s,
            clear_after_s=self.clear_after_s,
            emit_cleared=emit_cleared,
        )


class FireRuleConfig(_FlameBase):
    """Fire is latched for life-safety: there is deliberately no `emit_cleared` here."""

    kind: Literal["fire"] = "fire"

    def to_core(self) -> FlameConfig:
        return self._flame("fire", emit_cleared=False)


class SmokeRuleConfig(_FlameBase):
    kind: Literal["smoke"] = "smoke"
    emit_cleared: bool = Field(True, description="emit `cleared` when the smoke episode ends")

    def to_core(self) -> FlameConfig:
        return self._flame("smoke", emit_cleared=self.emit_cleared)


class _CountBase(_RuleBase):
    source: Literal["boxes", "density", "auto"] = Field(
        "auto", description="count person boxes, use the density backend's count, or density when present"
    )
    person_class: str = "person"
    min_score: float = Field(0, ge=0, le=1, description="min person box score (boxes source)")


class CrowdRuleConfig(_CountBase):
    kind: Literal["crowd"] = "crowd"
    threshold: float = Field(gt=0, description="people, or people per m² with per_m2")
    dwell_s: float = Field(10, ge=0, description="how long the measure must stay ≥ threshold")
    clear_below: float | None = Field(
        None, ge=0, description="hysteresis clear level; default 0.8 × threshold"
    )
    clear_dwell_s: float = Field(10, ge=0, description="how long it must stay below clear_below")
    cooldown_s: float = Field(60, ge=0, description="from `cleared` until a new episode may be confirmed")
    per_m2: bool = Field(False, description="threshold is a density: people / zone area in m²")
    area_m2: float | None = Field(None, gt=0, description="overrides the zone's area_m2")
    min_density_per_m2: float | None = Field(
        None,
        gt=0,
        description="also crowded at this many people per m² of the zone, whatever the count (needs an area)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Any:
        if self.clear_below is not None and self.clear_below > self.threshold:
            raise ValueError(f"clear_below ({self.clear_below}) must not exceed threshold ({self.threshold})")
        if self.per_m2 and self.min_density_per_m2 is not None:
            raise ValueError(
                "per_m2 already makes threshold a density: use one of per_m2 and min_density_per_m2"
            )
        for option in self.density_options:
            if self.zone is None and self.area_m2 is None:
                raise ValueError(f"{option} needs a zone with area_m2, or area_m2 on the rule")
        return self

    @property
    def density_options(self) -> list[str]:
        """The options set that need the zone's area in m²."""
        return [
            o for o, on in (("per_m2", self.per_m2), ("min_density_per_m2", self.min_density_per_m2)) if on
        ]

    def to_core(self) -> CrowdConfig:
        return CrowdConfig(
            threshold=self.threshold,
            dwell_s=self.dwell_s,
            clear_below=self.clear_below,
            clear_dwell_s=self.clear_dwell_s,
            cooldown_s=self.cooldown_s,
            per_m2=self.per_m2,
            min_density_per_m2=self.min_density_per_m2,
            source=self.source,
            person_class=self.person_class,
            min_score=self.min_score,
            rule=self.rule_id,
        )


class GatheringRuleConfig(_CountBase):
    kind: Literal["gathering"] = "gathering"
    growth: float = Field(gt=0, description="rise in people count that counts as a sudden gathering")
    within_s: float = Field(10, gt=0, description="…within this many seconds")
    cooldown_s: float = Field(120, ge=0)

    def to_core(self) -> GatheringConfig:
        return GatheringConfig(
            growth=self.growth,
            within_s=self.within_s,
            cooldown_s=self.cooldown_s,
            source=self.source,
            person_class=self.person_class,
            min_score=self.min_score,
            rule=self.rule_id,
        )


RuleConfig = Annotated[
    FireRuleConfig | SmokeRuleConfig | CrowdRuleConfig | GatheringRuleConfig, Field(discriminator="kind")
]
RULES_ADAPTER: TypeAdapter[list[RuleConfig]] = TypeAdapter(list[RuleConfig])


def parse_rules(data: Any) -> list[RuleConfig]:
    """Validate a camera's `rules:` list (raises pydantic.ValidationError)."""
    return RULES_ADAPTER.validate_python(data)


def check_unique_rule_ids(rules: Iterable[RuleConfig]) -> None:
    """Two rules with one id at a camera would share event ids; call this from the camera validator."""
    seen: set[str] = set()
    for r in rules:
        if r.rule_id in seen:
            raise ValueError(f"duplicate rule id {r.rule_id!r}: give one of them a `name`")
        seen.add(r.rule_id)
