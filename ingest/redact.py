"""Keep camera credentials out of logs, metrics, errors and API output.

RTSP URLs carry passwords (``rtsp://user:pass@host/x``) and FFmpeg echoes the URL in its errors, so every
string that leaves a reader goes through :func:`redact_text`, and every URL through :func:`redact_url`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_PARAMS = frozenset(
    {"password", "passwd", "pwd", "pass", "token", "key", "auth", "secret", "signature"}
)
# scheme://user:password@ in free text; the password runs to the last '@' before whitespace or a quote.
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]*):(?P<pw>[^\s'\"]*)@")
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&;](?:" + "|".join(sorted(_SECRET_PARAMS)) + r")=)(?P<val>[^&\s'\"#]*)", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """``rtsp://user:pass@host/x`` → ``rtsp://user:***@host/x``; secret query parameters are masked too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if not parts.scheme or not parts.netloc:
        return redact_text(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if colon else f"{user}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
            query = urlencode([(k, MASK if k.lower() in _SECRET_PARAMS else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_secrets(url: str) -> tuple[str, ...]:
    """The literal secrets in a URL (password and secret query values, raw and percent-decoded forms)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    found: list[str] = []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k.lower() in _SECRET_PARAMS:
            found.append(v)
    forms = {form for s in found for form in (s, unquote(s), quote(unquote(s), safe="")) if form}
    return tuple(sorted(forms, key=len, reverse=True))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask URL passwords, secret query values and the given literal secrets anywhere in ``text``."""
    out = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
    out = _QUERY_SECRET.sub(lambda m: f"{m['head']}{MASK}", out)
    for secret in secrets:
        if secret and len(secret) >= 3:
            out = out.replace(secret, MASK)
    return out
