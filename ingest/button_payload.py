"""The button wire format: parse and validate one MQTT message, or say exactly why not."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingest.types import PanicSignal, SignalKind

BUTTON_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
KINDS = {k.value for k in SignalKind}


@dataclass(frozen=True, slots=True)
class Reject:
    """Why a message was refused. `device_id` is what the topic claimed, if anything."""

    topic: str
    device_id: str | None
    reason: str  # oversize | bad_topic | malformed_json | invalid_payload | unknown_kind | unknown_button
    detail: str


def topic_button(topic: str, prefix: str, leaf: str) -> str | None:
    """`{prefix}/buttons/{id}/{leaf}` → id, or None."""
    parts = topic.split("/")
    head = prefix.split("/")
    if (
        len(parts) != len(head) + 3
        or parts[: len(head)] != head
        or parts[-3] != "buttons"
        or parts[-1] != leaf
    ):
        return None
    button_id = parts[-2]
    return button_id if BUTTON_ID.match(button_id) else None


def parse_ts(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError("ts must be unix seconds or an ISO 8601 string")
    if isinstance(value, int | float):
        ts = float(value) / (1000.0 if value > 1e11 else 1.0)
    elif isinstance(value, str):
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        ts = (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    else:
        raise ValueError("ts must be unix seconds or an ISO 8601 string")
    if not 0 < ts < 1e10:
        raise ValueError("ts out of range")
    return ts


def parse_event(
    topic: str, payload: bytes | bytearray, prefix: str, received_at: float, max_bytes: int
) -> PanicSignal | Reject:
    button_id = topic_button(topic, prefix, "event")
    if len(payload) > max_bytes:
        return Reject(topic, button_id, "oversize", f"{len(payload)} bytes > {max_bytes}")
    if button_id is None:
        return Reject(topic, None, "bad_topic", "expected {prefix}/buttons/{id}/event")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, too-long integers, deep nesting
        return Reject(topic, button_id, "malformed_json", str(exc)[:120])
    if not isinstance(data, dict):
        return Reject(topic, button_id, "invalid_payload", "payload must be a JSON object")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        return Reject(topic, button_id, "unknown_kind", f"kind {str(kind)[:32]!r} not in {sorted(KINDS)}")
    try:
        device_ts = parse_ts(data.get("ts"))
        seq = data.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**63:
            raise ValueError("seq must be a non-negative integer")
        boot = data.get("boot", 0)
        if isinstance(boot, bool) or not isinstance(boot, int) or not 0 <= boot < 2**63:
            raise ValueError("boot must be a non-negative integer")
    except (ValueError, OverflowError) as exc:
        return Reject(topic, button_id, "invalid_payload", str(exc)[:120])
    extra = {k: v for k, v in data.items() if k not in ("kind", "ts", "seq", "boot")}
    return PanicSignal(button_id, SignalKind(kind), device_ts, received_at, seq, boot, extra)


def parse_status(topic: str, payload: bytes | bytearray, prefix: str) -> tuple[str, bool] | Reject:
    """Presence: `online` / `offline`, as plain text or {"status": ...}."""
    button_id = topic_button(topic, prefix, "status")
    if button_id is None:
        return Reject(topic, None, "bad_topic", "expected {prefix}/buttons/{id}/status")
    text = payload[:256].decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            text = str(json.loads(text).get("status", ""))
        except (json.JSONDecodeError, AttributeError):
            return Reject(topic, button_id, "malformed_json", "status is not valid JSON")
    if text not in ("online", "offline"):
        return Reject(topic, button_id, "invalid_payload", "status must be online or offline")
    return button_id, text == "online"


def parse_message(
    topic: str,
    payload: bytes | bytearray,
    prefix: str,
    received_at: float,
    max_bytes: int,
    known: Callable[[str], bool],
) -> PanicSignal | tuple[str, bool] | Reject:
    """One MQTT message on a button topic: a signal, a presence status (button id, online), or why not.
    Shared by the local listener and `--role ingest`, so both accept and refuse exactly the same."""
    if topic.endswith("/status"):
        status = parse_status(topic, payload, prefix)
        if isinstance(status, Reject):
            return status
        if not known(status[0]):
            return Reject(topic, status[0], "unknown_button", "not in config")
        return status
    parsed = parse_event(topic, payload, prefix, received_at, max_bytes)
    if isinstance(parsed, Reject):
        return parsed
    if not known(parsed.button_id):
        return Reject(topic, parsed.button_id, "unknown_button", "not in config")
    return parsed
