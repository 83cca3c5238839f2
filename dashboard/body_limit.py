"""Request bodies are checked before any endpoint sees them: larger than the limit (whether or not the
client sent a Content-Length; chunked bodies are counted as they arrive) → 413, JSON nested deeper than
a person would ever write → 422. Both are answered without parsing, so a hostile body costs at most
`limit` bytes of memory and one linear scan, never a RecursionError (a 500) in the JSON parser."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 65536
MAX_JSON_DEPTH = 32

_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif byte in _CLOSE:
            depth -= 1
    return deepest


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Pure ASGI (no BaseHTTPMiddleware), so streaming responses such as the event stream pass untouched."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY_BYTES,
        max_depth: int = MAX_JSON_DEPTH,
        upload_limit: int = 0,
    ) -> None:
        self.app = app
        self.limit = limit
        self.max_depth = max_depth
        self.upload_limit = upload_limit  # field photos (dashboard/photo_api.py): streamed, checked there

    def _upload(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        return bool(self.upload_limit) and path.startswith("/api/field/") and path.endswith("/photos")

    async def _pass_upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A photo streams through unbuffered; a declared length over the limit is refused at once."""
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.upload_limit):
            await _answer(send, 413, f"body larger than {self.upload_limit} bytes")
            return
        await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._upload(scope):
            await self._pass_upload(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _answer(send, 413, f"body larger than {self.limit} bytes")
            return
        if length is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body at all (GET, SSE): nothing to read ahead
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away mid-body
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _answer(send, 413, f"body larger than {self.limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").lower()
        if b"json" in content_type and json_depth(body) > self.max_depth:
            await _answer(send, 422, f"JSON nested deeper than {self.max_depth} levels")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
