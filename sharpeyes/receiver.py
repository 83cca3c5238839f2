"""A small webhook receiver that verifies Standard Webhooks signatures: for demos, drills and tests.

It dedupes on webhook-id (as a real receiver must, since delivery is at least once) and can be told
to fail (status code, delay) to exercise retries."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alarms.delivery.signing import secret_key, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Received:
    webhook_id: str
    received_at: float
    body: dict[str, Any]


@dataclass(slots=True)
class Behaviour:
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender that dies mid-request (a killed service) is normal here, not a traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            log.debug("connection from %s dropped: %s", client_address, exc)
        else:
            super().handle_error(request, client_address)


class DispatchReceiver:
    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = 0, path: str = "/hook") -> None:
        self.key = secret_key(secret)
        self.path = path
        self.behaviour = Behaviour()
        self.received: dict[str, Received] = {}
        self.attempts = 0
        self.bad_signatures = 0
        self.duplicates = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._server = _Server((host, port), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> DispatchReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, name="receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, predicate: Callable[[dict[str, Received]], bool], timeout: float) -> bool:
        """Wait until predicate(received) is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def _accept(self, msg_id: str, body: dict[str, Any]) -> None:
        with self._cond:
            if msg_id in self.received:
                self.duplicates += 1
            else:
                self.received[msg_id] = Received(msg_id, time.time(), body)
            self._cond.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                receiver.attempts += 1
                b = receiver.behaviour
                if b.delay_s:
                    time.sleep(b.delay_s)
                msg_id = self.headers.get("webhook-id", "")
                ok = self.path == receiver.path and verify(
                    receiver.key,
                    msg_id,
                    self.headers.get("webhook-timestamp", "0"),
                    body,
                    self.headers.get("webhook-signature", ""),
                )
                if not ok:
                    receiver.bad_signatures += 1
                    self._reply(401)
                    return
                if b.status < 300:
                    receiver._accept(msg_id, json.loads(body))
                self._reply(b.status, b.headers)

            def _reply(self, code: int, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-length", "0")
                self.end_headers()

        return Handler
