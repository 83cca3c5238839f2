"""Turn a DetectionResult plus zone membership into the people count the crowd rules step on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from alarms.rules.common import ZoneMask, apply_zone
from detectors.types import DetectionResult

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


def fused_mode(extra: Mapping[str, Any], zone_name: str | None) -> str | None:
    """The backend a crowd-fusion result chose for this zone (or the frame): the camera's hysteretic
    per-zone choice (`crowd_modes`, set by its rule group) when present, else the detector's stateless
    whole-frame one (`crowd_mode`, e.g. a single still). None: not a fusion result."""
    modes = extra.get("crowd_modes")
    if isinstance(modes, Mapping):
        mode = modes.get(zone_name or "")
        if mode is not None:
            return str(mode)
    mode = extra.get("crowd_mode")
    return None if mode is None else str(mode)


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
    """Boxes: detections of `person_class` (score, zone) are counted. Density: `extra["count"]` (or a
    fusion result's `density_count`) for the frame, or `extra["zone_counts"][zone_name]` for a zone (a
    frame-wide count would overstate a zone). `auto` follows a fusion result's choice for the zone, else
    uses density when the backend reported a count, else boxes. None: no measurement possible."""
    extra = result.extra
    if source == "auto":
        mode = fused_mode(extra, zone_name)
        source = "density" if mode == "density" or (mode is None and "count" in extra) else "boxes"
    if source == "density":
        if zone_name is None:
            value = extra.get("count", extra.get("density_count"))
        else:
            value = (extra.get("zone_counts") or {}).get(zone_name)
        if value is None:
            return None
        return CountMeasurement(float(value), "density", result.frame.captured_at, area_m2, zone_name)
    dets = result.detections.of_class(person_class)
    if min_score > 0:
        dets = dets[dets.scores >= min_score]
    dets = apply_zone(dets, zone_mask)
    return CountMeasurement(float(len(dets)), "boxes", result.frame.captured_at, area_m2, zone_name)
