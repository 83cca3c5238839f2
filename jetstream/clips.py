"""A shard's finished evidence clip on JetStream, for the engine role to record on its incidents.

A shard writes a camera's clip to the shared evidence storage itself (its packet ring never leaves it), but it
has no database: it cannot know which incident a fire observation opened, and it must not wait for one (the
alarm goes out first, the clip follows `post_s` later). So the message names what asked for the clip:
incident ids it was given (an SOS whose button links the camera), and *refs* of its own observations
(category and trigger time) that the engine resolves to the incident that was open on that camera then.
Stream `SHARPEYES_CLIPS` (file storage, kept 7 days), `Nats-Msg-Id` = the clip's id, so a re-sent message
is dropped by the server; the engine's durable consumer records each clip once and survives restarts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from jetstream import streams
from jetstream.observations import token

log = logging.getLogger(__name__)

STREAM = "SHARPEYES_CLIPS"
SUBJECT_ROOT = "sharpeyes.clips"
DURABLE = "engine-clips"
GIVE_UP_S = 3600.0  # a shard keeps re-trying one message this long while JetStream is away
_RETRY_FIRST_S, _RETRY_MAX_S = 0.5, 30.0


def ref_key(category: str, at: float) -> str:
    """A shard's key for the incident its observation opened or retriggered (not an id: never digits)."""
    return f"{category}@{at:.3f}"


@dataclass(frozen=True, slots=True)
class ClipRef:
    category: str
    at: float

    @classmethod
    def parse(cls, key: str, category: str) -> ClipRef | None:
        _, sep, at = key.rpartition("@")
        try:
            return cls(category, float(at)) if sep else None
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class ClipReady:
    """One finished clip job of a camera: its files (entries as the incident evidence records them)."""

    camera_id: str
    entries: list[dict[str, Any]]
    incidents: dict[str, str] = field(default_factory=dict)  # incident id (text) → category
    refs: list[ClipRef] = field(default_factory=list)
    finished_at: float = 0.0

    @property
    def msg_id(self) -> str:
        first = self.entries[0] if self.entries else {}
        return f"clip:{first.get('id') or self.camera_id + '@' + str(first.get('start'))}"

    def subject(self) -> str:
        return f"{SUBJECT_ROOT}.{token(self.camera_id)}"

    def encode(self) -> bytes:
        doc = {
            "v": 1,
            "camera_id": self.camera_id,
            "entries": self.entries,
            "incidents": self.incidents,
            "refs": [{"category": r.category, "at": r.at} for r in self.refs],
            "finished_at": self.finished_at,
        }
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, data: bytes) -> ClipReady:
        """ValueError for anything malformed: the consumer terminates it instead of looping."""
        try:
            doc = json.loads(data)
            if doc.get("v") != 1:
                raise ValueError(f"unknown version {doc.get('v')!r}")
            entries = [e for e in doc["entries"] if isinstance(e, dict)]
            if not entries:
                raise ValueError("no clip entries")
            return cls(
                str(doc["camera_id"]),
                entries,
                {str(k): str(v) for k, v in dict(doc.get("incidents") or {}).items() if str(k).isdigit()},
                [ClipRef(str(r["category"]), float(r["at"])) for r in doc.get("refs") or []],
                float(doc.get("finished_at") or 0.0),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"bad clip message: {exc}") from exc


async def ensure_clip_stream(js: Any, replicas: int = 1, duplicate_window_s: float = 600.0) -> None:
    await streams.ensure_stream(
        js,
        STREAM,
        SUBJECT_ROOT,
        replicas=replicas,
        duplicate_window_s=duplicate_window_s,
        max_age_s=7 * 86400,
    )


class ClipPublisher:
    """Publishes on the shard's NATS loop, re-trying with backoff while JetStream is away; the clip thread
    never waits. A message still unsent when the shard stops is lost (its file stays on the storage)."""

    def __init__(self, name: str, replicas: int = 1, duplicate_window_s: float = 600.0) -> None:
        self.name = name
        self.replicas, self.window = replicas, duplicate_window_s
        self.published = self.failed = 0
        self._stream_ready = False

    async def send(self, nc: Any, msg: ClipReady) -> bool:
        pause, started, warned = _RETRY_FIRST_S, time.monotonic(), False
        js = nc.jetstream()
        while True:
            try:
                if not self._stream_ready:
                    await ensure_clip_stream(js, self.replicas, self.window)
                    self._stream_ready = True
                await js.publish(
                    msg.subject(),
                    msg.encode(),
                    timeout=5.0,
                    stream=STREAM,
                    headers={"Nats-Msg-Id": msg.msg_id},
                )
            except Exception as exc:  # timeout, no responders, disconnected: try again, the clip is on disk
                if time.monotonic() - started > GIVE_UP_S:
                    self.failed += 1
                    log.error("%s: clip %s not reported to the engine: %s", self.name, msg.msg_id, exc)
                    return False
                if not warned:
                    warned = True
                    log.warning("%s: clip %s waits for JetStream: %s", self.name, msg.msg_id, exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, _RETRY_MAX_S)
                continue
            self.published += 1
            if warned:
                log.info("%s: clip %s reported after JetStream came back", self.name, msg.msg_id)
            return True
