"""Observations on NATS JetStream: the wire format, the stream and an async publisher.

A shard calls the same three engine methods the local video pipeline calls (observe, raise, clear); here each
call becomes one JetStream message whose `Nats-Msg-Id` is the observation's event_id, so the repeats of a
restarted shard (or of an old and a new owner) are dropped by the server inside the duplicate window, and by
the engine's `seen_events` after it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from alarms.engine import Trigger
from alarms.grids import Placement
from jetstream import streams

SUBJECT_ROOT = "sharpeyes.obs"
Op = Literal["observe", "raise", "clear"]
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9_\-:]")  # '.', '*', '>' and spaces would split or widen a subject


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One engine call, as it travels: `op` names it; clear carries category/source instead of a trigger."""

    op: Op
    trigger: Trigger | None = None
    cleared: bool = False
    category: str = ""
    source_id: str = ""
    note: str = ""
    ts: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def msg_id(self) -> str:
        """JetStream's dedup key: the event id; a clear is keyed by what it clears and when."""
        if self.trigger is not None and self.trigger.event_id:
            return self.trigger.event_id
        if self.trigger is not None:
            t = self.trigger
            return f"{self.op}:{t.category}:{t.source_id}:{round(t.ts * 1000)}"
        return f"clear:{self.category}:{self.source_id}:{round(self.ts * 1000)}"

    @property
    def source(self) -> str:
        return self.trigger.source_id if self.trigger is not None else self.source_id

    @property
    def grid(self) -> str:
        return self.trigger.placement.grid_id if self.trigger is not None else "_"

    def subject(self) -> str:
        """Per grid and source, so a consumer (or a mirror) can pick a district's part."""
        return f"{SUBJECT_ROOT}.{token(self.grid)}.{token(self.source)}"

    def encode(self) -> bytes:
        doc: dict[str, Any] = {"v": 1, "op": self.op}
        if self.trigger is not None:
            t = asdict(self.trigger)
            t["placement"]["cameras"] = list(self.trigger.placement.cameras)
            doc["trigger"] = t
            doc["cleared"] = self.cleared
        else:
            doc |= {"category": self.category, "source_id": self.source_id, "note": self.note, "ts": self.ts}
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, data: bytes) -> BusMessage:
        """ValueError for anything malformed: the consumer terminates such a message instead of looping."""
        try:
            doc = json.loads(data)
            op = doc["op"]
            if op not in ("observe", "raise", "clear") or doc.get("v") != 1:
                raise ValueError(f"unknown op or version: {op!r} v{doc.get('v')!r}")
            if op == "clear":
                return cls(
                    "clear",
                    category=str(doc["category"]),
                    source_id=str(doc["source_id"]),
                    note=str(doc.get("note", "")),
                    ts=float(doc["ts"]),
                )
            t = dict(doc["trigger"])
            p = t.pop("placement")
            placement = Placement(
                p["grid_id"],
                p["community_id"],
                p["street_id"],
                tuple(p.get("cameras", ())),
                p.get("location") or {},
                p.get("place") or {},
            )
            return cls(op, trigger=Trigger(placement=placement, **t), cleared=bool(doc.get("cleared")))
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"bad observation message: {exc}") from exc


def token(value: str) -> str:
    return _TOKEN_UNSAFE.sub("_", value) or "_"


async def ensure_stream(js: Any, name: str, replicas: int = 1, duplicate_window_s: float = 600.0) -> None:
    """The observation stream: kept 7 days for replay and audit; the durable consumer tracks progress."""
    await streams.ensure_stream(
        js, name, SUBJECT_ROOT, replicas=replicas, duplicate_window_s=duplicate_window_s, max_age_s=7 * 86400
    )


class ObservationPublisher:
    """Publishes and waits for JetStream's ack: a returned call means the observation is stored."""

    def __init__(self, js: Any, stream: str, timeout_s: float = 5.0) -> None:
        self.js = js
        self.stream = stream
        self.timeout_s = timeout_s
        self.published = 0
        self.duplicates = 0

    async def publish(self, msg: BusMessage) -> bool:
        """True when stored now, False when JetStream recognised a repeat (same msg id in the window)."""
        ack = await self.js.publish(
            msg.subject(),
            msg.encode(),
            timeout=self.timeout_s,
            stream=self.stream,
            headers={"Nats-Msg-Id": msg.msg_id},
        )
        if ack.duplicate:
            self.duplicates += 1
            return False
        self.published += 1
        return True
