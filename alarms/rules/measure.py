"""Turn a DetectionResult plus zone membership into the people count the crowd rules step on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from alarms.rules.common import ZoneMask, apply_zone
from detectors.types import CrowdMode, DetectionExtras, DetectionResult

CountSource = Literal["boxes", "density", "auto"]


@dataclass(frozen=True, slots=True)
class CountMeasurement:
    """People in a zone (or the frame) at one instant; `area_m2` turns it into a density."""

    count: float
    method: Literal["boxes", "density"]
    captured_at: float
    area_m2: float | None = None
    zone: str | None = None

    def value(self, per_m2: bool) -> float:
        """The measure a threshold applies to: people, or people per m² when asked and the area is known."""
        if not per_m2:
            return self.count
        if not self.area_m2:
            raise ValueError("per_m2 needs a zone area in m²")
        return self.count / self.area_m2


def fused_mode(extras: DetectionExtras, zone_name: str | None) -> CrowdMode | None:
    """The backend a crowd-fusion result chose for this zone (or the frame): the camera's hysteretic
    per-zone choice (`crowd_modes`, set by its rule group) when present, else the detector's stateless
    whole-frame one (`crowd_mode`, e.g. a single still). None: not a fusion result."""
    if extras.crowd_modes is not None:
        mode = extras.crowd_modes.get(zone_name or "")
        if mode is not None:
            return mode
    return extras.crowd_mode


def count_people(
    result: DetectionResult,
    *,
    source: CountSource = "auto",
    zone_mask: ZoneMask | None = None,
    zone_name: str | None = None,
    area_m2: float | None = None,
    person_class: str = "person",
    min_score: float = 0.0,
) -> CountMeasurement | None:
    """Boxes: detections of `person_class` (score, zone) are counted. Density: `extras.count` (or a
    fusion result's `density_count`) for the frame, or `extras.zone_counts[zone_name]` for a zone (a
    frame-wide count would overstate a zone). `auto` follows a fusion result's choice for the zone, else
    uses density when the backend reported a count, else boxes. None: no measurement possible."""
    extras = result.extras
    if source == "auto":
        mode = fused_mode(extras, zone_name)
        source = "density" if mode == "density" or (mode is None and extras.count is not None) else "boxes"
    if source == "density":
        if zone_name is None:
            value = extras.count if extras.count is not None else extras.density_count
        else:
            value = (extras.zone_counts or {}).get(zone_name)
        if value is None:
            return None
        return CountMeasurement(float(value), "density", result.frame.captured_at, area_m2, zone_name)
    dets = result.detections.of_class(person_class)
    if min_score > 0:
        dets = dets[dets.scores >= min_score]
    dets = apply_zone(dets, zone_mask)
    return CountMeasurement(float(len(dets)), "boxes", result.frame.captured_at, area_m2, zone_name)


class PeopleRuleConfig(Protocol):
    """What a crowd or gathering rule's config says about counting (frozen dataclasses: read-only)."""

    @property
    def source(self) -> CountSource: ...

    @property
    def person_class(self) -> str: ...

    @property
    def min_score(self) -> float: ...


def count_for_rule(
    result: DetectionResult,
    config: PeopleRuleConfig,
    zone_mask: ZoneMask | None,
    zone_name: str | None,
    area_m2: float | None = None,
) -> CountMeasurement | None:
    """The people count a crowd or gathering rule watches, in its zone."""
    return count_people(
        result,
        source=config.source,
        zone_mask=zone_mask,
        zone_name=zone_name,
        area_m2=area_m2,
        person_class=config.person_class,
        min_score=config.min_score,
    )
