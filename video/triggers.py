"""Observation → trigger: what a camera's rules saw becomes what the incident side takes.

Pure functions (no clock of their own, no I/O), so the pipeline's thread only decides when, not what.
"""

from __future__ import annotations

import time
from typing import Any

from alarms.grids import Placement
from alarms.observations import Observation, ObservationLevel
from alarms.triggers import Trigger
from detectors.types import DetectionResult
from ingest.health import VideoLossEvent
from ingest.redact import redact_url


def jsonable(value: Any) -> Any:
    """Evidence goes into a JSON column: numpy scalars and tuples become plain values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def note(obs: Observation) -> str:
    parts = [f"{obs.kind} {obs.level.value}", f"rule {obs.rule}"]
    if obs.count is not None:
        parts.append(f"count {obs.count:g}")
    if obs.confidence is not None:
        parts.append(f"confidence {obs.confidence:.2f}")
    return ", ".join(parts)


def _camera_trigger(obs: Observation, placement: Placement, evidence: dict[str, Any], **more: Any) -> Trigger:
    return Trigger(
        category=obs.kind,
        source_kind="camera",
        source_id=obs.source,
        placement=placement,
        ts=obs.ts,
        note=note(obs),
        evidence=jsonable(evidence),
        event_id=obs.event_id,
        **more,
    )


def cleared_trigger(obs: Observation, placement: Placement) -> Trigger:
    """A cleared rule goes on the open incident's timeline only: fire is latched, crowd and smoke are closed
    by operators."""
    cleared = {"cleared_at": obs.ts, "cleared_rule": obs.rule, "cleared_count": obs.count}
    return _camera_trigger(obs, placement, cleared)


def observation_trigger(
    obs: Observation, placement: Placement, result: DetectionResult | None, snapshot: str | None
) -> Trigger:
    """A suspected or confirmed condition, with its evidence: rule, counts, detector and snapshot."""
    evidence: dict[str, Any] = {
        **obs.evidence,
        "rule": obs.rule,
        "level": obs.level.value,
        "count": obs.count,
        "confidence": obs.confidence,
        "camera_id": obs.source,
    }
    if result is not None:
        evidence["detector"] = result.model
    if snapshot is not None:
        evidence["snapshot"] = snapshot
        evidence[f"snapshot_{obs.level.value}"] = snapshot
    return _camera_trigger(
        obs,
        placement,
        evidence,
        source_ts=result.frame.captured_at if result is not None else None,
        certainty="Observed" if obs.level is ObservationLevel.CONFIRMED else "Likely",
    )


def video_loss_trigger(
    camera_id: str, url: str, placement: Placement, event: VideoLossEvent, now: float, mono_now: float
) -> Trigger:
    """The camera went down: `event.since` is monotonic, turned into wall time for people and the id."""
    since_wall = now - (mono_now - event.since)
    return Trigger(
        category="video_loss",
        source_kind="camera",
        source_id=camera_id,
        placement=placement,
        ts=now,
        note=f"no video since {time.strftime('%H:%M:%S', time.gmtime(since_wall))} UTC: "
        f"{event.error or 'no frames'}",
        note_data={"code": "video_loss", "since": since_wall, "error": event.error or ""},
        evidence={"error": event.error, "since": since_wall, "url": redact_url(url)},
        source_ts=since_wall,
        event_id=f"cam:{camera_id}:video_loss:{round(since_wall * 1000)}",
    )
