"""Webhook and MQTT deliveries on a NATS JetStream work queue (`sharpeyes run --role delivery`).

The outbox table stays the record: a row is written in the transaction that changed the incident. Right after
commit the writing process (an engine, an API) publishes the row to a work-queue stream; delivery processes
pull from one durable consumer per priority, send, record the outcome in the outbox, and only then settle the
message: ack when delivered or dead, nak with the endpoint's retry delay otherwise. A process killed mid-send
leaves its messages unacked and JetStream hands them to another after `ack_wait` (receivers dedupe by
webhook-id). A row whose publish never happened (a writer killed between commit and publish, NATS down) is
found by the delivery processes' sweep, pending and overdue, and published again.

Life-safety rows (buttons, fire) travel on their own subject and consumer, so a backlog of routine updates
never queues in front of a panic press.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from dataclasses import asdict, replace
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from alarms.delivery.outbox import OutboxItem
from alarms.delivery.worker import DeliveryWorker, Outcome
from jetstream import streams
from jetstream.observations import token

log = logging.getLogger(__name__)

SUBJECT_ROOT = "sharpeyes.deliver"
PRIORITIES = ("life", "std")


def subject(item: OutboxItem) -> str:
    """Priority first (each priority has its own consumer), then channel and target for observability."""
    priority = "life" if item.life_safety else "std"
    target = token(item.target) if item.channel == "webhook" else "topic"
    return f"{SUBJECT_ROOT}.{priority}.{item.channel}.{target}"


def queue_key(item: OutboxItem) -> str:
    """Nats-Msg-Id: the row and its schedule. A sweep republishing an unchanged row is dropped as a repeat;
    an operator's requeue (new schedule) is a new message."""
    return f"{item.msg_id}:{item.attempts}:{round(item.next_attempt_at * 1000)}"


def encode(item: OutboxItem) -> bytes:
    return json.dumps(asdict(item), ensure_ascii=False, separators=(",", ":")).encode()


def decode(data: bytes) -> OutboxItem:
    """Raises ValueError for anything that is not a row this module wrote."""
    try:
        doc = json.loads(data)
        item = OutboxItem(**doc)
    except (TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a queued delivery: {exc}") from None
    if item.channel not in ("webhook", "mqtt") or not isinstance(item.id, int):
        raise ValueError(f"not a queued delivery: channel {item.channel!r}")
    return item


async def ensure_delivery_stream(
    js: Any, name: str, replicas: int = 1, duplicate_window_s: float = 600.0
) -> None:
    """Work-queue retention: a message lives until a delivery process acks it (delivered or dead)."""
    await streams.ensure_stream(
        js, name, SUBJECT_ROOT, replicas=replicas, duplicate_window_s=duplicate_window_s, work_queue=True
    )


class DeliveryPublisher:
    """Hands committed outbox rows to the queue. A failed publish is counted and left to the sweep: the row is
    in the outbox either way, so an outage delays a delivery and never loses it."""

    def __init__(
        self, js: Any, stream: str, timeout_s: float = 2.0, registry: CollectorRegistry | None = None
    ) -> None:
        self.js = js
        self.stream = stream
        self.timeout_s = timeout_s
        self.counter = Counter(
            "sharpeyes_delivery_queue_published_total",
            "Outbox rows handed to the delivery work queue, by outcome (failed ones wait for the sweep)",
            ["outcome"],
            registry=registry if registry is not None else CollectorRegistry(),
        )
        self.published = 0
        self.failed = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failing = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def submit_threadsafe(self, items: list[OutboxItem]) -> None:
        """From the engine's thread right after commit."""
        if items and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self.publish(items), self._loop)

    async def publish(self, items: list[OutboxItem]) -> int:
        """Publishes concurrently; returns how many JetStream stored (repeats included)."""
        results = await asyncio.gather(*(self._one(i) for i in items), return_exceptions=True)
        ok = sum(1 for r in results if r is True)
        failed = [r for r in results if isinstance(r, BaseException)]
        self.published += ok
        self.failed += len(failed)
        self.counter.labels("stored").inc(ok)
        self.counter.labels("failed").inc(len(failed))
        if failed and not self._failing:
            log.warning(
                "publishing %d deliveries to %s failed (%s); the outbox sweep sends them later",
                len(failed),
                self.stream,
                type(failed[0]).__name__,
            )
        self._failing = bool(failed)
        return ok

    async def _one(self, item: OutboxItem) -> bool:
        await self.js.publish(
            subject(item),
            encode(item),
            timeout=self.timeout_s,
            stream=self.stream,
            headers={"Nats-Msg-Id": queue_key(item)},
        )
        return True


def publish_outbox(engine: Any, publisher: DeliveryPublisher) -> None:
    """Every commit of this engine hands its outbox rows to the queue, one hop after commit."""
    engine.subscribe_batch(
        lambda changes: publisher.submit_threadsafe([item for c in changes for item in c.outbox])
    )


class DeliveryQueueConsumer:
    """Pulls queued rows into a DeliveryWorker and settles each message once its outcome is recorded.

    Implements the worker's Settler: the worker sends and records, this class acks, naks or republishes.
    """

    def __init__(
        self,
        js: Any,
        publisher: DeliveryPublisher,
        *,
        stream: str,
        durable: str = "delivery",
        ack_wait_s: float = 10.0,
        max_deliver: int = 100,
        backoff_s: list[float] | None = None,
        batch: int = 64,
        unrecorded_retry_s: float = 1.0,
        clock: Any = time.time,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.js = js
        self._worker: DeliveryWorker | None = None  # handed to run(): the worker settles through us
        self.publisher = publisher
        self.stream = stream
        self.durable = durable
        self.ack_wait_s = ack_wait_s
        self.max_deliver = max_deliver
        self.backoff_s = backoff_s
        self.batch = batch
        self.unrecorded_retry_s = unrecorded_retry_s
        self.clock = clock
        self.taken = 0
        self.duplicates = 0
        self.rejected = 0
        self.counter = Counter(
            "sharpeyes_delivery_queue_messages_total",
            "Messages pulled from the delivery work queue, by outcome",
            ["outcome"],  # taken | duplicate | rejected
            registry=registry if registry is not None else CollectorRegistry(),
        )
        self._subs: dict[str, Any] = {}
        self._held: dict[int, tuple[Any, int]] = {}  # outbox id -> (latest message, stream sequence)
        self._done: OrderedDict[str, None] = OrderedDict()  # queue keys settled as done, newest last

    async def subscribe(self) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        for priority in PRIORITIES:
            durable = f"{self.durable}-{priority}"
            config = ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self.ack_wait_s,
                max_deliver=self.max_deliver,
                backoff=self.backoff_s,
                max_ack_pending=10_000,
                filter_subject=f"{SUBJECT_ROOT}.{priority}.>",
            )
            self._subs[priority] = await self.js.pull_subscribe(
                f"{SUBJECT_ROOT}.{priority}.>", durable=durable, stream=self.stream, config=config
            )

    async def run(self, stop: asyncio.Event, worker: DeliveryWorker) -> None:
        """One pull loop per priority into `worker` until `stop`."""
        self._worker = worker
        if not self._subs:
            await self.subscribe()
        await asyncio.gather(*(self._pull(p, stop) for p in PRIORITIES))

    async def _pull(self, priority: str, stop: asyncio.Event) -> None:
        where = f"{self.stream}/{self.durable}-{priority}"
        await streams.pull_until(stop, self._subs[priority], self.take, batch=self.batch, where=where)

    async def take(self, msgs: list[Any]) -> None:
        items: list[OutboxItem] = []
        for m in msgs:
            try:
                item = decode(m.data)
            except ValueError as exc:
                self.rejected += 1
                self.counter.labels("rejected").inc()
                log.error("queued delivery %s terminated: %s", _msg_id(m), exc)
                await m.term()
                continue
            meta = m.metadata
            seq, delivered = meta.sequence.stream, meta.num_delivered
            key = _msg_id(m) or queue_key(item)
            held = self._held.get(item.id)
            if held is not None and held[1] == seq:
                self._held[item.id] = (m, seq)  # ack_wait ran out mid-send: settle the newest delivery
                continue
            if held is not None or key in self._done:
                self.duplicates += 1  # a sweep's or a restarted writer's copy of a row in hand or done
                self.counter.labels("duplicate").inc()
                await m.ack()
                continue
            self._held[item.id] = (m, seq)
            # Redeliveries are attempts too: the row's count when published plus JetStream's.
            items.append(replace(item, attempts=item.attempts + delivered - 1))
        self.taken += len(items)
        self.counter.labels("taken").inc(len(items))
        assert self._worker is not None, "take() before run()"
        self._worker.submit(items)

    # ----- Settler ---------------------------------------------------------------------------------------
    async def settled(self, batch: list[Outcome], recorded: bool) -> None:
        now = self.clock()
        for outcome in batch:
            held = self._held.pop(outcome.item.id, None)
            if held is None:
                continue
            m = held[0]
            if not recorded:
                await m.nak(delay=self.unrecorded_retry_s)
            elif outcome.retry_at is not None:
                await m.nak(delay=max(0.0, outcome.retry_at - now))
            else:
                await m.ack()
                self._done[_msg_id(m) or queue_key(outcome.item)] = None
                while len(self._done) > 100_000:
                    self._done.popitem(last=False)

    async def stranded(self, items: list[OutboxItem]) -> None:
        """Pending rows long overdue: their message was never published (or is gone); publish them again."""
        fresh = [i for i in items if i.id not in self._held]
        if fresh:
            stored = await self.publisher.publish(fresh)
            if stored:
                log.info("republished %d stranded deliveries", stored)


def _msg_id(m: Any) -> str | None:
    return m.headers.get("Nats-Msg-Id") if m.headers else None
