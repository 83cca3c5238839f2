"""The delivery worker: drains the outbox to webhook endpoints and MQTT, with retries, backoff and a
dead letter. New rows arrive in memory straight after commit (no polling on the hot path); a sweep
of the table picks up whatever a restart or a crash left pending."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from alarms.delivery.http import Endpoint, WebhookClient
from alarms.delivery.ordering import EndpointHold, Held, Lanes
from alarms.delivery.outbox import OutboxItem
from alarms.delivery.recording import DeliveredHook, Outcome, mark_delivered_sql, record_outcomes
from alarms.metrics import AlarmMetrics
from alarms.storage.port import Database
from alarms.storage.rows import by_name
from alarms.storage.schema import outbox
from ingest import hop_trace

# Endpoint lives in alarms.delivery.http; callers that build workers import it from here as well.
__all__ = [
    "DeadLetterHook",
    "DeliveredHook",
    "DeliveryWorker",
    "Endpoint",
    "MqttPublish",
    "Outcome",
    "Settler",
    "mark_delivered_sql",
]

log = logging.getLogger(__name__)

MqttPublish = Callable[[str, str], Awaitable[None]]
# With a work queue (jetstream/delivery_queue.py) the queue, not this worker, schedules retries: the worker
# sends and records; the settler acks, naks with the retry delay, or republishes what a sweep finds stranded.


class Settler(Protocol):
    async def settled(self, batch: list[Outcome], recorded: bool) -> None: ...

    async def stranded(self, items: list[OutboxItem]) -> None: ...


DeadLetterHook = Callable[[OutboxItem, str], None]


class DeliveryWorker:
    """Sends in this process: the in-process :class:`~alarms.delivery.port.OutboxDelivery`, and the sender
    of ``--role delivery`` (with a :class:`Settler` for the work queue)."""

    def __init__(
        self,
        store: Database,
        endpoints: dict[str, Endpoint],
        metrics: AlarmMetrics,
        mqtt_publish: MqttPublish | None = None,
        on_dead_letter: DeadLetterHook | None = None,
        mark_delivered: DeliveredHook | None = None,
        sweep_s: float = 1.0,
        record_every_s: float = 0.05,
        concurrency: int = 64,
        clock: Callable[[], float] = time.time,
        settler: Settler | None = None,
        stranded_after_s: float = 30.0,
    ) -> None:
        self.store = store
        self.endpoints = endpoints
        self.metrics = metrics
        self.mqtt_publish = mqtt_publish
        self.on_dead_letter = on_dead_letter
        self.mark_delivered = mark_delivered or mark_delivered_sql
        self.sweep_s = sweep_s
        self.record_every_s = record_every_s
        self.clock = clock
        self.settler = settler
        self.stranded_after_s = stranded_after_s  # queued: a pending row this overdue lost its message
        # Separate limits: a slow broker must never hold back police dispatch, nor the reverse.
        self._sems = {"webhook": asyncio.Semaphore(concurrency), "mqtt": asyncio.Semaphore(concurrency)}
        self._inflight: set[int] = set()
        # Rows finished recently: a sweep that read them before they finished must not send them again.
        self._finished: set[int] = set()
        self._results: list[Outcome] = []
        self._results_ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[object]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http = WebhookClient()
        self._stopping = False
        self._rng = random.Random()
        self._logged_failures: set[tuple[str, str]] = set()
        # In process only: with a work queue, its redelivery schedule owns the rows in between.
        self._lanes = Lanes()
        self._hold = EndpointHold()
        self._probing: set[str] = set()

    # ----- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._http.open()
        self._spawn(self._sweeper())
        self._spawn(self._recorder())

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._results_ready.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self._record, self._drain_results())
        await self._http.close()

    def _spawn(self, coro: Awaitable[object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----- intake ----------------------------------------------------------------------------------------
    def submit_threadsafe(self, items: list[OutboxItem]) -> None:
        """Called by the engine's thread right after commit."""
        if self._loop is not None and items and not self._stopping:
            self._loop.call_soon_threadsafe(self.submit, items)

    def submit(self, items: list[OutboxItem]) -> None:
        for item in sorted(items, key=_by_id):
            if item.id in self._inflight or item.id in self._finished or self._stopping:
                continue
            self._inflight.add(item.id)
            if hop_trace.ENABLED and item.channel == "webhook":
                hop_trace.mark_payload(item.payload, "queued")
            if self.settler is None and not self._lanes.admit(item):
                continue  # behind an earlier change of its incident: sent when that one is done
            self._spawn(self._deliver(item))

    def resubmit(self, item: OutboxItem) -> None:
        """An operator's retry of a dead letter."""
        self._finished.discard(item.id)
        self.submit([item])

    async def _sweeper(self) -> None:
        """Picks up rows due for a retry and rows left behind by a restart."""
        while not self._stopping:
            try:
                now = self.clock()
                due, pending, dead = await asyncio.to_thread(self._due, now)
                self.metrics.outbox_pending.set(pending)
                self.metrics.dead_letters.set(dead)
                due = [d for d in due if d.id not in self._inflight]
                if self.settler is None:
                    self.submit(due)
                else:
                    late = now - self.stranded_after_s
                    await self.settler.stranded([d for d in due if d.next_attempt_at <= late])
            except Exception:
                log.exception("outbox sweep failed; retrying in %.1f s", self.sweep_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.sweep_s)
            self._wake.clear()

    def _due(self, now: float) -> tuple[list[OutboxItem], int, int]:
        with self.store.read() as conn:
            rows = conn.execute(
                select(outbox)
                .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now, ~_EARLIER_PENDING)
                .order_by(outbox.c.life_safety.desc(), outbox.c.id)
                .limit(500)
            ).mappings()
            due = [OutboxItem.from_row(by_name(r)) for r in rows]
            by_status = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
            counts: dict[str, int] = {status: n for status, n in by_status}
        return due, counts.get("pending", 0), counts.get("dead", 0)

    def wake(self) -> None:
        self._wake.set()

    # ----- sending ---------------------------------------------------------------------------------------
    async def _deliver(self, item: OutboxItem, probe: bool = False) -> bool:
        """A failed probe is a free try (not counted, not recorded): the row keeps its schedule."""
        async with self._sems[item.channel]:
            if item.channel == "webhook":
                outcome = await self._send_webhook(item)
            else:
                outcome = await self._send_mqtt(item)
        if probe and not outcome.ok:
            return False
        self.metrics.deliveries.labels(
            item.channel,
            item.target if item.channel == "webhook" else "mqtt",
            "delivered" if outcome.ok else ("retry" if outcome.retry_at else "dead"),
        ).inc()
        if outcome.ok and item.channel == "webhook":
            self.metrics.incident_to_webhook.observe(max(0.0, outcome.at - item.created_at))
            if item.source_ts is not None:
                self.metrics.button_to_webhook.observe(max(0.0, outcome.at - item.source_ts))
        if not outcome.ok:
            key = (item.target, outcome.error or str(outcome.status))
            if key not in self._logged_failures:  # log each kind of failure once per target
                self._logged_failures.add(key)
                log.warning(
                    "delivery %s to %s failed (attempt %d): %s",
                    item.msg_id,
                    item.target,
                    item.attempts + 1,
                    outcome.error or f"HTTP {outcome.status}",
                )
            elif len(self._logged_failures) > 1000:
                self._logged_failures.clear()
        self._results.append(outcome)
        self._results_ready.set()
        return outcome.ok

    async def _send_webhook(self, item: OutboxItem) -> Outcome:
        endpoint = self.endpoints.get(item.target)
        if endpoint is None:
            return Outcome(
                item, False, None, None, f"no webhook endpoint named {item.target!r}", self.clock()
            )
        if hop_trace.ENABLED:
            hop_trace.mark_payload(item.payload, "sent")
        result = await self._http.post(endpoint, item)
        now = self.clock()
        if hop_trace.ENABLED:
            hop_trace.mark_payload(item.payload, "answered")
        if result.error is None:
            return Outcome(item, True, None, result.status, None, now)
        attempts = item.attempts + 1
        policy = endpoint.policy(item.life_safety)
        if not result.retryable or policy.exhausted(attempts):
            return Outcome(item, False, None, result.status, result.error, now)
        delay = policy.delay(attempts, self._rng)
        if result.retry_after is not None:
            delay = max(delay, min(result.retry_after, 3600.0))
        return Outcome(item, False, now + delay, result.status, result.error, now)

    async def _send_mqtt(self, item: OutboxItem) -> Outcome:
        now = self.clock()
        if self.mqtt_publish is None:
            return Outcome(item, True, None, None, None, now)
        try:
            await self.mqtt_publish(item.target, item.payload)
            return Outcome(item, True, None, None, None, self.clock())
        except Exception as exc:
            attempts = item.attempts + 1
            delay = min(60.0, 0.5 * 2 ** min(attempts, 7)) * self._rng.uniform(0.8, 1.2)
            return Outcome(item, False, now + delay, None, f"mqtt: {exc}", now)

    # ----- recording -------------------------------------------------------------------------------------
    def _drain_results(self) -> list[Outcome]:
        results, self._results = self._results, []
        return results

    async def _recorder(self) -> None:
        """Writes outcomes in batches: one transaction for everything that finished meanwhile. Waiting a
        moment first gathers more per commit; it delays only the bookkeeping, never a delivery (a crash in
        between means a resend, which receivers dedupe by webhook-id)."""
        while not self._stopping:
            await self._results_ready.wait()
            if self.record_every_s > 0:
                await asyncio.sleep(self.record_every_s)
            self._results_ready.clear()
            batch = self._drain_results()
            if not batch:
                continue
            try:
                await asyncio.to_thread(self._record, batch)
            except Exception:
                log.exception("recording %d delivery outcomes failed; they will be retried", len(batch))
                for outcome in batch:
                    self._inflight.discard(outcome.item.id)
                if self.settler is not None:
                    await self.settler.settled(batch, recorded=False)
                continue
            if self.settler is not None:
                await self._settle(batch)
                continue
            for outcome in batch:
                if outcome.retry_at is not None:
                    self._wait_for_retry(outcome, outcome.retry_at)
                else:
                    self._done(outcome)

    def _wait_for_retry(self, outcome: Outcome, retry_at: float) -> None:
        """The row waits for its own retry time, or for a probe of its endpoint to succeed first."""
        assert self._loop is not None
        item = _bump(outcome.item)
        timer = self._loop.call_later(max(0.0, retry_at - self.clock()), self._retry_now, item)
        if item.channel == "webhook":
            self._hold.hold(item.target, Held(item, retry_at, timer))
            if item.target not in self._probing:
                self._probing.add(item.target)
                self._spawn(self._probe(item.target))

    def _done(self, outcome: Outcome) -> None:
        """Delivered or dead: the row leaves its lane, which lets the incident's next change go."""
        item = outcome.item
        if len(self._finished) > 100_000:
            self._finished.clear()
        self._finished.add(item.id)
        self._inflight.discard(item.id)
        following = self._lanes.finish(item)
        if following is not None:
            self._spawn(self._deliver(following))
        if outcome.ok and item.channel == "webhook" and item.target in self._hold.down:
            for held in self._hold.up(item.target):
                self._retry_now(held)
        if not outcome.ok and self.on_dead_letter is not None and item.channel == "webhook":
            self._notify_dead(outcome)

    async def _probe(self, target: str) -> None:
        """While an endpoint is down: every ``probe_s`` send the oldest held row; the first success brings the
        endpoint up and releases the rest (a receiver back after a long outage drains in seconds)."""
        endpoint = self.endpoints.get(target)
        interval = endpoint.config.retry.probe_s if endpoint is not None else 1.0
        try:
            while not self._stopping and target in self._hold.down:
                await asyncio.sleep(interval)
                held = self._hold.probe_candidate(target)
                if held is None:
                    self._hold.down.discard(target)
                    return
                if await self._deliver(held.item, probe=True):
                    for item in self._hold.up(target):
                        self._retry_now(item)
                    return
                assert self._loop is not None
                delay = max(0.0, held.retry_at - self.clock())
                timer = self._loop.call_later(delay, self._retry_now, held.item)
                self._hold.hold(target, Held(held.item, held.retry_at, timer))
        finally:
            self._probing.discard(target)

    async def _settle(self, batch: list[Outcome]) -> None:
        """Queued: outcomes recorded, so the queue gets its ack or nak, and dead letters their alarm."""
        assert self.settler is not None
        for outcome in batch:
            self._inflight.discard(outcome.item.id)
        try:
            await self.settler.settled(batch, recorded=True)
        except Exception:  # unacked messages come back after ack_wait; the record already holds
            log.exception("settling %d deliveries with the queue failed", len(batch))
        for outcome in batch:
            dead = not outcome.ok and outcome.retry_at is None
            if dead and self.on_dead_letter is not None and outcome.item.channel == "webhook":
                self._notify_dead(outcome)

    def _notify_dead(self, outcome: Outcome) -> None:
        assert self.on_dead_letter is not None
        hook = self.on_dead_letter
        error = outcome.error or f"HTTP {outcome.status}"

        async def run() -> None:
            try:
                await asyncio.to_thread(hook, outcome.item, error)
            except Exception:
                log.exception("dead-letter alarm for %s failed", outcome.item.msg_id)

        self._spawn(run())

    def _retry_now(self, item: OutboxItem) -> None:
        self._hold.forget(item.target, item.id)
        self._inflight.discard(item.id)
        self.submit([item])

    def _record(self, batch: list[Outcome]) -> None:
        record_outcomes(self.store, batch, self.mark_delivered)


# A row waits while an earlier row of its incident to the same target is still pending (version order
# across restarts too: the sweep never hands out v2 while v1 waits for its retry time).
_earlier = aliased(outbox)
_EARLIER_PENDING = exists().where(
    and_(
        _earlier.c.status == "pending",
        _earlier.c.incident_id == outbox.c.incident_id,
        _earlier.c.channel == outbox.c.channel,
        _earlier.c.target == outbox.c.target,
        _earlier.c.id < outbox.c.id,
    )
)


def _by_id(item: OutboxItem) -> int:
    return item.id


def _bump(item: OutboxItem) -> OutboxItem:
    return replace(item, attempts=item.attempts + 1)
