"""Button messages as `--role ingest` hands them to the engines (the stream is in ``jetstream.buttons``).

A stream of its own (`SHARPEYES_BUTTONS`, subjects `sharpeyes.buttons.>`), not the observation stream: the
engines pull it with a consumer of its own, so a backlog of camera observations in a storm never queues ahead
of a panic press, and presses keep their own retention. `Nats-Msg-Id` is the press's event id (button, boot,
seq), so a QoS 1 redelivery or a press seen by two ingest processes is stored once inside the duplicate
window; the engine's `seen_events` drops a later repeat.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from ingest.types import PanicSignal, SignalKind

BUTTON_SUBJECT_ROOT = "sharpeyes.buttons"
ButtonOp = Literal["signal", "status", "reject"]
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9_\-:]")


def _token(value: str) -> str:
    return _TOKEN_UNSAFE.sub("_", value) or "_"


@dataclass(frozen=True, slots=True)
class ButtonMessage:
    """One MQTT message's meaning: a signal (press, heartbeat, …), a presence status, or a rejected
    message from a device the engine records (as the local path records it)."""

    op: ButtonOp
    button_id: str
    ts: float  # when the ingest process received it
    signal: PanicSignal | None = None
    online: bool = False
    topic: str = ""
    reason: str = ""

    @property
    def msg_id(self) -> str:
        """JetStream's dedup key. A signal's is its event id; status and reject have none of their own, so a
        redelivery (new receive time) is stored again: both are idempotent at the engine."""
        if self.signal is not None:
            return self.signal.event_id
        if self.op == "status":
            return f"status:{self.button_id}:{int(self.online)}:{round(self.ts * 1000)}"
        return f"reject:{self.button_id}:{self.reason}:{round(self.ts * 1000)}"

    def subject(self) -> str:
        return f"{BUTTON_SUBJECT_ROOT}.{self.op}.{_token(self.button_id)}"

    def encode(self) -> bytes:
        doc: dict[str, Any] = {"v": 1, "op": self.op, "button_id": self.button_id, "ts": self.ts}
        if self.signal is not None:
            s = self.signal
            doc["signal"] = {
                "kind": s.kind.value,
                "device_ts": s.device_ts,
                "received_at": s.received_at,
                "seq": s.seq,
                "boot": s.boot,
                "extra": s.extra,
            }
        elif self.op == "status":
            doc["online"] = self.online
        else:
            doc |= {"topic": self.topic, "reason": self.reason}
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, data: bytes) -> ButtonMessage:
        """ValueError for anything malformed: the engine terminates such a message instead of looping."""
        try:
            doc = json.loads(data)
            op, button_id, ts = doc["op"], str(doc["button_id"]), float(doc["ts"])
            if doc.get("v") != 1 or op not in ("signal", "status", "reject"):
                raise ValueError(f"unknown op or version: {op!r} v{doc.get('v')!r}")
            if op == "signal":
                s = doc["signal"]
                sig = PanicSignal(
                    button_id,
                    SignalKind(s["kind"]),
                    float(s["device_ts"]),
                    float(s["received_at"]),
                    int(s["seq"]),
                    int(s.get("boot", 0)),
                    dict(s.get("extra") or {}),
                )
                return cls("signal", button_id, ts, signal=sig)
            if op == "status":
                return cls("status", button_id, ts, online=bool(doc["online"]))
            return cls("reject", button_id, ts, topic=str(doc["topic"]), reason=str(doc["reason"]))
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"bad button message: {exc}") from exc
