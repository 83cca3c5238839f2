"""Standard Webhooks signatures: v1,<base64 HMAC-SHA256 of "id.timestamp.body">."""

from __future__ import annotations

import base64
import hashlib
import hmac


def secret_key(secret: str) -> bytes:
    """`whsec_<base64>` secrets are decoded, as the spec says; anything else is used as raw bytes."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(key: bytes, msg_id: str, timestamp: str, body: bytes, signature_header: str) -> bool:
    """True when any of the space-separated v1 signatures matches (constant-time compare)."""
    try:
        expected = sign(key, msg_id, int(timestamp), body)
    except ValueError:  # a malformed webhook-timestamp header is a failed check, not a crash
        return False
    return any(hmac.compare_digest(expected, sig) for sig in signature_header.split())
