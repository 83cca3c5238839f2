"""Evidence over HTTP, whatever storage holds it (video/evidence_store.py).

A local file (the folder storage) is served as before: Starlette's FileResponse, sendfile and byte ranges.
An object in S3 is streamed through this process — the store never has to be reachable from an operator's
browser, and the API's token, session or signed link stays the only way in — with one byte range per
request (what a browser's video element asks for when it seeks; several ranges get the whole object, as
HTTP allows). An unreachable store answers 503 with Retry-After, never a hang of the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.utils import formatdate
from typing import TypeVar

from fastapi import Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from dashboard.errors import CodedError
from video.evidence_store import EvidenceUnavailable, StoredObject

T = TypeVar("T")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
RETRY_AFTER_S = 5


@contextmanager
def store_errors() -> Iterator[None]:
    """EvidenceUnavailable → 503 `storage_unavailable` (counted by the store, said in the answer)."""
    try:
        yield
    except EvidenceUnavailable:
        exc = CodedError(503, "storage_unavailable", "evidence storage is not reachable; try again shortly")
        exc.headers = {"retry-after": str(RETRY_AFTER_S)}
        raise exc from None


def lookup(find: Callable[[], T]) -> T:
    with store_errors():
        return find()


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of one ``bytes=`` range, None for the whole object; ValueError when the range
    cannot be served (416)."""
    if not header:
        return None
    m = _RANGE.match(header.strip().replace(" ", ""))
    if m is None:
        return None  # several ranges, or another unit: the whole object
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            raise ValueError("empty suffix range")
        return max(0, size - n), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        raise ValueError("range outside the object")
    return start, end


def _if_range_holds(request: Request, obj: StoredObject, last_modified: str | None) -> bool:
    tag = request.headers.get("if-range")
    return tag is None or tag in (f'"{obj.etag}"', last_modified)


def evidence_response(
    request: Request,
    obj: StoredObject,
    media_type: str,
    *,
    filename: str | None = None,
    cache: str = "private, max-age=3600",
) -> Response:
    headers = {"cache-control": cache}
    if obj.path is not None:
        return FileResponse(obj.path, media_type=media_type, filename=filename, headers=headers)
    last_modified = formatdate(obj.modified, usegmt=True) if obj.modified is not None else None
    headers["accept-ranges"] = "bytes"
    if obj.etag:
        headers["etag"] = f'"{obj.etag}"'
    if last_modified:
        headers["last-modified"] = last_modified
    if filename is not None:
        headers["content-disposition"] = f'attachment; filename="{filename}"'
    try:
        span = byte_range(request.headers.get("range"), obj.size)
    except ValueError:
        return Response(status_code=416, headers={"content-range": f"bytes */{obj.size}"})
    if span is not None and not _if_range_holds(request, obj, last_modified):
        span = None
    start, end = span or (0, obj.size)
    with store_errors():
        try:
            body = obj.open_range(start, end)
        except FileNotFoundError:  # deleted between the lookup and now
            raise CodedError(404, "not_found", "no such evidence") from None
    headers["content-length"] = str(end - start)
    if span is not None:
        headers["content-range"] = f"bytes {start}-{end - 1}/{obj.size}"
    return StreamingResponse(body, 206 if span else 200, headers, media_type)
