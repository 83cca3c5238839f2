"""Stream health of the shards' cameras, for the API role's `/api/cameras` and page.

Each shard publishes the health part of its cameras' rows (`video.status.CameraStatus`, built by the same
pipeline code as the local runtime) on core NATS `sharpeyes.health.<shard>`: at once when a camera's state
changes (checked every `poll_s`), and every `every_s` in any case, which is also the shard's heartbeat. Every
API process keeps the newest report of each shard. A row is believed only from the shard that owns the camera
(the same hash as the reconciler), and only while that shard's heartbeat is fresh: a shard that died, hangs
or lost NATS turns its cameras `unknown`, never leaves them looking healthy. Core NATS, not JetStream: the
next heartbeat replaces anything missed, so there is nothing worth storing.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sharpeyes.distributed.nats_link import NatsLink
from video.status import CameraStatus, DetectorStatus, StreamStatus

log = logging.getLogger(__name__)

HEALTH_ROOT = "sharpeyes.health"
EVERY_S = 2.0  # heartbeat: a full report this often
POLL_S = 0.5  # a state change goes out within this
MISSED_BEATS = 3  # a shard silent for this many heartbeats (+1 s) is presumed gone


class CameraHealth(BaseModel):
    """The part of a camera's row that only the shard running it knows (the rest is the API's config)."""

    model_config = ConfigDict(extra="ignore")

    state: str
    stream: str | None = None
    fps_in: float | None = None
    fps_out: float | None = None
    last_frame_age_s: float | None = None
    frames: int | None = None
    dropped: int | None = None
    reconnects: int | None = None
    decode_errors: int | None = None
    error: str | None = None
    last_error: str | None = None
    video_loss: bool = False
    analysed_frames: int = 0
    detectors: dict[str, DetectorStatus] = Field(default_factory=dict)
    streams: list[StreamStatus] = Field(default_factory=list)


HEALTH_FIELDS = frozenset(CameraHealth.model_fields)


def health_rows(rows: list[CameraStatus], errors: dict[str, str]) -> dict[str, dict[str, Any]]:
    """A shard's rows as sent: health fields only (no name, grid or URL leaves the shard this way)."""
    out = {r.id: r.model_dump(include=set(HEALTH_FIELDS), mode="json") for r in rows}
    for cam, why in errors.items():
        out[cam] = {"state": "config_error", "error": why}
    return out


def _signature(rows: dict[str, dict[str, Any]]) -> tuple[tuple[Any, ...], ...]:
    """What counts as a change worth sending at once (counters and rates wait for the heartbeat)."""
    return tuple(
        (cam, r.get("state"), r.get("video_loss"), r.get("error"), str(r.get("detectors")))
        for cam, r in sorted(rows.items())
    )


class HealthReporter:
    """Shard side: a thread that publishes `rows()` on change and every `every_s`; a goodbye on stop."""

    def __init__(
        self,
        link: NatsLink,
        shard: int,
        rows: Callable[[], dict[str, dict[str, Any]]],
        every_s: float = EVERY_S,
        poll_s: float = POLL_S,
    ) -> None:
        self.link, self.shard, self.rows = link, shard, rows
        self.every_s, self.poll_s = every_s, poll_s
        self.subject = f"{HEALTH_ROOT}.{shard}"
        self.boot = secrets.token_hex(6)  # a restarted shard is a new sender: seq starts again
        self.seq = self.sent = self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"health-{shard}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _message(self, rows: dict[str, dict[str, Any]], stopping: bool = False) -> bytes:
        self.seq += 1
        doc = {
            "v": 1,
            "shard": self.shard,
            "boot": self.boot,
            "seq": self.seq,
            "sent_at": time.time(),
            "every_s": self.every_s,
            "stopping": stopping,
            "cameras": rows,
        }
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    def _run(self) -> None:
        last_sig: tuple[tuple[Any, ...], ...] | None = None
        last_sent = 0.0
        pause = 0.0  # the first report at once
        while not self._stop.wait(pause):
            pause = self.poll_s
            try:
                rows = self.rows()
            except Exception:  # loop boundary: a pipeline mid-restart; the next poll tries again
                self.failures += 1
                if self.failures == 1:
                    log.exception("shard %d: camera health not readable; retrying", self.shard)
                continue
            sig, now = _signature(rows), time.monotonic()
            due = sig != last_sig or now - last_sent >= self.every_s
            if due and self.link.publish(self.subject, self._message(rows)):
                self.sent += 1
                last_sig, last_sent = sig, now

    def stop(self) -> None:
        """Tells the API processes at once that this shard's cameras are no longer watched."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        self.link.publish(self.subject, self._message({}, stopping=True))


@dataclass(slots=True)
class ShardReport:
    received: float  # monotonic, this process's clock: no skew between nodes
    boot: str
    seq: int
    every_s: float
    stopping: bool
    cameras: dict[str, CameraHealth]

    def fresh(self, now: float) -> bool:
        return not self.stopping and now - self.received <= MISSED_BEATS * self.every_s + 1.0


class HealthBoard:
    """API side: the newest report of every shard, and each camera's row as its owner last told it."""

    def __init__(self, owner: Callable[[str], int], registry: CollectorRegistry | None = None) -> None:
        self.owner = owner
        self.reports: dict[int, ShardReport] = {}
        self._lock = threading.Lock()
        self._malformed_logged = False
        self.messages = Counter(
            "sharpeyes_shard_health_reports_total",
            "Camera health reports received from shards, by outcome",
            ["outcome"],  # accepted, malformed, stale
            registry=registry if registry is not None else CollectorRegistry(),
        )

    async def on_message(self, msg: Any) -> None:
        self.accept(msg.data)

    def accept(self, data: bytes) -> None:
        try:
            doc = json.loads(data)
            shard, boot, seq = int(doc["shard"]), str(doc["boot"]), int(doc["seq"])
            rows = {str(k): CameraHealth.model_validate(v) for k, v in dict(doc["cameras"]).items()}
            report = ShardReport(
                time.monotonic(), boot, seq, float(doc["every_s"]), bool(doc.get("stopping")), rows
            )
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            self.messages.labels("malformed").inc()
            if not self._malformed_logged:  # once: a misbehaving sender would flood the log
                self._malformed_logged = True
                log.warning("ignored a malformed shard health report: %s", str(exc)[:200])
            return
        with self._lock:
            old = self.reports.get(shard)
            if old is not None and old.boot == boot and old.seq >= seq:
                self.messages.labels("stale").inc()
                return
            self.reports[shard] = report
        self.messages.labels("accepted").inc()

    def row(self, base: CameraStatus, now: float | None = None) -> CameraStatus:
        """`base` (the API's row from config) with its owner shard's health, or `unknown` and why."""
        now = time.monotonic() if now is None else now
        shard = self.owner(base.id)
        with self._lock:
            report = self.reports.get(shard)
        if report is None:
            return base.model_copy(
                update={"state": "unknown", "shard": shard, "error": f"no report from shard {shard} yet"}
            )
        if not report.fresh(now):
            why = "stopped" if report.stopping else f"silent for {now - report.received:.0f} s"
            return base.model_copy(
                update={"state": "unknown", "shard": shard, "error": f"shard {shard} {why}"}
            )
        health = report.cameras.get(base.id)
        if health is None:
            return base.model_copy(
                update={"state": "unknown", "shard": shard, "error": f"not running on shard {shard}"}
            )
        update = health.model_dump()
        update["detectors"], update["streams"] = health.detectors, health.streams
        if health.last_frame_age_s is not None:  # it kept ageing since the report was sent
            update["last_frame_age_s"] = round(health.last_frame_age_s + (now - report.received), 3)
        return base.model_copy(update={**update, "shard": shard})
