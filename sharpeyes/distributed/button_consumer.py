"""The engine side of the button stream: presses, heartbeats and presence from `--role ingest`.

Every engine process pulls from one durable consumer of its own (not the observation consumer), so presses
never wait behind a camera backlog. A batch of signals goes into one `ingest_signals` call (one transaction,
as the local listener's group commit) and is acked only after it committed; `seen_events` keeps one incident
per event id however often a press arrives (two ingest processes, a redelivery).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from alarms.engine import IncidentEngine
from alarms.presence import PresenceMonitor
from ingest import jetstream
from ingest.button_bus import BUTTON_SUBJECT_ROOT, ButtonMessage

log = logging.getLogger(__name__)


class ButtonConsumer:
    def __init__(
        self,
        js: Any,
        engine: IncidentEngine,
        presence: PresenceMonitor,
        *,
        stream: str,
        durable: str,
        ack_wait_s: float = 30.0,
        batch: int = 256,
        retry_delay_s: float = 1.0,
    ) -> None:
        self.js = js
        self.engine = engine
        self.presence = presence
        self.stream = stream
        self.durable = durable
        self.ack_wait_s = ack_wait_s
        self.batch = batch
        self.retry_delay_s = retry_delay_s
        self.outcomes: dict[str, int] = {}
        self.rejected = 0
        self._sub: Any = None

    async def subscribe(self) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait_s,
            max_deliver=-1,  # a press is never dropped for being retried; malformed ones are terminated
            max_ack_pending=10_000,
        )
        self._sub = await self.js.pull_subscribe(
            f"{BUTTON_SUBJECT_ROOT}.>", durable=self.durable, stream=self.stream, config=config
        )

    async def run(self, stop: asyncio.Event) -> None:
        if self._sub is None:
            await self.subscribe()
        where = f"{self.stream}/{self.durable}"
        await jetstream.pull_until(stop, self._sub, self.handle, batch=self.batch, where=where)

    async def handle(self, msgs: list[Any]) -> None:
        decoded: list[tuple[Any, ButtonMessage]] = []
        for m in msgs:
            try:
                decoded.append((m, ButtonMessage.decode(m.data)))
            except ValueError as exc:
                self.rejected += 1
                log.error("button message %s terminated: %s", m.headers and m.headers.get("Nats-Msg-Id"), exc)
                await m.term()
        results = await asyncio.to_thread(self._apply_all, [b for _, b in decoded])
        for (m, _), ok in zip(decoded, results, strict=True):
            if ok:
                await m.ack()
            else:
                await m.nak(delay=self.retry_delay_s)

    def _apply_all(self, batch: list[ButtonMessage]) -> list[bool]:
        """True for each message whose effect committed (or that can never commit: acked, as the local
        listener acks an event the engine reports as an error); False to have it redelivered."""
        ok = [True] * len(batch)
        signals = [(i, b.signal) for i, b in enumerate(batch) if b.signal is not None]
        if signals:
            try:
                outcomes = self.engine.ingest_signals([s for _, s in signals])
            except Exception:  # not committed (storage): every signal of the batch comes again
                log.exception(
                    "%d button signals not stored; redelivered in %.1f s", len(signals), self.retry_delay_s
                )
                for i, _ in signals:
                    ok[i] = False
            else:
                for outcome in outcomes:
                    self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        for i, b in enumerate(batch):
            if b.signal is not None:
                continue
            try:
                if b.op == "status":
                    self.presence.on_status(b.button_id, b.online, b.ts)
                else:
                    self.presence.record_reject(b.button_id, b.topic, b.reason, b.ts)
            except Exception:
                log.exception("button %s %s not stored; redelivered", b.op, b.button_id)
                ok[i] = False
        return ok
