"""Property tests for the button wire format: whatever arrives, parsing answers and never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.button_payload import Reject, parse_event, parse_status
from ingest.types import PanicSignal, SignalKind

PREFIX = "sharpeyes"
TOPIC = "sharpeyes/buttons/B-001/event"
KINDS = [k.value for k in SignalKind]
FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
topics = st.one_of(
    st.just(TOPIC),
    st.text(max_size=60),
    st.builds(lambda b: f"{PREFIX}/buttons/{b}/event", st.text(max_size=70)),
)


def _check(out: PanicSignal | Reject, topic: str, payload: bytes, max_bytes: int) -> None:
    assert isinstance(out, PanicSignal | Reject)
    if isinstance(out, Reject):
        assert out.topic == topic
        assert out.reason in {"oversize", "bad_topic", "malformed_json", "invalid_payload", "unknown_kind"}
        if len(payload) > max_bytes:
            assert out.reason == "oversize"
    else:
        assert len(payload) <= max_bytes
        assert out.kind in SignalKind
        assert 0 < out.device_ts < 1e10
        assert 0 <= out.seq < 2**63 and 0 <= out.boot < 2**63
        assert not {"kind", "ts", "seq", "boot"} & set(out.extra)


@FAST
@given(topic=topics, payload=st.binary(max_size=600), max_bytes=st.integers(64, 8192))
def test_arbitrary_bytes_never_raise(topic: str, payload: bytes, max_bytes: int) -> None:
    _check(parse_event(topic, payload, PREFIX, 1.0, max_bytes), topic, payload, max_bytes)


@FAST
@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            "kind": st.sampled_from(KINDS) | json_values,
            "ts": st.integers(-(10**20), 10**20)
            | st.floats()
            | st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat)
            | json_values,
            "seq": st.integers(-(2**64), 2**64) | json_values,
            "boot": st.integers(-5, 2**64) | json_values,
            "extra": json_values,
        },
    ),
    max_bytes=st.sampled_from([64, 4096, 1_000_000]),
)
def test_json_objects_never_raise(fields: dict, max_bytes: int) -> None:  # type: ignore[type-arg]
    payload = json.dumps(fields).encode()
    _check(parse_event(TOPIC, payload, PREFIX, 1.0, max_bytes), TOPIC, payload, max_bytes)


@FAST
@given(
    kind=st.sampled_from(KINDS),
    ts=st.floats(1.0, 9e9),
    seq=st.integers(0, 2**63 - 1),
    boot=st.integers(0, 2**63 - 1),
    iso=st.booleans(),
    extra=st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda k: k not in ("kind", "ts", "seq", "boot")),
        st.integers() | st.text(max_size=10),
        max_size=3,
    ),
)
def test_valid_payloads_round_trip(kind: str, ts: float, seq: int, boot: int, iso: bool, extra: dict) -> None:  # type: ignore[type-arg]
    wire_ts: float | str = datetime.fromtimestamp(ts, UTC).isoformat() if iso else ts
    payload = json.dumps({"kind": kind, "ts": wire_ts, "seq": seq, "boot": boot, **extra}).encode()
    out = parse_event(TOPIC, payload, PREFIX, 5.0, 1_000_000)
    assert isinstance(out, PanicSignal), out
    assert (out.button_id, out.kind.value, out.seq, out.boot, out.extra) == ("B-001", kind, seq, boot, extra)
    assert abs(out.device_ts - ts) < 1e-5
    assert out.received_at == 5.0


@FAST
@given(topic=topics | st.just("sharpeyes/buttons/B-001/status"), payload=st.binary(max_size=300))
def test_status_never_raises(topic: str, payload: bytes) -> None:
    out = parse_status(topic, payload, PREFIX)
    assert isinstance(out, Reject) or (
        isinstance(out, tuple) and out[0] == "B-001" and out[1] in (True, False)
    )
