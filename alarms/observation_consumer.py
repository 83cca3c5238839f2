"""The engine side of the observation stream: a durable pull consumer with explicit ack.

Every engine process pulls from the same durable consumer, so JetStream splits the work between them. A
message is acked only after the engine call has committed; a process killed in between leaves it unacked and
JetStream redelivers it after `ack_wait` (to this or another engine), where `seen_events` drops the repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from alarms.observation_bus import SUBJECT_ROOT, BusMessage
from ingest import jetstream

log = logging.getLogger(__name__)


def apply(engine: Any, msg: BusMessage) -> None:
    """The engine call the local video pipeline would have made; raises when the store did not commit."""
    if msg.op == "clear":
        engine.clear_condition(msg.category, msg.source_id, msg.note, now=msg.ts)
    elif msg.op == "raise":
        engine.raise_condition(msg.trigger)
    else:
        engine.observe_condition(msg.trigger, cleared=msg.cleared)


class ObservationConsumer:
    """Pulls batches, applies them in a worker thread (blocking store writes), then acks each committed."""

    def __init__(
        self,
        js: Any,
        engine: Any,
        *,
        stream: str,
        durable: str = "engine",
        ack_wait_s: float = 30.0,
        batch: int = 64,
        retry_delay_s: float = 2.0,
        on_applied: Callable[[BusMessage], None] | None = None,
    ) -> None:
        self.js = js
        self.engine = engine
        self.stream = stream
        self.durable = durable
        self.ack_wait_s = ack_wait_s
        self.batch = batch
        self.retry_delay_s = retry_delay_s
        self.on_applied = on_applied
        self.applied = 0
        self.failed = 0
        self.rejected = 0
        self._sub: Any = None

    async def subscribe(self) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait_s,
            max_deliver=-1,  # a fire is never dropped for being retried; poison messages are terminated
            max_ack_pending=10_000,
        )
        self._sub = await self.js.pull_subscribe(
            f"{SUBJECT_ROOT}.>", durable=self.durable, stream=self.stream, config=config
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set."""
        if self._sub is None:
            await self.subscribe()
        where = f"{self.stream}/{self.durable}"
        await jetstream.pull_until(stop, self._sub, self.handle, batch=self.batch, where=where)

    async def handle(self, msgs: list[Any]) -> None:
        decoded: list[tuple[Any, BusMessage]] = []
        for m in msgs:
            try:
                decoded.append((m, BusMessage.decode(m.data)))
            except ValueError as exc:
                self.rejected += 1
                log.error("observation %s terminated: %s", m.headers and m.headers.get("Nats-Msg-Id"), exc)
                await m.term()
        outcomes = await asyncio.to_thread(self._apply_all, [b for _, b in decoded])
        for (m, bus), ok in zip(decoded, outcomes, strict=True):
            if ok:
                await m.ack()
                if self.on_applied is not None:
                    self.on_applied(bus)
            else:
                await m.nak(delay=self.retry_delay_s)

    def _apply_all(self, batch: list[BusMessage]) -> list[bool]:
        out = []
        for msg in batch:
            try:
                apply(self.engine, msg)
            except Exception:  # the store did not commit: nak, JetStream redelivers it later
                self.failed += 1
                log.exception(
                    "observation %s not applied; redelivered in %.1f s", msg.msg_id, self.retry_delay_s
                )
                out.append(False)
            else:
                self.applied += 1
                out.append(True)
        return out
