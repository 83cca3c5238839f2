"""How long a false alarm silences a camera's rule: a default per category and a cap the operator cannot
pass. Life-safety categories have a hard ceiling no config can lift (DESIGN.md section 8: a life-safety
signal is never silenced for good)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

LIFE_SAFETY_CEILING_S = 3600.0
"""Fire and smoke are never silenced longer than this, whatever the config says."""
LIFE_SAFETY = frozenset({"fire", "smoke"})


class SilenceDuration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_s: float = Field(gt=0, description="what a false alarm silences when the operator picks nothing")
    max_s: float = Field(gt=0, description="the longest an operator may choose")

    @model_validator(mode="after")
    def _default_within_cap(self) -> SilenceDuration:
        if self.default_s > self.max_s:
            raise ValueError(f"default_s {self.default_s:g} is longer than max_s {self.max_s:g}")
        return self


def _defaults() -> dict[str, SilenceDuration]:
    return {
        "fire": SilenceDuration(default_s=600, max_s=1800),
        "smoke": SilenceDuration(default_s=600, max_s=1800),
        "crowd": SilenceDuration(default_s=1800, max_s=7200),
        "gathering": SilenceDuration(default_s=1800, max_s=7200),
    }


class SilenceConfig(BaseModel):
    """``silences:`` in the config. A camera incident cancelled as a false alarm silences its camera and
    category for the chosen time; categories not listed here are not silenced (the next sighting raises)."""

    model_config = ConfigDict(extra="forbid")

    min_s: float = Field(60.0, gt=0, description="the shortest silence an operator may choose")
    categories: dict[str, SilenceDuration] = Field(default_factory=_defaults)

    @model_validator(mode="after")
    def _caps(self) -> SilenceConfig:
        for name, d in self.categories.items():
            if name in LIFE_SAFETY and d.max_s > LIFE_SAFETY_CEILING_S:
                raise ValueError(f"{name}: max_s may not exceed {LIFE_SAFETY_CEILING_S:g} s (life safety)")
            if d.default_s < self.min_s:
                raise ValueError(f"{name}: default_s {d.default_s:g} is shorter than min_s {self.min_s:g}")
        return self

    def duration(self, category: str, chosen_s: float | None) -> float | None:
        """The silence a false alarm of ``category`` gets: None when the category is not silenced; raises
        ValueError for a choice outside [min_s, max_s]."""
        d = self.categories.get(category)
        if d is None:
            return None
        if chosen_s is None:
            return d.default_s
        if not self.min_s <= chosen_s <= d.max_s:
            raise ValueError(
                f"silence of {chosen_s:g} s is outside {self.min_s:g}–{d.max_s:g} s for {category}"
            )
        return float(chosen_s)
