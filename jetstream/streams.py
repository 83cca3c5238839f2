"""What every JetStream stream and pull consumer of ours does the same way: create-or-update a stream, a
fetch loop that survives broker hiccups and handler failures (unsettled messages are redelivered), and a
durable consumer that applies each batch off the event loop and acks only what committed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


async def ensure_stream(
    js: Any,
    name: str,
    subject_root: str,
    *,
    replicas: int = 1,
    duplicate_window_s: float = 600.0,
    work_queue: bool = False,
    max_age_s: float | None = None,
) -> None:
    """File storage; `work_queue`: a message lives until acked, else kept (for audit) until `max_age_s`.
    An existing stream is brought to this config, so a changed replica count or window takes effect."""
    from nats.js.api import RetentionPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    config = StreamConfig(
        name=name,
        subjects=[f"{subject_root}.>"],
        retention=RetentionPolicy.WORK_QUEUE if work_queue else RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=duplicate_window_s,
        max_age=max_age_s,
    )
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


async def pull_until(
    stop: asyncio.Event,
    sub: Any,
    handle: Callable[[list[Any]], Awaitable[None]],
    *,
    batch: int,
    where: str,
) -> None:
    """Fetch and handle until `stop`; a fetch timeout is an idle second, anything else is logged, retried."""
    from nats.errors import TimeoutError as NatsTimeout

    while not stop.is_set():
        try:
            msgs = await sub.fetch(batch, timeout=1.0)
        except NatsTimeout:
            continue
        except Exception:  # loop boundary: a broker hiccup must not end the consumer
            log.exception("fetch from %s failed; retrying", where)
            await asyncio.sleep(1.0)
            continue
        try:
            await handle(msgs)
        except Exception:  # loop boundary: what was not settled is redelivered by JetStream
            log.exception("%d messages from %s not settled; JetStream redelivers them", len(msgs), where)
            await asyncio.sleep(1.0)


class ApplyingConsumer(Generic[T]):
    """A durable pull consumer shared by every engine process: JetStream splits the work between them.

    Subclasses say how a message decodes (`decode`, ValueError for a malformed one: terminated, never
    redelivered) and how a batch is applied (`apply_all`, blocking, in a worker thread: True for each item
    whose effect committed). Committed items are acked; the others are nak'ed and come back after
    `retry_delay_s`. A process killed in between leaves them unacked: redelivered after `ack_wait_s`.
    """

    what = "message"  # for logs

    def __init__(
        self,
        js: Any,
        *,
        stream: str,
        durable: str,
        subject: str,
        ack_wait_s: float = 30.0,
        batch: int = 64,
        retry_delay_s: float = 1.0,
    ) -> None:
        self.js = js
        self.stream = stream
        self.durable = durable
        self.subject = subject
        self.ack_wait_s = ack_wait_s
        self.batch = batch
        self.retry_delay_s = retry_delay_s
        self.rejected = 0
        self._sub: Any = None

    def decode(self, data: bytes) -> T:
        raise NotImplementedError

    def apply_all(self, items: list[T]) -> list[bool]:
        raise NotImplementedError

    def acked(self, item: T) -> None:
        """After an item's ack (tests and benchmarks count here)."""

    async def subscribe(self) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait_s,
            max_deliver=-1,  # an alarm is never dropped for being retried; malformed ones are terminated
            max_ack_pending=10_000,
        )
        self._sub = await self.js.pull_subscribe(
            self.subject, durable=self.durable, stream=self.stream, config=config
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set."""
        if self._sub is None:
            await self.subscribe()
        where = f"{self.stream}/{self.durable}"
        await pull_until(stop, self._sub, self.handle, batch=self.batch, where=where)

    async def handle(self, msgs: list[Any]) -> None:
        decoded: list[tuple[Any, T]] = []
        for m in msgs:
            try:
                decoded.append((m, self.decode(m.data)))
            except ValueError as exc:
                self.rejected += 1
                msg_id = m.headers and m.headers.get("Nats-Msg-Id")
                log.error("%s %s terminated: %s", self.what, msg_id, exc)
                await m.term()
        outcomes = await asyncio.to_thread(self.apply_all, [item for _, item in decoded])
        for (m, item), ok in zip(decoded, outcomes, strict=True):
            if ok:
                await m.ack()
                self.acked(item)
            else:
                await m.nak(delay=self.retry_delay_s)
