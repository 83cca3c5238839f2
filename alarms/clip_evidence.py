"""A finished evidence clip goes onto its incident: evidence ``clips`` (one entry per file, with its link,
times, size and sha256), a timeline entry and, through the outbox, an ``incident.updated`` to dispatch and
the MQTT incident topic, so they get the link without asking.

Written long after the incident opened (the clip ends ``post_s`` after the trigger) and in a transaction of
its own: the incident never waited for it. A closed incident still takes it; the record is the record.
"""

from __future__ import annotations

from typing import Any

from alarms.engine import IncidentEngine
from alarms.incident_writer import Change
from alarms.storage.unit_of_work import UnitOfWork


def _merged(clips: Any, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Clips so far with ``entry`` added, or replacing the entry of the same file (or the same window of
    a camera that had no file)."""
    same = ("id", entry["id"]) if entry.get("id") else ("start", entry.get("start"))
    out = [c for c in clips if isinstance(c, dict)] if isinstance(clips, list) else []
    out = [c for c in out if not (c.get(same[0]) == same[1] and c.get("camera_id") == entry.get("camera_id"))]
    return sorted([*out, entry], key=lambda c: (c.get("start") or 0, c.get("camera_id") or ""))


def attach_clip(engine: IncidentEngine, incident_id: int, entry: dict[str, Any]) -> Change:
    """Record ``entry`` on the incident and tell its listeners (delivery, live push), after commit."""
    now = engine.clock()
    saved = entry.get("status") == "saved"
    code = "clip_saved" if saved else "clip_failed"
    note = (
        f"clip {entry.get('id')} from camera {entry.get('camera_id')}, {entry.get('duration_s')} s"
        if saved
        else f"no clip from camera {entry.get('camera_id')}"
    )
    data = {"code": code, "camera": entry.get("camera_id"), "seconds": entry.get("duration_s")}

    def body(uow: UnitOfWork) -> Change:
        current = engine.writer.load(uow, incident_id)
        evidence = {**current.evidence, "clips": _merged(current.evidence.get("clips"), entry)}
        return engine.writer.update(
            uow, current, "clip", "system", note, {"evidence": evidence}, now, data=data
        )

    change = engine.writer.with_retry(body)
    engine._publish([change])  # the engine's own after-commit fan-out: listeners hear of it as of any change
    return change
