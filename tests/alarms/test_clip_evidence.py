"""A finished clip goes onto its incident (evidence, timeline, webhook and MQTT rows with the link), and
a clip that cannot be written delays no alarm: the press is stored and its incident open before the clip
thread even looks at the request."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from alarms.clip_evidence import attach_clip

ENTRY = {
    "id": "CAM-01~20260101T120000000",
    "camera_id": "CAM-01",
    "status": "saved",
    "url": "/api/clips/CAM-01~20260101T120000000",
    "start": 1.0,
    "end": 61.0,
    "duration_s": 60.0,
    "triggers": [31.0],
    "size": 1234,
    "sha256": "ab" * 32,
    "missing": [],
}


def test_clip_is_recorded_and_sent_with_its_link(rig: Any, se: Any) -> None:
    [created] = [c for c in rig.press() if c.action == "created"]
    heard: list[Any] = []
    rig.engine.subscribe_batch(heard.extend)
    change = attach_clip(rig.engine, created.incident.id, ENTRY)
    assert change.incident.evidence["clips"] == [ENTRY]
    again = attach_clip(rig.engine, created.incident.id, {**ENTRY, "size": 99})  # the same file: replaced
    assert [c["size"] for c in again.incident.evidence["clips"]] == [99]
    assert [c.action for c in heard] == ["clip", "clip"]
    last = rig.timeline(created.incident.id)[-1]
    assert last["action"] == "clip" and last["data"]["code"] == "clip_saved"
    rows = rig.outbox_rows(created.incident.id)
    sent = [
        se.payload(r) for r in rows if r["channel"] in ("webhook", "mqtt") and ENTRY["url"] in r["payload"]
    ]
    assert {r["channel"] for r in rows if ENTRY["url"] in r["payload"]} >= {"mqtt"}
    assert sent and sent[-1]["data"]["evidence"]["clips"][0]["sha256"] == ENTRY["sha256"]


def test_unwritable_clip_storage_delays_no_alarm(rig: Any, tmp_path: Path) -> None:
    from video.clip_config import ClipsConfig
    from video.clip_recorder import ClipRecorder
    from video.clip_store import ClipStore

    blocker = tmp_path / "clips"
    blocker.write_text("not a folder")
    rec = ClipRecorder(
        ClipsConfig(),
        ClipStore(blocker),
        CollectorRegistry(),
        attach=lambda i, e: attach_clip(rig.engine, i, e),
        clock=lambda: rig.clock.now,
    )
    ring = rec.tap("CAM-01")  # linked to B-001 in the test grids? either way the request is queued
    rig.engine.subscribe_batch(rec.on_changes)
    started = time.perf_counter()
    [created] = [c for c in rig.press() if c.action == "created"]
    took = time.perf_counter() - started
    assert took < 0.5 and created.incident.state == "reported"
    rec.request(rec_request(created.incident.id))
    rig.clock.now += 40
    rec.run_once()  # nothing buffered, storage broken: the incident gets a "missing" record, nothing raises
    clips = rig.engine.get(created.incident.id).evidence["clips"]
    assert clips[0]["status"] in ("missing", "failed") and len(ring) == 0


def rec_request(incident_id: int) -> Any:
    from video.clip_recorder import ClipRequest

    return ClipRequest(incident_id, "sos", "CAM-01", 0.0, 30.0, 30.0)
