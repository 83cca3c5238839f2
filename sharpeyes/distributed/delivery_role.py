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

from ingest.mqtt_publisher import MqttPublisher
from jetstream.connection import connect
from jetstream.delivery_queue import (
    DeliveryPublisher,
    DeliveryQueueConsumer,
    ensure_delivery_stream,
    publish_outbox,
)
from jetstream.push_relay import PushRelay
from sharpeyes.distributed.role_process import run_until_signal
from sharpeyes.settings import Settings
from sharpeyes.wiring import Core, build_core, build_delivery_worker

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
    registry = CollectorRegistry() if registry is None else registry
    core = build_core(settings, registry)
    if migrate:
        await asyncio.to_thread(core.store.migrate)
    await asyncio.to_thread(core.engine.warm_up)
    nc = await connect(cfg, env, name=f"sharpeyes-delivery-{os.getpid()}")
    relay = PushRelay(cfg, env=env, name="delivery", registry=registry)  # dispatch status repaints pages
    await relay.start(nc)
    core.engine.subscribe_batch(relay.publish_changes)
    consumer = await _queue_consumer(settings, nc.jetstream(), core, registry)
    password = env.get(settings.mqtt.password_env) if settings.mqtt.password_env else None
    mqtt = MqttPublisher(settings.mqtt, password)
    mqtt.start()
    worker = build_delivery_worker(
        settings,
        env,
        core,
        mqtt.publish,
        sweep_s=sweep_s,
        stranded_after_s=cfg.delivery.stranded_after_s,
        settler=consumer,
    )
    await worker.start()
    log.info(
        "delivery consuming %s/%s-{life,std} from %s",
        cfg.delivery.stream,
        cfg.delivery.consumer,
        cfg.nats_url,
    )
    try:
        await consumer.run(stop, worker)
    finally:
        await worker.stop()  # records what finished; unsettled messages come back after ack_wait
        mqtt.stop()
        await relay.stop()
        with contextlib.suppress(Exception):
            await nc.flush(timeout=2)
        with contextlib.suppress(Exception):
            await nc.close()
        core.store.close()
    return consumer


async def _queue_consumer(
    settings: Settings, js: Any, core: Core, registry: CollectorRegistry
) -> DeliveryQueueConsumer:
    """The work queue's stream, its publisher (a dead letter's alarm incident has outbox rows of its own)
    and the subscribed consumer that settles what the worker records."""
    cfg = settings.distributed
    dcfg = cfg.delivery
    await ensure_delivery_stream(js, dcfg.stream, cfg.stream_replicas, cfg.duplicate_window_s)
    publisher = DeliveryPublisher(js, dcfg.stream, registry=registry)
    publisher.bind(asyncio.get_running_loop())
    publish_outbox(core.engine, publisher)
    consumer = DeliveryQueueConsumer(
        js,
        publisher,
        stream=dcfg.stream,
        durable=dcfg.consumer,
        ack_wait_s=ack_wait_for(settings),
        max_deliver=dcfg.max_deliver,
        backoff_s=dcfg.backoff_s,
        registry=registry,
    )
    await consumer.subscribe()
    return consumer


def main(settings: Settings) -> int:
    """Blocking entry for the CLI: SIGINT/SIGTERM stop after recording what is in flight."""

    async def run(stop: asyncio.Event, registry: CollectorRegistry) -> None:
        await run_delivery(settings, stop, registry=registry)

    return run_until_signal(settings.distributed, "delivery", run)
