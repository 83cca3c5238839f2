"""Incident push across processes: every committed incident change reaches every API process's live stream.

An engine commits in whichever process applied the observation, button press or operator action; the page's
SSE stream (`/api/events`) is served by whichever API process the browser reached. Each process therefore
publishes its committed changes (the same JSON its own PushHub gets) on one core NATS subject, and every API
process feeds what the others published into its PushHub. Core NATS, not JetStream: live push is a hint to
repaint, the incidents themselves are read from PostgreSQL, so an event lost while a process reconnects is
seen on the next reload or poll, never lost from the record. When an API process's connection comes back it
tells its pages to reload (a `resync` event), so what was missed meanwhile is on screen at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from alarms.engine import Change
from dashboard.incident_push import PushHub, incident_events
from jetstream.config import DistributedConfig
from jetstream.connection import connect

log = logging.getLogger(__name__)


class PushRelay:
    """Publishes this process's changes; feeds `hub` (when given) with every other process's changes.

    `publish_changes` is an engine batch listener (engine thread); the NATS client lives on the event loop
    that called `start`. Until the connection is up, changes are counted as dropped, never queued.
    """

    def __init__(
        self,
        cfg: DistributedConfig,
        hub: PushHub | None = None,
        env: Mapping[str, str] | None = None,
        name: str = "live",
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.cfg = cfg
        self.hub = hub
        self.env = env
        self.name = name
        # Unique per process start: a process skips its own events (its hub had them one hop earlier).
        self.origin = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.events = Counter(
            "sharpeyes_live_relay_events_total",
            "Incident changes relayed between processes for live push, by outcome",
            ["outcome"],  # published, received, dropped
            registry=registry if registry is not None else CollectorRegistry(),
        )
        self._nc: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._owns_nc = True
        self._sending: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks
        self.connected = asyncio.Event()
        self.resyncs = 0
        # Operators' presence on incidents from the other API processes (dashboard/viewers.py apply_beat).
        self.on_presence: Callable[[dict[str, Any]], object] | None = None

    async def start(self, nc: Any = None) -> None:
        """On `nc` (a connection this process already has, closed by its owner) or on its own connection,
        which connects (and retries while NATS is down) in the background: returns at once."""
        self._loop = asyncio.get_running_loop()
        self._owns_nc = nc is None
        if nc is not None:
            await self._attach(nc)
        else:
            self._connecting = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        name = f"sharpeyes-{self.name}-{os.getpid()}"
        await self._attach(await connect(self.cfg, self.env, name=name, reconnected_cb=self._reconnected))

    async def _reconnected(self) -> None:
        """Other processes' changes published while this one was away are gone: the pages reload instead."""
        self.resyncs += 1
        if self.hub is not None:
            self.hub.publish({"type": "resync", "reason": "live relay reconnected", "at": time.time()})
            log.info("live relay reconnected: pages told to reload")

    async def _attach(self, nc: Any) -> None:
        if self.hub is not None:
            await nc.subscribe(self.cfg.live_subject, cb=self._on_message)
        self._nc = nc
        self.connected.set()
        mode = "publish + receive" if self.hub else "publish"
        log.info("live relay on %s (%s)", self.cfg.live_subject, mode)

    def publish_changes(self, changes: list[Change]) -> None:
        """Engine batch listener: called right after a commit, from the engine's thread."""
        if not changes:
            return
        loop = self._loop
        if self._nc is None or loop is None or loop.is_closed():
            self.events.labels("dropped").inc(len(changes))
            return
        now = time.time()
        events = incident_events(changes, now)
        for event in events:
            event["committed_at"] = now  # the page measures commit → screen across processes too
        payload = json.dumps({"origin": self.origin, "events": events}, ensure_ascii=False).encode()
        loop.call_soon_threadsafe(self._send, payload, len(events))

    def publish_presence(self, beat: dict[str, Any]) -> None:
        """An operator's heartbeat on an incident (or goodbye), for the other API processes' registries.
        Called on the event loop (an API request); lost while disconnected, like every live hint (the next
        beat, seconds later, says it again)."""
        if self._nc is None:
            return
        payload = json.dumps({"origin": self.origin, "presence": [beat]}, ensure_ascii=False).encode()
        self._send(payload, 0)

    def _send(self, payload: bytes, count: int) -> None:
        """On the loop; one task per batch keeps the batch's order (nats-py buffers without yielding)."""
        task = asyncio.ensure_future(self._publish(payload, count))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, payload: bytes, count: int) -> None:
        try:
            await self._nc.publish(self.cfg.live_subject, payload)
        except Exception as exc:  # loop boundary: a full reconnect buffer or a too large batch
            self.events.labels("dropped").inc(count)
            log.warning("live relay dropped %d events: %s", count, exc)
        else:
            self.events.labels("published").inc(count)

    async def _on_message(self, msg: Any) -> None:
        try:
            doc = json.loads(msg.data)
            if doc.get("origin") == self.origin:
                return
            if "presence" in doc:
                self._presence([b for b in doc["presence"] if isinstance(b, dict)])
                return
            events = [e for e in doc["events"] if isinstance(e, dict)]
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("live relay ignored a malformed message: %s", exc)
            return
        assert self.hub is not None
        for event in events:
            self.hub.publish(event)
        self.events.labels("received").inc(len(events))

    def _presence(self, beats: list[dict[str, Any]]) -> None:
        for beat in beats:
            if self.on_presence is None:
                return
            try:
                self.on_presence(beat)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("live relay ignored a malformed presence beat: %s", exc)

    async def stop(self) -> None:
        """Flushes what was published (the last changes of a shutting-down engine still go out)."""
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connecting
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=2.0)
        if self._nc is not None and self._owns_nc:
            with contextlib.suppress(Exception):  # closing anyway
                await self._nc.drain()
        self._nc = None
