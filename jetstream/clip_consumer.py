"""The engine role's side of shard clips: each finished clip recorded on its incidents, once, and retention.

A durable pull consumer shared by every engine process (`engine-clips` on `SHARPEYES_CLIPS`). A clip's refs
(a shard's own observations: category and trigger time) resolve to the incident of that camera and category
that was open at that moment. A ref that resolves to nothing yet (its observation is still queued behind a
backlog) is retried every few seconds; after `match_wait_s` the clip is recorded on what did resolve and the
rest is counted as unmatched (an observation a silence suppressed opens nothing). An entry already on the
incident (a redelivery after a crash) is not written again, so each clip gives one timeline entry and one
`incident.updated`. The clip's metadata on the storage then names the real incident ids, so retention, which
runs here because only the database knows which incidents are still open, never deletes a live one's clip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import or_, select

from alarms.clip_evidence import attach_clip
from alarms.engine import IncidentEngine, IncidentNotFound
from alarms.lifecycle import ACTIVE_STATES
from alarms.storage.schema import incidents
from jetstream import streams
from jetstream.clips import DURABLE, STREAM, SUBJECT_ROOT, ClipReady, ClipRef
from video.clip_config import ClipRetention
from video.clip_metrics import ClipMetrics
from video.clip_store import ClipStore, plan_deletions

log = logging.getLogger(__name__)

_SLACK_S = 0.001  # trigger times travel as JSON floats rounded to the millisecond


def find_incident(engine: IncidentEngine, camera_id: str, ref: ClipRef) -> int | None:
    """The camera's incident of that category open at `ref.at` (the latest such, if several)."""
    stmt = (
        select(incidents.c.id)
        .where(
            incidents.c.source_id == camera_id,
            incidents.c.category == ref.category,
            incidents.c.created_at <= ref.at + _SLACK_S,
            or_(incidents.c.closed_at.is_(None), incidents.c.closed_at >= ref.at - _SLACK_S),
        )
        .order_by(incidents.c.created_at.desc())
        .limit(1)
    )
    with engine.store.read() as conn:
        found = conn.execute(stmt).scalar()
    return int(found) if found is not None else None


class ClipConsumer(streams.ApplyingConsumer[ClipReady]):
    what = "clip"

    def __init__(
        self,
        js: Any,
        engine: IncidentEngine,
        store: ClipStore,
        *,
        ack_wait_s: float = 30.0,
        retry_delay_s: float = 5.0,
        match_wait_s: float = 900.0,
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry | None = None,
    ) -> None:
        super().__init__(
            js,
            stream=STREAM,
            durable=DURABLE,
            subject=f"{SUBJECT_ROOT}.>",
            ack_wait_s=ack_wait_s,
            batch=16,
            retry_delay_s=retry_delay_s,
        )
        self.engine, self.store, self.clock = engine, store, clock
        self.match_wait_s = match_wait_s
        self.recorded = self.unmatched = self.waiting = 0
        self.outcomes = Counter(
            "sharpeyes_shard_clips_total",
            "Shards' clip reports at the engine role, by outcome",
            ["outcome"],  # recorded, waiting (its observation not applied yet: retried), unmatched, failed
            registry=registry if registry is not None else CollectorRegistry(),
        )

    def decode(self, data: bytes) -> ClipReady:
        return ClipReady.decode(data)

    def apply_all(self, items: list[ClipReady]) -> list[bool]:
        out = []
        for msg in items:
            try:
                out.append(self.apply(msg))
            except Exception:  # the store did not commit: nak, redelivered after retry_delay_s
                self.outcomes.labels("failed").inc()
                log.exception("clip %s not recorded; redelivered in %.1f s", msg.msg_id, self.retry_delay_s)
                out.append(False)
        return out

    def apply(self, msg: ClipReady) -> bool:
        """True when recorded (ack); False while a ref waits for its observation (nak)."""
        targets = {int(i): cat for i, cat in msg.incidents.items()}
        missing = []
        for ref in msg.refs:
            found = find_incident(self.engine, msg.camera_id, ref)
            if found is None:
                missing.append(ref)
            else:
                targets[found] = ref.category
        if missing and self.clock() - msg.finished_at < self.match_wait_s:
            self.waiting += 1
            self.outcomes.labels("waiting").inc()
            return False
        if missing:
            self.unmatched += 1
            self.outcomes.labels("unmatched").inc()
            log.warning("clip %s: no incident for %s on camera %s", msg.msg_id, missing, msg.camera_id)
        for incident_id in sorted(targets):
            self._attach_new(incident_id, msg.entries)
        self._name_incidents(msg, targets)
        self.recorded += 1
        self.outcomes.labels("recorded").inc()
        return True

    def _attach_new(self, incident_id: int, entries: list[dict[str, Any]]) -> None:
        try:
            have = self.engine.get(incident_id).evidence.get("clips") or []
        except IncidentNotFound:
            log.warning("clip for incident %s: no such incident", incident_id)
            return
        for entry in entries:
            if entry not in have:
                attach_clip(self.engine, incident_id, entry)

    def _name_incidents(self, msg: ClipReady, targets: dict[int, str]) -> None:
        """The clip's metadata gets the real ids (the shard wrote it before they were known)."""
        for entry in msg.entries:
            meta = self.store.meta(str(entry.get("id"))) if entry.get("id") else None
            if meta is None:
                continue
            named = {**meta.incidents, **{str(i): cat for i, cat in targets.items()}}
            if named != meta.incidents:
                meta.incidents = named
                try:
                    self.store.save_meta(meta)
                except OSError as exc:
                    log.warning("clip %s: metadata not updated: %s", meta.id, exc)


def _active_ids(engine: IncidentEngine) -> set[int]:
    states = [s.value for s in ACTIVE_STATES]
    with engine.store.read() as conn:
        return {
            int(i)
            for i in conn.execute(select(incidents.c.id).where(incidents.c.state.in_(states))).scalars()
        }


def retention_pass(
    engine: IncidentEngine,
    store: ClipStore,
    retention: ClipRetention,
    now: float,
    metrics: ClipMetrics | None = None,
) -> int:
    """One pass over the shared clips: what `plan_deletions` allows goes; clips of open incidents stay."""
    active = _active_ids(engine)
    deleted = freed = 0
    clips = store.all()
    for meta, reason in plan_deletions(clips, now, retention, lambda i: i in active):
        try:
            store.delete(meta)
        except OSError:
            log.warning("clip %s could not be deleted", meta.id, exc_info=True)
            continue
        deleted, freed = deleted + 1, freed + meta.size
        log.info("clip %s deleted (%s)", meta.id, reason)
        if metrics is not None:
            metrics.deleted.labels(reason).inc()
    if metrics is not None:
        metrics.disk_bytes.set(sum(c.size for c in clips) - freed)
    return deleted


async def run_retention(
    engine: IncidentEngine,
    store: ClipStore,
    retention: ClipRetention,
    stop: asyncio.Event,
    registry: CollectorRegistry | None = None,
) -> None:
    """Every `retention.every_s` until `stop`; every engine runs it (a file already gone is no error).
    Counted like the local runtime (`sharpeyes_clips_deleted{reason}`, `sharpeyes_clips_disk_bytes`)."""
    metrics = ClipMetrics(registry if registry is not None else CollectorRegistry())
    while not stop.is_set():
        try:
            await asyncio.to_thread(retention_pass, engine, store, retention, time.time(), metrics)
        except Exception:  # loop boundary: the next pass tries again
            log.exception("clip retention failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), retention.every_s)
