"""`sharpeyes run --role delivery`: send webhooks and MQTT notices from the JetStream work queue.

Engines and API processes write outbox rows and publish them to the queue (`QueuedDelivery`); one or more
delivery processes pull them, send them with the same worker, retry policies and dead letter as the local
runtime (`alarms/delivery/worker.py`), record every outcome in the outbox and settle the message after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from alarms.delivery.outbox import OutboxItem
from alarms.delivery.worker import DeliveryWorker, Endpoint
from ingest.mqtt_publisher import MqttPublisher
from jetstream.config import DistributedConfig
from jetstream.connection import connect
from jetstream.delivery_queue import (
    DeliveryPublisher,
    DeliveryQueueConsumer,
    ensure_delivery_stream,
    publish_outbox,
)
from jetstream.live_relay import LiveRelay
from sharpeyes.distributed.engine_role import build_engine
from sharpeyes.distributed.role_process import run_until_signal
from sharpeyes.settings import Settings

log = logging.getLogger(__name__)


def ack_wait_for(settings: Settings) -> float:
    """Long enough for the slowest endpoint's timeout plus recording, so a slow send is not handed out
    twice while it is still in progress."""
    slowest = max((w.timeout_s for w in settings.webhooks), default=0.0)
    return max(settings.distributed.delivery.ack_wait_s, slowest + 5.0)


async def run_delivery(
    settings: Settings,
    stop: asyncio.Event,
    env: Mapping[str, str] | None = None,
    migrate: bool = True,
    sweep_s: float = 1.0,
    registry: CollectorRegistry | None = None,
) -> DeliveryQueueConsumer:
    """Until `stop`; returns the consumer (its counters) for tests and logs."""
    env = os.environ if env is None else env
    cfg = settings.distributed
    dcfg = cfg.delivery
    registry = CollectorRegistry() if registry is None else registry
    store, engine = build_engine(settings, registry)
    if migrate:
        await asyncio.to_thread(store.migrate)
    await asyncio.to_thread(engine.warm_up)
    nc = await connect(cfg, env, name=f"sharpeyes-delivery-{os.getpid()}")
    relay = LiveRelay(cfg, env=env, name="delivery", registry=registry)  # dispatch status repaints pages
    await relay.start(nc)
    engine.subscribe_batch(relay.publish_changes)
    js = nc.jetstream()
    await ensure_delivery_stream(js, dcfg.stream, cfg.stream_replicas, cfg.duplicate_window_s)
    publisher = DeliveryPublisher(js, dcfg.stream, registry=registry)
    publisher.bind(asyncio.get_running_loop())
    publish_outbox(engine, publisher)  # a dead letter's alarm incident has outbox rows of its own
    password = env.get(settings.mqtt.password_env) if settings.mqtt.password_env else None
    mqtt = MqttPublisher(settings.mqtt, password)
    mqtt.start()
    endpoints = {w.name: Endpoint.build(w, env.get(w.secret_env, "")) for w in settings.webhooks}
    worker = DeliveryWorker(
        store,
        endpoints,
        engine.metrics,
        mqtt_publish=mqtt.publish,
        on_dead_letter=lambda item, error: engine.dispatch_failed(item.incident_id, item.target, error),
        mark_delivered=engine.mark_delivered,
        sweep_s=sweep_s,
        stranded_after_s=dcfg.stranded_after_s,
    )
    consumer = DeliveryQueueConsumer(
        js,
        worker,
        publisher,
        stream=dcfg.stream,
        durable=dcfg.consumer,
        ack_wait_s=ack_wait_for(settings),
        max_deliver=dcfg.max_deliver,
        backoff_s=dcfg.backoff_s,
        registry=registry,
    )
    worker.settler = consumer
    await consumer.subscribe()
    await worker.start()
    log.info("delivery consuming %s/%s-{life,std} from %s", dcfg.stream, dcfg.consumer, cfg.nats_url)
    try:
        await consumer.run(stop)
    finally:
        await worker.stop()  # records what finished; unsettled messages come back after ack_wait
        mqtt.stop()
        await relay.stop()
        with contextlib.suppress(Exception):
            await nc.flush(timeout=2)
        with contextlib.suppress(Exception):
            await nc.close()
        store.close()
    return consumer


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


def main(settings: Settings) -> int:
    """Blocking entry for the CLI: SIGINT/SIGTERM stop after recording what is in flight."""

    async def run(stop: asyncio.Event, registry: CollectorRegistry) -> None:
        await run_delivery(settings, stop, registry=registry)

    return run_until_signal(settings.distributed, "delivery", run)
