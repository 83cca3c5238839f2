"""`sharpeyes run --role engine`: consume observations from JetStream into PostgreSQL.

One or more of these run beside the Ray cluster. Each builds the same IncidentEngine the local runtime builds
(version-guarded updates make several on one database safe), pulls from the shared durable consumer and runs
the deadline tick. Outbox rows it writes go to the delivery work queue right after commit
(`distributed.delivery.via: queue`), or are found by an API process's sweep (`via: api`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping

from prometheus_client import CollectorRegistry

from alarms.engine import IncidentEngine
from alarms.storage.store import Store
from jetstream.connection import connect
from jetstream.delivery_queue import DeliveryPublisher, ensure_delivery_stream, publish_outbox
from jetstream.observation_consumer import ObservationConsumer
from jetstream.observations import ensure_stream
from jetstream.push_relay import PushRelay
from sharpeyes.distributed.role_process import run_until_signal
from sharpeyes.evidence_wiring import build_evidence
from sharpeyes.settings import Settings
from sharpeyes.wiring import build_core
from video.evidence_store import EvidenceStorage

log = logging.getLogger(__name__)


def build_engine(settings: Settings, registry: CollectorRegistry) -> tuple[Store, IncidentEngine]:
    """The store and engine of a role process (`sharpeyes.wiring.build_core`)."""
    core = build_core(settings, registry)
    return core.store, core.engine


async def run_engine(
    settings: Settings,
    stop: asyncio.Event,
    env: Mapping[str, str] | None = None,
    tick_s: float = 1.0,
    migrate: bool = True,
    registry: CollectorRegistry | None = None,
) -> ObservationConsumer:
    """Until `stop`; returns the consumer (its counters) for tests and logs."""
    cfg = settings.distributed
    registry = CollectorRegistry() if registry is None else registry
    store, engine = build_engine(settings, registry)
    if migrate:
        await asyncio.to_thread(store.migrate)
    await asyncio.to_thread(engine.warm_up)
    nc = await connect(cfg, env, name=f"sharpeyes-engine-{os.getpid()}")
    relay = PushRelay(cfg, env=env, name="engine", registry=registry)  # to every API process's live stream
    await relay.start(nc)
    engine.subscribe_batch(relay.publish_changes)
    js = nc.jetstream()
    await ensure_stream(js, cfg.stream, cfg.stream_replicas, cfg.duplicate_window_s)
    if cfg.delivery.via == "queue":  # else an API process drains the outbox by its sweep
        await ensure_delivery_stream(js, cfg.delivery.stream, cfg.stream_replicas, cfg.duplicate_window_s)
        publisher = DeliveryPublisher(js, cfg.delivery.stream, registry=registry)
        publisher.bind(asyncio.get_running_loop())
        publish_outbox(engine, publisher)
    consumer = ObservationConsumer(
        js, engine, stream=cfg.stream, durable=cfg.consumer, ack_wait_s=cfg.ack_wait_s
    )
    await consumer.subscribe()
    log.info("engine consuming %s/%s from %s", cfg.stream, cfg.consumer, cfg.nats_url)
    buttons = await _buttons(settings, js, engine, stop) if cfg.buttons_via == "ingest" else None
    evidence = build_evidence(settings, os.environ if env is None else env, registry)  # shards' clips
    clips = await _clips(settings, js, engine, evidence, registry, stop) if settings.clips.enabled else []
    ticker = asyncio.create_task(_tick(engine, stop, tick_s))
    try:
        await consumer.run(stop)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        for task in [buttons, *clips]:
            if task is not None:
                with contextlib.suppress(Exception):  # they end with `stop`; unacked messages are redelivered
                    await asyncio.wait_for(task, 5)
        await relay.stop()  # its last publishes are flushed with the acks below
        with contextlib.suppress(Exception):  # acks already sent are flushed; unacked ones are redelivered
            await nc.flush(timeout=2)
        with contextlib.suppress(Exception):
            await nc.close()
        store.close()
        await asyncio.to_thread(evidence.close)  # S3: uploads not done wait in its spool
    return consumer


async def _buttons(
    settings: Settings, js: object, engine: IncidentEngine, stop: asyncio.Event
) -> asyncio.Task[None]:
    """Presses from `--role ingest` (their own stream and consumer, so they never queue behind cameras).
    Only the status side of presence runs here; the silence check stays in the API's tick."""
    from alarms.devices import ensure_devices
    from alarms.presence import PresenceMonitor
    from jetstream.button_consumer import ButtonConsumer
    from jetstream.buttons import ensure_button_stream

    def register() -> None:  # presence needs the configured buttons' rows, whether or not an API ran yet
        with engine.store.write() as conn:
            ensure_devices(conn, dict(engine.directory.devices))

    await asyncio.to_thread(register)
    cfg = settings.distributed
    await ensure_button_stream(js, cfg.ingest.stream, cfg.stream_replicas, cfg.duplicate_window_s)
    presence = PresenceMonitor(engine, {}, started_at=time.time())
    consumer = ButtonConsumer(
        js, engine, presence, stream=cfg.ingest.stream, durable=cfg.ingest.consumer, ack_wait_s=cfg.ack_wait_s
    )
    await consumer.subscribe()
    log.info("engine consuming buttons %s/%s", cfg.ingest.stream, cfg.ingest.consumer)
    return asyncio.create_task(consumer.run(stop))


async def _clips(
    settings: Settings,
    js: object,
    engine: IncidentEngine,
    evidence: EvidenceStorage,
    registry: CollectorRegistry,
    stop: asyncio.Event,
) -> list[asyncio.Task[None]]:
    """Shards' finished clips onto their incidents, and retention of the shared clip folder (only the
    database knows which incidents are still open)."""
    from jetstream.clip_consumer import ClipConsumer, run_retention
    from jetstream.clips import ensure_clip_stream
    from sharpeyes.evidence_wiring import clip_store

    cfg = settings.distributed
    await ensure_clip_stream(js, cfg.stream_replicas, cfg.duplicate_window_s)
    store = clip_store(settings, evidence)
    consumer = ClipConsumer(js, engine, store, ack_wait_s=cfg.ack_wait_s, registry=registry)
    await consumer.subscribe()
    log.info("engine recording shard clips from %s/%s", consumer.stream, consumer.durable)
    return [
        asyncio.create_task(consumer.run(stop)),
        asyncio.create_task(run_retention(engine, store, settings.clips.retention, stop, registry)),
    ]


async def _tick(engine: IncidentEngine, stop: asyncio.Event, tick_s: float) -> None:
    """Deadlines and escalation; every engine ticks (version guards make a double tick harmless)."""
    while not stop.is_set():
        await asyncio.sleep(tick_s)
        try:
            await asyncio.to_thread(engine.tick, time.time())
        except Exception:  # loop boundary
            log.exception("engine tick failed")


def main(settings: Settings) -> int:
    """Blocking entry for the CLI: SIGINT/SIGTERM stop after the current batch is acked."""

    async def run(stop: asyncio.Event, registry: CollectorRegistry) -> None:
        await run_engine(settings, stop, registry=registry)

    return run_until_signal(settings.distributed, "engine", run)
