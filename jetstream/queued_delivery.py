"""An API process's delivery when `distributed.delivery.via: queue`: outbox rows go to the work queue,
and `--role delivery` sends them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from typing import Any

from alarms.delivery.outbox import OutboxItem
from jetstream.config import DistributedConfig
from jetstream.connection import connect
from jetstream.delivery_queue import DeliveryPublisher, ensure_delivery_stream

log = logging.getLogger(__name__)


class QueuedDelivery:
    """What an API process uses instead of its own DeliveryWorker when `distributed.delivery.via: queue`:
    the same calls (submit after commit, an operator's retry), but rows go to the work queue.

    It connects in the background: a NATS outage must not keep the API down, and rows published meanwhile
    are in the outbox, where a delivery process's sweep finds them.
    """

    def __init__(self, cfg: DistributedConfig, env: Mapping[str, str] | None = None) -> None:
        self.cfg = cfg
        self.env = env
        self.publisher: DeliveryPublisher | None = None
        self.ready = asyncio.Event()
        self._nc: Any = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Future[int]] = set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        delay = 0.5
        while True:
            try:
                self._nc = await connect(self.cfg, self.env, name=f"sharpeyes-api-delivery-{os.getpid()}")
                js = self._nc.jetstream()
                dcfg = self.cfg.delivery
                await ensure_delivery_stream(
                    js, dcfg.stream, self.cfg.stream_replicas, self.cfg.duplicate_window_s
                )
                publisher = DeliveryPublisher(js, dcfg.stream)
                assert self._loop is not None
                publisher.bind(self._loop)
                self.publisher = publisher
                self.ready.set()
                return
            except Exception as exc:  # retried; the outbox keeps every row meanwhile
                log.warning(
                    "delivery queue not reachable (%s); retrying in %.1f s", type(exc).__name__, delay
                )
                if self._nc is not None:
                    with contextlib.suppress(Exception):
                        await self._nc.close()
                    self._nc = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def submit_threadsafe(self, items: list[OutboxItem]) -> None:
        if self.publisher is not None:
            self.publisher.submit_threadsafe(items)

    def resubmit(self, item: OutboxItem) -> None:
        """An operator's retry of a dead letter (on the event loop): a new schedule, so a new message."""
        if self.publisher is not None:
            task = asyncio.ensure_future(self.publisher.publish([item]))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=2)
            with contextlib.suppress(Exception):
                await self._nc.close()
