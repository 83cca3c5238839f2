"""The engine a shard's video pipeline talks to: the same three calls, published to JetStream.

VideoPipeline calls the engine from its `video-alarms` thread and retries a call that raises, but only for
about 4 s; a JetStream outage lasts longer. So a publish that fails goes to the shard's spool (memory,
bounded, plus a JSONL file) and every later observation queues behind it until a replayer, on nats-py's
private event-loop thread, has published them all in order. A call returns once JetStream or the spool
holds it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from alarms.engine import Trigger
from jetstream.config import DistributedConfig
from jetstream.connection import connect
from jetstream.observations import BusMessage, ObservationPublisher, ensure_stream
from jetstream.spool import ObservationSpool, SpoolMetrics

log = logging.getLogger(__name__)

_RETRY_FIRST_S, _RETRY_MAX_S = 0.2, 2.0
T = TypeVar("T")


class BusEngine:
    """Duck-types the IncidentEngine methods VideoPipeline uses; never touches the database."""

    def __init__(
        self,
        cfg: DistributedConfig,
        env: Mapping[str, str] | None = None,
        name: str = "shard",
        spool_path: Path | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.cfg = cfg
        self.name = name
        self.spool = ObservationSpool(
            spool_path, cfg.spool_max_messages, SpoolMetrics(registry or CollectorRegistry())
        )
        self.spooled = self.replayed = self.dropped = 0
        self._outage_since: float | None = None
        self._outage_spooled = self._outage_dropped = 0
        self._full_logged = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-bus", daemon=True)
        self._thread.start()
        self._direct = self._run(self._make_lock(), timeout=5.0)
        self._replayer: asyncio.Task[None] | None = None
        self._nc: Any = self._run(connect(cfg, env, name=name), timeout=15.0)
        js = self._nc.jetstream()
        self._run(ensure_stream(js, cfg.stream, cfg.stream_replicas, cfg.duplicate_window_s), timeout=15.0)
        self.publisher = ObservationPublisher(js, cfg.stream, cfg.publish_timeout_s)
        if len(self.spool):  # left by the last run on this node: replay before anything new
            self._run(self._start_outage("spool left by a previous run"), timeout=5.0)

    @staticmethod
    async def _make_lock() -> asyncio.Lock:
        return asyncio.Lock()

    def _run(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def submit(self, work: Callable[[Any], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """`work(nc)` on this bus's loop and connection, without waiting: messages beside the observations
        (a shard's clips) share the connection but never the observations' order or spool."""
        return asyncio.run_coroutine_threadsafe(work(self._nc), self._loop)

    def send(self, msg: BusMessage) -> bool:
        """Blocks until JetStream acked or the spool holds it (True), or JetStream dropped it as a repeat or a
        full spool lost it (False); raises only when neither answered in time (the pipeline retries)."""
        return bool(self._run(self._submit(msg), timeout=2 * self.cfg.publish_timeout_s + 5.0))

    async def _submit(self, msg: BusMessage) -> bool:
        if len(self.spool):  # an outage is on: keep the order, queue behind what waits
            return self._keep(msg)
        async with self._direct:
            if len(self.spool):
                return self._keep(msg)
            if self._nc.is_connected:
                try:
                    return bool(await self.publisher.publish(msg))
                except Exception as exc:  # timeout, no responders, connection lost: spool it
                    await self._start_outage(f"{type(exc).__name__}: {exc}"[:200])
            else:
                await self._start_outage("not connected to NATS")
            return self._keep(msg)

    def _keep(self, msg: BusMessage) -> bool:
        if self.spool.append(msg):
            self.spooled += 1
            self._outage_spooled += 1
            return True
        self.dropped += 1
        self._outage_dropped += 1
        if not self._full_logged:  # once per outage
            self._full_logged = True
            log.error(
                "%s: observation spool full (%d): dropping observations until JetStream is back",
                self.name,
                self.spool.max_messages,
            )
        return False

    async def _start_outage(self, reason: str) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            self._outage_spooled = self._outage_dropped = 0
            self._full_logged = False
            log.warning("%s: JetStream publish failed (%s): spooling observations", self.name, reason)
        if self._replayer is None or self._replayer.done():
            self._replayer = asyncio.get_running_loop().create_task(self._replay())

    async def _replay(self) -> None:
        """Publish the spool's head until it is empty, in order; back off while JetStream is away."""
        pause = _RETRY_FIRST_S
        while len(self.spool):
            if not self._nc.is_connected:  # nats-py reconnects on its own; look again soon, it costs nothing
                await asyncio.sleep(_RETRY_FIRST_S)
                continue
            try:
                await self.publisher.publish(self.spool.head())
            except Exception:  # connected but JetStream does not store (no quorum, no stream): back off
                await asyncio.sleep(pause)
                pause = min(pause * 2, _RETRY_MAX_S)
                continue
            self.spool.pop()
            self.replayed += 1
            pause = _RETRY_FIRST_S
        since = self._outage_since
        log.info(
            "%s: JetStream back after %.1f s: %d observations spooled and replayed in order (%d dropped)",
            self.name,
            time.monotonic() - since if since is not None else 0.0,
            self._outage_spooled,
            self._outage_dropped,
        )
        self._outage_since = None

    # ----- the IncidentEngine surface VideoPipeline uses --------------------------------------------------
    def observe_condition(self, trigger: Trigger, *, cleared: bool = False) -> bool:
        return self.send(BusMessage("observe", trigger=trigger, cleared=cleared))

    def raise_condition(self, trigger: Trigger) -> bool:
        return self.send(BusMessage("raise", trigger=trigger))

    def clear_condition(
        self, category_name: str, source_id: str, note: str, now: float | None = None
    ) -> bool:
        ts = time.time() if now is None else now
        return self.send(BusMessage("clear", category=category_name, source_id=source_id, note=note, ts=ts))

    def close(self) -> None:
        """What is still spooled stays in the spool file for the next run on this node."""
        if self._replayer is not None:
            self._loop.call_soon_threadsafe(self._replayer.cancel)
        with contextlib.suppress(Exception):  # closing anyway
            self._run(self._nc.drain() if self._nc.is_connected else self._nc.close(), timeout=5.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)
