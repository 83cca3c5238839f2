"""A core NATS connection on its own event-loop thread, for callers that live on plain threads.

Shard health and the live-video relay run beside a Ray actor's synchronous methods and beside FastAPI's
thread pool; they need a connection that neither blocks those threads nor waits for a caller's loop. Its own
connection (not the observation publisher's): live JPEG frames must never queue in front of an observation.
It connects in the background and keeps trying, so a NATS outage never stops a shard or an API process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from jetstream.config import DistributedConfig
from jetstream.connection import connect

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_S = (1.0, 5.0)  # first and longest pause between tries to connect (nats-py logs each failure)
Handler = Callable[[Any], Awaitable[None]]


class NatsLink:
    """`publish` and `subscribe` from any thread; callbacks run on the link's own loop."""

    def __init__(
        self, cfg: DistributedConfig, env: Mapping[str, str] | None = None, name: str = "link"
    ) -> None:
        self.cfg, self.env, self.name = cfg, env, name
        self.connected = threading.Event()
        self._nc: Any = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"nats-{name}", daemon=True)
        self._ready: asyncio.Event | None = None  # made on the loop, by _make_ready
        self._connecting: concurrent.futures.Future[None] | None = None
        self._closed = False
        self._sending: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks

    def start(self) -> None:
        """Returns at once; the connection comes up in the background (retried, at most 5 s apart)."""
        if self._thread.is_alive():
            return
        self._thread.start()
        self._ready = self.submit(_make_event()).result(5.0)
        self._connecting = asyncio.run_coroutine_threadsafe(self._connect(), self._loop)

    async def _connect(self) -> None:
        assert self._ready is not None
        warned, pause = False, RETRY_S[0]
        while not self._closed:
            try:
                self._nc = await connect(self.cfg, self.env, name=f"sharpeyes-{self.name}")
            except Exception as exc:  # loop boundary: NATS not reachable yet; keep trying
                if not warned:
                    log.warning("%s: NATS not reachable yet (%s); retrying", self.name, exc)
                    warned = True
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_S[1])
                continue
            self._ready.set()
            self.connected.set()
            if warned:
                log.info("%s: connected to NATS", self.name)
            return

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coro` on the link's loop (callers may wait on the future, or not)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _wait_ready(self) -> Any:
        assert self._ready is not None, "start() first"
        await self._ready.wait()
        return self._nc

    async def subscribe(self, subject: str, cb: Handler) -> Any:
        """On the loop: waits for the connection, then subscribes (nats-py re-subscribes after reconnects)."""
        nc = await self._wait_ready()
        return await nc.subscribe(subject, cb=cb)

    def publish(self, subject: str, data: bytes, headers: dict[str, str] | None = None) -> bool:
        """Fire and forget from any thread; False (nothing sent) while not connected."""
        nc = self._nc
        if nc is None or not nc.is_connected or self._loop.is_closed():
            return False
        try:
            self._loop.call_soon_threadsafe(self._send, subject, data, headers)
        except RuntimeError:  # the loop closed meanwhile
            return False
        return True

    def _send(self, subject: str, data: bytes, headers: dict[str, str] | None) -> None:
        task = self._loop.create_task(self._nc.publish(subject, data, headers=headers))
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:  # a full outbound buffer, say
            log.debug("%s: NATS publish failed: %s", self.name, task.exception())

    def close(self, timeout: float = 5.0) -> None:
        """Flushes what was published, closes the connection and ends the thread."""
        self._closed = True
        if not self._thread.is_alive():
            return
        if self._connecting is not None:
            self._connecting.cancel()
        nc = self._nc
        if nc is not None:
            with contextlib.suppress(Exception):  # closing anyway
                self.submit(nc.drain() if nc.is_connected else nc.close()).result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()  # later publishes answer False instead of queueing on a dead loop


async def _make_event() -> asyncio.Event:
    return asyncio.Event()
