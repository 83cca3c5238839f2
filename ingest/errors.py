"""Turn decoder failures into short, stable, credential-free messages an operator can act on.

FFmpeg reports most failures as a bare errno ("Invalid data found", "Input/output error"); the useful part is
often only in its log ("Connection to tcp://… failed: No route to host"). :func:`classify` reads both.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Sequence

from ingest.redact import redact_text


class StreamError(Exception):
    """A classified failure: ``reason`` is the stable short text; ``permanent``: retrying soon won't help."""

    def __init__(self, reason: str, detail: str = "", *, permanent: bool = False) -> None:
        super().__init__(f"{reason} ({detail})" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.permanent = permanent


CONNECTION_REFUSED = "connection refused"
HOST_UNREACHABLE = "host unreachable"
HOST_NOT_FOUND = "host not found"
TIMED_OUT = "timed out"
UNAUTHORIZED = "unauthorized (check credentials)"
NOT_FOUND = "stream not found"
FILE_NOT_FOUND = "file not found"
NOT_VIDEO = "not a video (invalid data)"
NO_VIDEO_STREAM = "no video stream"
UNSUPPORTED_CODEC = "unsupported codec"
END_OF_STREAM = "end of stream"
STALLED = "stalled"
PERMISSION_DENIED = "permission denied"

# (substring of an FFmpeg log line or error text, reason, permanent), first match wins.
_LOG_PATTERNS: tuple[tuple[str, str, bool], ...] = (
    ("401 unauthorized", UNAUTHORIZED, False),
    ("401 (unauthorized)", UNAUTHORIZED, False),
    ("403 forbidden", UNAUTHORIZED, False),
    ("403 (forbidden)", UNAUTHORIZED, False),
    ("404 not found", NOT_FOUND, False),
    ("404 (not found)", NOT_FOUND, False),
    ("server returned 404", NOT_FOUND, False),
    ("server returned 401", UNAUTHORIZED, False),
    ("failed to resolve hostname", HOST_NOT_FOUND, False),
    ("name or service not known", HOST_NOT_FOUND, False),
    ("no route to host", HOST_UNREACHABLE, False),
    ("network is unreachable", HOST_UNREACHABLE, False),
    ("host is unreachable", HOST_UNREACHABLE, False),
    ("connection refused", CONNECTION_REFUSED, False),
    ("connection timed out", TIMED_OUT, False),
    ("immediate exit requested", TIMED_OUT, False),
    ("moov atom not found", NOT_VIDEO, True),
)
_ERRNOS: dict[int, tuple[str, bool]] = {
    errno.ECONNREFUSED: (CONNECTION_REFUSED, False),
    errno.EHOSTUNREACH: (HOST_UNREACHABLE, False),
    errno.ENETUNREACH: (HOST_UNREACHABLE, False),
    errno.ETIMEDOUT: (TIMED_OUT, False),
    errno.ENOENT: (FILE_NOT_FOUND, True),
    errno.EACCES: (PERMISSION_DENIED, True),
    errno.EPERM: (PERMISSION_DENIED, True),
}


def classify(exc: BaseException, logs: Sequence[str] = (), secrets: Iterable[str] = ()) -> StreamError:
    """Map an exception (plus recent FFmpeg log lines) to a :class:`StreamError` with a redacted detail."""
    if isinstance(exc, StreamError):
        return exc
    secrets = tuple(secrets)
    # PyAV appends the process-wide last FFmpeg error, possibly another camera's: keep only our own part.
    text = str(exc).split("; last error log:", 1)[0]
    by_type = _by_type(exc)
    if by_type is not None:
        reason, permanent = by_type
        detail = redact_text(logs[-1].strip() if logs else text, secrets)[:300]
        return StreamError(reason, detail, permanent=permanent)
    last_log = logs[-1].strip() if logs else ""
    detail = redact_text(last_log or text, secrets)[:300]
    for line in (*reversed(logs), text):
        low = line.lower()
        for needle, reason, permanent in _LOG_PATTERNS:
            if needle in low:
                return StreamError(reason, detail, permanent=permanent)
    code = getattr(exc, "errno", None)
    if isinstance(code, int) and code in _ERRNOS:
        reason, permanent = _ERRNOS[code]
        return StreamError(reason, detail, permanent=permanent)
    if isinstance(exc, TimeoutError):
        return StreamError(TIMED_OUT, detail)
    if isinstance(exc, EOFError) or "end of file" in text.lower():
        return StreamError(END_OF_STREAM, detail)
    if "invalid data found" in text.lower():
        return StreamError(NOT_VIDEO, detail, permanent=True)
    if "decoder not found" in text.lower() or "codec not" in text.lower():
        return StreamError(UNSUPPORTED_CODEC, detail, permanent=True)
    name = type(exc).__name__
    return StreamError(f"{name}: {redact_text(text, secrets)[:200]}", redact_text(last_log, secrets)[:300])


# PyAV exception class names (matched by name so this module needs no av import).
_TYPES: dict[str, tuple[str, bool]] = {
    "HTTPUnauthorizedError": (UNAUTHORIZED, False),
    "HTTPForbiddenError": (UNAUTHORIZED, False),
    "HTTPNotFoundError": (NOT_FOUND, False),
    "DecoderNotFoundError": (UNSUPPORTED_CODEC, True),
    "ExitError": (TIMED_OUT, False),
}


def _by_type(exc: BaseException) -> tuple[str, bool] | None:
    for cls in type(exc).__mro__:
        if cls.__name__ in _TYPES:
            return _TYPES[cls.__name__]
    return None
