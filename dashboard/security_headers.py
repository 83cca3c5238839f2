"""Security headers on every response, pages and API alike, so a route added later is covered without
remembering to. Headers a route sets itself (the operator page's strict CSP, a snapshot's private cache)
are kept; only missing ones are filled in."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"  # JSON never needs to load or run anything
HTML_CSP = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"  # pages without their own policy
HSTS = "max-age=31536000"
CACHEABLE = ("/static/", "/docs-static/")  # versioned assets revalidate with their own headers


class SecurityHeaders:
    """Pure ASGI (no BaseHTTPMiddleware), so the event stream is not buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                html = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("content-security-policy", HTML_CSP if html else API_CSP)
                if not path.startswith(CACHEABLE):
                    headers.setdefault("cache-control", "no-store")
                if https:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
