"""Standard Webhooks signatures: ours verify with the reference `standardwebhooks` library and back."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from alarms.delivery.signing import headers, secret_key, sign, verify

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = '{"type":"incident.created","data":{"id":1,"title":"一键报警求助 · B-001"}}'.encode()


@pytest.mark.parametrize(
    ("secret", "key"),
    [
        (WHSEC, b"0123456789abcdef0123456789abcdef"),
        ("whsec_" + base64.b64encode(b"\x00\xff\x10").decode(), b"\x00\xff\x10"),
        ("plain-secret", b"plain-secret"),
        ("whsec", b"whsec"),  # no underscore: not the whsec_ form
    ],
)
def test_secret_key(secret: str, key: bytes) -> None:
    assert secret_key(secret) == key


@pytest.mark.parametrize("body", [BODY, b"{}", b"", "π ≈ 3.14".encode()])
@pytest.mark.parametrize("msg_id", ["msg_1", "msg_2f9c0e4b8b6d4f0f9f1e2d3c4b5a6978"])
def test_reference_library_verifies_ours(body: bytes, msg_id: str) -> None:
    ts = int(time.time())
    h = headers(secret_key(WHSEC), msg_id, ts, body)
    assert h["webhook-id"] == msg_id and h["webhook-timestamp"] == str(ts)
    assert h["content-type"] == "application/json"
    Webhook(WHSEC).verify(body, h, json_parse=False)  # raises unless the signature matches
    assert verify(secret_key(WHSEC), msg_id, str(ts), body, h["webhook-signature"])


def test_ours_verifies_reference_signature() -> None:
    ts = int(time.time())
    sig = Webhook(WHSEC).sign("msg_x", datetime.fromtimestamp(ts, UTC), BODY.decode())
    assert sig == sign(secret_key(WHSEC), "msg_x", ts, BODY)
    assert verify(secret_key(WHSEC), "msg_x", str(ts), BODY, sig)


@pytest.mark.parametrize(
    "change",
    ["body", "id", "timestamp", "secret", "signature"],
)
def test_tampering_fails(change: str) -> None:
    key = secret_key(WHSEC)
    ts = int(time.time())
    h = headers(key, "msg_1", ts, BODY)
    args = {"key": key, "msg_id": "msg_1", "timestamp": str(ts), "body": BODY, "sig": h["webhook-signature"]}
    if change == "body":
        args["body"] = BODY.replace(b'"id":1', b'"id":2')
    elif change == "id":
        args["msg_id"] = "msg_2"
    elif change == "timestamp":
        args["timestamp"] = str(ts + 1)
    elif change == "secret":
        args["key"] = b"another key"
    else:
        raw = bytearray(base64.b64decode(h["webhook-signature"].removeprefix("v1,")))
        raw[0] ^= 1
        args["sig"] = "v1," + base64.b64encode(bytes(raw)).decode()
    assert not verify(args["key"], args["msg_id"], args["timestamp"], args["body"], args["sig"])
    if change in ("body", "id", "secret", "signature"):
        tampered = {**h, "webhook-id": args["msg_id"], "webhook-signature": args["sig"]}
        secret = WHSEC if change != "secret" else "whsec_" + base64.b64encode(b"another key").decode()
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(args["body"], tampered, json_parse=False)


def test_any_of_several_signatures() -> None:
    """Key rotation: the header may carry several space-separated signatures."""
    key = secret_key(WHSEC)
    good = sign(key, "msg_1", 1_700_000_000, BODY)
    old = sign(b"old key", "msg_1", 1_700_000_000, BODY)
    assert verify(key, "msg_1", "1700000000", BODY, f"{old} {good}")
    assert not verify(key, "msg_1", "1700000000", BODY, f"{old} {old}")
    assert not verify(key, "msg_1", "1700000000", BODY, "")


def test_signature_format() -> None:
    sig = sign(b"k", "msg_1", 1, b"x")
    version, _, mac = sig.partition(",")
    assert version == "v1" and len(base64.b64decode(mac)) == 32


@pytest.mark.parametrize("timestamp", ["", "abc", "1.5", "12a"])
def test_malformed_timestamp_fails_without_raising(timestamp: str) -> None:
    key = secret_key(WHSEC)
    assert verify(key, "msg_1", timestamp, BODY, sign(key, "msg_1", 0, BODY)) is False
