"""Evidence clips: one ring of encoded packets per camera, and one ``video-clips`` thread that writes them.

Incidents never wait: the engine's batch listener only puts a request on a queue. The thread opens a clip
at the keyframe before ``trigger - pre_s``, copies packets as the ring receives them until ``trigger +
post_s`` and finalizes the MP4. A trigger on the same camera inside an open clip's window (a re-trigger, or
a storm of fire, smoke and crowd incidents) extends that clip and joins its incident list, up to
``max_clip_s``. Failures (disk full, unwritable folder) are logged, counted and written into the incident
as a failed clip; detection and alarms never touch the disk here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
from prometheus_client import CollectorRegistry

from alarms.incident_writer import Change
from ingest.packet_ring import Packet, PacketRing
from video.clip_config import ClipsConfig
from video.clip_metrics import ClipMetrics
from video.clip_store import ClipMeta, ClipStore, clip_id, link_key, plan_deletions
from video.clip_writer import ClipPart, PartWriter

log = logging.getLogger(__name__)

Attach = Callable[[int, dict[str, Any]], object]
"""(incident id, clip evidence entry) → recorded on the incident (runs on the clip thread)."""
IsOpen = Callable[[int], bool]

_POLL_S = 0.25
_TRIGGERS = ("created", "retrigger", "confirmed")


@dataclass(frozen=True, slots=True)
class ClipRequest:
    incident_id: int
    category: str
    camera_id: str
    at: float
    pre_s: float
    post_s: float
    ref: str = ""  # a shard's key for an incident it cannot know the id of yet (the engine resolves it)

    @property
    def key(self) -> str:
        return self.ref or str(self.incident_id)


@dataclass(slots=True, eq=False)
class _Job:
    camera_id: str
    start: float
    end: float
    limit: float
    triggers: list[float]
    incidents: dict[str, str]
    cursor: int = 0
    writer: PartWriter | None = None
    parts: list[ClipPart] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    failed: str | None = None
    opened_at: float = 0.0

    def covers(self, req: ClipRequest) -> bool:
        return req.at - req.pre_s <= self.end and req.at + req.post_s >= self.start


class ClipRecorder:
    """Owns the rings (``tap`` is the camera manager's tap factory) and the clip thread."""

    def __init__(
        self,
        cfg: ClipsConfig,
        store: ClipStore,
        registry: CollectorRegistry,
        *,
        attach: Attach | None = None,
        is_open: IsOpen | None = None,
        clock: Callable[[], float] = time.time,
        link_secret: str | None = None,
    ) -> None:
        self.cfg, self.store, self.clock = cfg, store, clock
        self.attach, self.is_open = attach, is_open
        self.metrics = ClipMetrics(registry)
        self.rings: dict[str, PacketRing] = {}
        self._requests: queue.Queue[ClipRequest | None] = queue.Queue()
        self._jobs: dict[str, _Job] = {}
        self._open: dict[int, bool] = {}  # incident id → active, as the engine's changes said
        self._thread: threading.Thread | None = None
        self._next_retention = 0.0
        # Signs expiring clip links (dashboard/clip_api.py): the configured secret, else a key for this run.
        self.link_key = link_key(link_secret)

    # ----- seams -----------------------------------------------------------------------------------------
    def tap(self, camera_id: str) -> PacketRing:
        ring = self.rings.get(camera_id)
        if ring is None:
            ring = self.rings[camera_id] = PacketRing(camera_id, self.cfg.buffer_s, self.cfg.buffer_max_bytes)
            self.metrics.watch_ring(ring)
        return ring

    def on_changes(self, changes: list[Change]) -> None:
        """The engine's batch listener (after commit): queue the clips these changes ask for; never blocks."""
        for change in changes:
            inc = change.incident
            self._open[inc.id] = inc.active
            window = self.cfg.windows.get(inc.category)
            if change.action not in _TRIGGERS or window is None:
                continue
            cameras = [inc.source_id] if inc.source_kind == "camera" else inc.evidence.get("cameras") or []
            for cam in cameras:
                if isinstance(cam, str) and cam in self.rings:
                    self.request(
                        ClipRequest(
                            inc.id, inc.category, cam, inc.last_trigger_at, window.pre_s, window.post_s
                        )
                    )

    def request(self, req: ClipRequest) -> None:
        self._requests.put(req)

    def is_recording(self, camera_id: str) -> bool:
        return camera_id in self._jobs

    # ----- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="video-clips", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish what has been received (a shorter clip is better than none), then end the thread."""
        if self._thread is not None:
            self._requests.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while True:
            try:
                req = self._requests.get(timeout=_POLL_S)
            except queue.Empty:
                req = None
            else:
                if req is None:
                    self._finish_all()
                    return
            try:
                if req is not None:
                    self._take(req)
                self.run_once()
            except Exception:  # loop boundary: one bad clip must not stop the others
                self.metrics.errors.inc()
                log.exception("clip thread failed (request %s)", req)

    def run_once(self) -> None:
        """One turn of the clip thread: take what was asked, copy new packets, finish due clips, and run
        retention when it is time (tests call it with a settable clock instead of starting the thread)."""
        while True:
            try:
                req = self._requests.get_nowait()
            except queue.Empty:
                break
            if req is None:  # stop: left for the loop to see
                self._requests.put(None)
                break
            self._take(req)
        self._pump(self.clock())
        self._retention(self.clock())

    # ----- the clip thread -------------------------------------------------------------------------------
    def _take(self, req: ClipRequest) -> None:
        job = self._jobs.get(req.camera_id)
        if job is not None and job.covers(req):
            job.end = min(max(job.end, req.at + req.post_s), job.limit)
            job.triggers.append(req.at)
            job.incidents[req.key] = req.category
            if req.at - req.pre_s < job.start - 1.0 and not job.parts:
                self._restart_earlier(job, req.at - req.pre_s)
            self.metrics.shared.inc()
            return
        if job is not None:
            self._finish(job)
        start = req.at - req.pre_s
        self._jobs[req.camera_id] = job = _Job(
            req.camera_id,
            start,
            req.at + req.post_s,
            start + self.cfg.max_clip_s,
            [req.at],
            {req.key: req.category},
            opened_at=self.clock(),
        )
        self._begin(job, self.rings[req.camera_id].from_time(start))

    def _restart_earlier(self, job: _Job, start: float) -> None:
        """A later trigger wants more before: rewrite from the ring while it still holds that much."""
        ring = self.rings[job.camera_id]
        oldest = ring.oldest()
        if oldest is None or oldest > job.start:
            return
        if job.writer is not None:
            job.writer.abort()
            job.writer = None
        job.start, job.limit, job.missing = start, start + self.cfg.max_clip_s, []
        self._begin(job, ring.from_time(start))

    def _begin(self, job: _Job, packets: list[Packet]) -> None:
        first = packets[0].wall if packets else None
        if first is None or first > job.start + 1.0:
            reason = "camera_down" if not self.rings[job.camera_id].online else "not_buffered"
            job.missing.append({"from": job.start, "to": first or job.end, "reason": reason})
        job.cursor = packets[-1].seq if packets else job.cursor
        self._feed(job, packets)

    def _pump(self, now: float) -> None:
        for job in list(self._jobs.values()):
            ring = self.rings[job.camera_id]
            packets = ring.after(job.cursor)
            if packets:
                job.cursor = packets[-1].seq
                self._feed(job, packets)
            if now >= job.end + 1.0 or (job.failed and now >= job.end):
                self._finish(job)

    def _feed(self, job: _Job, packets: list[Packet]) -> None:
        for p in packets:
            if job.failed or p.wall > job.end:
                return
            if job.writer is not None and not job.writer.accepts(p):
                self._close_part(job, "format_changed")
            if job.writer is None:
                if not p.key:
                    continue  # a new part, or after a reconnect: from the next keyframe on
                job.writer = self._open_part(job, p)
                if job.writer is None:
                    return
            try:
                job.writer.add(p)
            except (OSError, av.error.FFmpegError, ValueError) as exc:
                self._storage_failed(job, exc)

    def _open_part(self, job: _Job, p: Packet) -> PartWriter | None:
        try:
            return PartWriter(self.store.path_for(clip_id(job.camera_id, job.start, len(job.parts) + 1)), p)
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            self._storage_failed(job, exc)
            return None

    def _storage_failed(self, job: _Job, exc: BaseException) -> None:
        job.failed = f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"[:200]
        self.metrics.written.labels("failed").inc()
        log.error(
            "camera %s: clip for incidents %s not written: %s",
            job.camera_id,
            sorted(job.incidents),
            job.failed,
        )
        if job.writer is not None:
            job.writer.abort()
            job.writer = None
        self._next_retention = 0.0  # perhaps the disk is full: make room now

    def _close_part(self, job: _Job, why: str | None = None) -> None:
        writer, job.writer = job.writer, None
        if writer is None:
            return
        started = time.perf_counter()
        try:
            job.parts.append(writer.close())
        except (OSError, av.error.FFmpegError) as exc:
            writer.abort()
            self._storage_failed(job, exc)
            return
        self.metrics.write_seconds.observe(time.perf_counter() - started)
        if why is not None:
            job.missing.append({"from": writer.end, "to": writer.end, "reason": why})

    def _finish(self, job: _Job) -> None:
        self._jobs.pop(job.camera_id, None)
        self._close_part(job)
        end = min(job.end, self.clock())
        for gap in self.rings[job.camera_id].gaps_between(job.start, end):
            job.missing.append(
                {"from": max(gap.start, job.start), "to": min(gap.end or end, end), "reason": gap.reason}
            )
        if job.parts and job.parts[-1].end < end - 2.0 and not job.failed:
            job.missing.append({"from": job.parts[-1].end, "to": end, "reason": "no_video"})
        entries = [self._saved(job, part) for part in job.parts]
        if not entries and set(job.incidents.values()) == {"video_loss"}:
            return  # a camera that went down with nothing buffered: no clip to speak of
        if not entries:
            entries = [self._unsaved(job)]
        self._record(job.camera_id, dict(job.incidents), entries)

    def _record(self, camera_id: str, incidents: dict[str, str], entries: list[dict[str, Any]]) -> None:
        """Each entry onto each incident (a shard's recorder publishes them to the engine role instead)."""
        for incident_id in incidents:
            for entry in entries:
                self._attach(int(incident_id), entry)

    def _saved(self, job: _Job, part: ClipPart) -> dict[str, Any]:
        meta = ClipMeta(
            part.path.stem,
            job.camera_id,
            part.start,
            part.end,
            sorted(job.triggers),
            {k: v for k, v in job.incidents.items() if k.isdigit()},  # a shard's refs are not incidents yet
            part.size,
            part.sha256,
            part.width,
            part.height,
            job.missing,
            self.clock(),
        )
        try:
            self.store.save_meta(meta)
        except OSError as exc:
            self._storage_failed(job, exc)
            return self._unsaved(job)
        self.metrics.written.labels("saved").inc()
        self.metrics.clip_seconds.observe(part.end - part.start)
        return meta.evidence()

    def _unsaved(self, job: _Job) -> dict[str, Any]:
        status = "failed" if job.failed else "missing"
        if not job.failed:
            self.metrics.written.labels("nothing_to_show").inc()
        return {
            "id": None,
            "camera_id": job.camera_id,
            "status": status,
            "error": job.failed,
            "start": round(job.start, 3),
            "end": round(job.end, 3),
            "triggers": [round(t, 3) for t in sorted(job.triggers)],
            "missing": job.missing,
        }

    def _attach(self, incident_id: int, entry: dict[str, Any]) -> None:
        if self.attach is None:
            return
        try:
            self.attach(incident_id, entry)
        except Exception:  # the clip is on disk; only its record on the incident failed
            self.metrics.errors.inc()
            log.exception("incident %s: clip %s could not be recorded", incident_id, entry.get("id"))

    def _finish_all(self) -> None:
        for job in list(self._jobs.values()):
            self._pump(self.clock())
            self._finish(job)

    # ----- retention -------------------------------------------------------------------------------------
    def incident_open(self, incident_id: int) -> bool:
        known = self._open.get(incident_id)
        if known is None:
            known = self._open[incident_id] = self.is_open(incident_id) if self.is_open else True
        return known

    def _retention(self, now: float) -> None:
        if now < self._next_retention:
            return
        self._next_retention = now + self.cfg.retention.every_s
        try:
            clips = self.store.all()
        except OSError as exc:  # an unreachable object store: retention waits for its next turn
            log.warning("clip retention skipped: %s", exc)
            return
        gone = set()
        recording = {cid for job in self._jobs.values() for cid in job.incidents}
        for meta, reason in plan_deletions(
            clips, now, self.cfg.retention, lambda i: str(i) in recording or self.incident_open(i)
        ):
            try:
                self.store.delete(meta)
            except OSError:
                log.warning("clip %s could not be deleted", meta.id, exc_info=True)
                continue
            gone.add(meta.id)
            self.metrics.deleted.labels(reason).inc()
            log.info("clip %s deleted (%s)", meta.id, reason)
        self.metrics.disk_bytes.set(sum(c.size for c in clips if c.id not in gone))
