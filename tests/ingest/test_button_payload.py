"""The button wire format: good payloads become a PanicSignal, bad ones a Reject with the exact reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ingest.button_payload import Reject, parse_event, parse_status, parse_ts, topic_button
from ingest.types import PanicSignal, SignalKind

PREFIX = "sharpeyes"
TOPIC = "sharpeyes/buttons/B-001/event"
RECEIVED = 1_800_000_000.5
ISO_TS = 1_714_564_800.0  # 2024-05-01T12:00:00Z


def parse(
    payload: bytes | dict[str, Any] | list[Any],
    topic: str = TOPIC,
    prefix: str = PREFIX,
    max_bytes: int = 4096,
):  # type: ignore[no-untyped-def]
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_event(topic, raw, prefix, RECEIVED, max_bytes)


@pytest.mark.parametrize(
    ("payload", "kind", "device_ts", "seq", "boot", "extra"),
    [
        ({"kind": "press", "ts": 1714564800, "seq": 1}, "press", ISO_TS, 1, 0, {}),
        ({"kind": "press", "ts": 1714564800.25, "seq": 2}, "press", ISO_TS + 0.25, 2, 0, {}),
        ({"kind": "press", "ts": 1714564800123, "seq": 3}, "press", ISO_TS + 0.123, 3, 0, {}),  # ms
        ({"kind": "cancel", "ts": "2024-05-01T12:00:00Z", "seq": 4}, "cancel", ISO_TS, 4, 0, {}),
        (
            {"kind": "heartbeat", "ts": "2024-05-01T12:00:00.5+00:00", "seq": 5},
            "heartbeat",
            ISO_TS + 0.5,
            5,
            0,
            {},
        ),
        ({"kind": "tamper", "ts": "2024-05-01T20:00:00+08:00", "seq": 6}, "tamper", ISO_TS, 6, 0, {}),
        (
            {"kind": "low_battery", "ts": "2024-05-01T12:00:00", "seq": 7},
            "low_battery",
            ISO_TS,
            7,
            0,
            {},
        ),  # naive=UTC
        ({"kind": "press", "ts": 1714564800, "seq": 0, "boot": 3}, "press", ISO_TS, 0, 3, {}),
        (
            {"kind": "heartbeat", "ts": 1714564800, "seq": 2**63 - 1, "battery": 87, "rssi": -70},
            "heartbeat",
            ISO_TS,
            2**63 - 1,
            0,
            {"battery": 87, "rssi": -70},
        ),
    ],
)
def test_good_payloads(payload, kind, device_ts, seq, boot, extra) -> None:  # type: ignore[no-untyped-def]
    sig = parse(payload)
    assert isinstance(sig, PanicSignal)
    assert (sig.button_id, sig.kind, sig.seq, sig.boot, sig.extra) == (
        "B-001",
        SignalKind(kind),
        seq,
        boot,
        extra,
    )
    assert sig.device_ts == pytest.approx(device_ts, abs=1e-6)
    assert sig.received_at == RECEIVED
    assert sig.event_id == f"btn:B-001:{boot}:{seq}"


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "device_id"),
    [
        # oversize is judged first, even before the topic
        (TOPIC, {"kind": "press", "ts": 1714564800, "seq": 1, "pad": "x" * 5000}, "oversize", "B-001"),
        ("elsewhere/x", b"{" * 5000, "oversize", None),
        # bad topics
        ("sharpeyes/buttons/B-001/status", {"kind": "press", "ts": 1, "seq": 1}, "bad_topic", None),
        ("other/buttons/B-001/event", {"kind": "press", "ts": 1, "seq": 1}, "bad_topic", None),
        ("sharpeyes/button/B-001/event", {"kind": "press", "ts": 1, "seq": 1}, "bad_topic", None),
        ("sharpeyes/buttons/B-001/x/event", {"kind": "press", "ts": 1, "seq": 1}, "bad_topic", None),
        ("sharpeyes/buttons//event", {"kind": "press", "ts": 1, "seq": 1}, "bad_topic", None),
        ("sharpeyes/buttons/B 001/event", {"kind": "press", "ts": 1, "seq": 1}, "bad_topic", None),
        ("sharpeyes/buttons/" + "B" * 65 + "/event", {"kind": "press", "ts": 1, "seq": 1}, "bad_topic", None),
        # malformed JSON
        (TOPIC, b"", "malformed_json", "B-001"),
        (TOPIC, b"{", "malformed_json", "B-001"),
        (TOPIC, b"press", "malformed_json", "B-001"),
        (TOPIC, b"\xff\xfe\xfa", "malformed_json", "B-001"),
        (TOPIC, b'{"kind": "press", "ts": 1, "seq": 1,}', "malformed_json", "B-001"),
        # valid JSON, not an object
        (TOPIC, [1, 2], "invalid_payload", "B-001"),
        (TOPIC, b'"press"', "invalid_payload", "B-001"),
        (TOPIC, b"42", "invalid_payload", "B-001"),
        (TOPIC, b"null", "invalid_payload", "B-001"),
        # unknown kinds
        (TOPIC, {"kind": "explode", "ts": 1714564800, "seq": 1}, "unknown_kind", "B-001"),
        (TOPIC, {"kind": "PRESS", "ts": 1714564800, "seq": 1}, "unknown_kind", "B-001"),
        (TOPIC, {"ts": 1714564800, "seq": 1}, "unknown_kind", "B-001"),
        (TOPIC, {"kind": 1, "ts": 1714564800, "seq": 1}, "unknown_kind", "B-001"),
        (TOPIC, {"kind": None, "ts": 1714564800, "seq": 1}, "unknown_kind", "B-001"),
        (TOPIC, {"kind": ["press"], "ts": 1714564800, "seq": 1}, "unknown_kind", "B-001"),
        (TOPIC, {"kind": {"a": 1}, "ts": 1714564800, "seq": 1}, "unknown_kind", "B-001"),
        # invalid fields
        (TOPIC, {"kind": "press", "seq": 1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": None, "seq": 1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": True, "seq": 1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": [1], "seq": 1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 0, "seq": 1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": -5, "seq": 1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 1e10, "seq": 1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 1e300, "seq": 1}, "invalid_payload", "B-001"),
        (TOPIC, b'{"kind": "press", "ts": NaN, "seq": 1}', "invalid_payload", "B-001"),
        (TOPIC, b'{"kind": "press", "ts": Infinity, "seq": 1}', "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": "yesterday", "seq": 1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": "", "seq": 1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": "1900-01-01T00:00:00Z", "seq": 1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 1714564800}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 1714564800, "seq": -1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 1714564800, "seq": 1.0}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 1714564800, "seq": "1"}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 1714564800, "seq": True}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 1714564800, "seq": 2**63}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 1714564800, "seq": 1, "boot": -1}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 1714564800, "seq": 1, "boot": "x"}, "invalid_payload", "B-001"),
        (TOPIC, {"kind": "press", "ts": 1714564800, "seq": 1, "boot": False}, "invalid_payload", "B-001"),
    ],
)
def test_rejects(topic: str, payload, reason: str, device_id: str | None) -> None:  # type: ignore[no-untyped-def]
    out = parse(payload, topic=topic)
    assert isinstance(out, Reject), out
    assert (out.reason, out.device_id, out.topic) == (reason, device_id, topic)
    assert out.detail


def test_size_limit_is_inclusive() -> None:
    body = json.dumps({"kind": "press", "ts": 1714564800, "seq": 1}).encode()
    assert isinstance(parse(body, max_bytes=len(body)), PanicSignal)
    assert parse(body, max_bytes=len(body) - 1).reason == "oversize"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "max_bytes"),
    [(b"[" * 3000, 4096), (b"[" * 2000 + b"]" * 2000, 4096), (b'{"a":' * 5000 + b"1" + b"}" * 5000, 100_000)],
)
def test_deep_nesting_is_a_reject(body: bytes, max_bytes: int) -> None:
    """Deeper than Python's recursion limit (the first two within the default 4096-byte limit)."""
    out = parse(body, max_bytes=max_bytes)
    assert isinstance(out, Reject) and out.reason in ("malformed_json", "invalid_payload")


def test_huge_number_literal_is_a_reject() -> None:
    """A number too long for int() is refused, not raised (with a generous size limit)."""
    body = b'{"kind": "press", "ts": ' + b"9" * 5000 + b', "seq": 1}'
    out = parse(body, max_bytes=100_000)
    assert isinstance(out, Reject) and out.reason in ("malformed_json", "invalid_payload")


@pytest.mark.parametrize(
    ("prefix", "topic", "leaf", "button"),
    [
        ("sharpeyes", "sharpeyes/buttons/B-1/event", "event", "B-1"),
        ("city/district-7", "city/district-7/buttons/B_1.a:2/event", "event", "B_1.a:2"),
        ("city/district-7", "sharpeyes/buttons/B-1/event", "event", None),
        ("sharpeyes", "sharpeyes/buttons/B-1/status", "status", "B-1"),
        ("sharpeyes", "sharpeyes/buttons/B-1/status", "event", None),
        ("sharpeyes", "sharpeyes/buttons/B+1/event", "event", None),
        ("sharpeyes", "sharpeyes/buttons/#/event", "event", None),
    ],
)
def test_topic_button(prefix: str, topic: str, leaf: str, button: str | None) -> None:
    assert topic_button(topic, prefix, leaf) == button


def test_prefix_with_levels() -> None:
    sig = parse({"kind": "press", "ts": 1714564800, "seq": 1}, topic="a/b/buttons/X/event", prefix="a/b")
    assert isinstance(sig, PanicSignal) and sig.button_id == "X"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1714564800, ISO_TS),
        (1714564800.5, ISO_TS + 0.5),
        (1714564800500, ISO_TS + 0.5),
        (99_999_999_999, None),  # below the ms threshold, so seconds: year 5138 is out of range
        ("1900-01-01T00:00:00Z", None),
        ("2024-05-01T12:00:00Z", ISO_TS),
        ("2024-05-01T12:00:00.250Z", ISO_TS + 0.25),
        ("2024-05-01T14:00:00+02:00", ISO_TS),
        ("2024-05-01 12:00:00", ISO_TS),
        (datetime(2024, 5, 1, 12, tzinfo=UTC).isoformat(), ISO_TS),
    ],
)
def test_parse_ts(value, expected) -> None:  # type: ignore[no-untyped-def]
    if expected is None:
        with pytest.raises(ValueError):
            parse_ts(value)
    else:
        assert parse_ts(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("topic", "payload", "expected"),
    [
        ("sharpeyes/buttons/B-001/status", b"online", ("B-001", True)),
        ("sharpeyes/buttons/B-001/status", b"offline", ("B-001", False)),
        ("sharpeyes/buttons/B-001/status", b"  online\n", ("B-001", True)),
        ("sharpeyes/buttons/B-001/status", b'{"status": "offline"}', ("B-001", False)),
        ("sharpeyes/buttons/B-001/status", b"ONLINE", "invalid_payload"),
        ("sharpeyes/buttons/B-001/status", b"", "invalid_payload"),
        ("sharpeyes/buttons/B-001/status", b'{"status": 1}', "invalid_payload"),
        ("sharpeyes/buttons/B-001/status", b"{oops", "malformed_json"),
        ("sharpeyes/buttons/B-001/status", b"[1]", "invalid_payload"),
        ("sharpeyes/buttons/B-001/event", b"online", "bad_topic"),
    ],
)
def test_parse_status(topic: str, payload: bytes, expected) -> None:  # type: ignore[no-untyped-def]
    out = parse_status(topic, payload, PREFIX)
    if isinstance(expected, tuple):
        assert out == expected
    else:
        assert isinstance(out, Reject) and out.reason == expected
