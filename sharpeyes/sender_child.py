"""The child side of `delivery.sender: own_process`: a whole DeliveryWorker over the service's database.

It sweeps, retries, orders and records exactly as in process; what only the parent can do (repaint pages,
raise a dead letter's incident, count in the parent's /metrics) goes back over the pipe as small messages.
Imports stay light (no video, no web framework): the child starts in about a second.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.engine import Connection as DbConnection

from alarms.delivery.http import Endpoint
from alarms.delivery.outbox import OutboxItem
from alarms.delivery.worker import DeliveryWorker, mark_delivered_sql
from alarms.metrics import AlarmMetrics
from alarms.storage.store import Store
from ingest.mqtt_publisher import MqttPublisher
from sharpeyes.settings import Settings

log = logging.getLogger(__name__)

Message = tuple[Any, ...]
# The worker's metrics that the parent replays on its own registry (sharpeyes/sender_process.py).
OBSERVED = ("incident_to_webhook", "button_to_webhook")
GAUGES = ("outbox_pending", "dead_letters")
COUNTERS = ("deliveries",)


class _Relayed:
    """Stands in for one Prometheus metric in the child: each use becomes a message for the parent."""

    def __init__(self, name: str, out: Callable[[Message], None], labels: tuple[str, ...] = ()) -> None:
        self.name, self.out, self.label_values = name, out, labels

    def labels(self, *values: str) -> _Relayed:
        return _Relayed(self.name, self.out, tuple(values))

    def inc(self, amount: float = 1.0) -> None:
        self.out(("inc", self.name, self.label_values, amount))

    def observe(self, value: float) -> None:
        self.out(("obs", self.name, value))

    def set(self, value: float) -> None:
        self.out(("set", self.name, value))


def relayed_metrics(out: Callable[[Message], None]) -> AlarmMetrics:
    metrics = AlarmMetrics(CollectorRegistry())
    for name in OBSERVED:
        setattr(metrics, name, cast(Histogram, _Relayed(name, out)))
    for name in GAUGES:
        setattr(metrics, name, cast(Gauge, _Relayed(name, out)))
    for name in COUNTERS:
        setattr(metrics, name, cast(Counter, _Relayed(name, out)))
    return metrics


class _Outbound:
    """Messages to the parent, coalesced: one pipe write carries whatever piled up meanwhile."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.q: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="sender-outbound", daemon=True)
        self.thread.start()

    def put(self, msg: Message) -> None:
        self.q.put(msg)

    def close(self) -> None:
        self.q.put(None)
        self.thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            first = self.q.get()
            batch = [] if first is None else [first]
            done = first is None
            while not done:
                try:
                    nxt = self.q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    done = True
                else:
                    batch.append(nxt)
            if batch:
                try:
                    self.conn.send(batch)
                except (OSError, ValueError):
                    return  # the parent is gone: the inbound side sees EOF and stops the worker
            if done:
                return


def sender_main(settings: Settings, env: Mapping[str, str], conn: Connection) -> None:
    """Entry of the child process (multiprocessing spawn)."""
    logging.basicConfig(
        level=getattr(logging, settings.log_level),
        format="%(asctime)s %(levelname)s %(name)s[sender %(process)d]: %(message)s",
    )
    asyncio.run(_serve(settings, env, conn))


async def _serve(settings: Settings, env: Mapping[str, str], conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    out = _Outbound(conn)
    stop = asyncio.Event()
    store = Store(settings.storage.url, sqlite_synchronous=settings.storage.sqlite_synchronous)
    password = env.get(settings.mqtt.password_env) if settings.mqtt.password_env else None
    publisher = MqttPublisher(
        settings.mqtt, password, client_id=f"{settings.mqtt.client_id}-sender-{os.getpid()}"
    )

    def delivered(db: DbConnection, incident_ids: set[int]) -> Callable[[], None]:
        mark_delivered_sql(db, incident_ids)
        return lambda: out.put(("delivered", sorted(incident_ids)))

    def dead_letter(item: OutboxItem, error: str) -> None:
        out.put(("dead", item.incident_id, item.target, error))

    worker = DeliveryWorker(
        store,
        {w.name: Endpoint.build(w, env.get(w.secret_env, "")) for w in settings.webhooks},
        relayed_metrics(out.put),
        mqtt_publish=publisher.publish,
        on_dead_letter=dead_letter,
        mark_delivered=delivered,
    )
    publisher.start()
    await worker.start()
    reader = threading.Thread(
        target=_read, args=(conn, loop, worker, stop), name="sender-inbound", daemon=True
    )
    reader.start()
    out.put(("ready", os.getpid()))
    log.info("delivery sender process started")
    try:
        await stop.wait()
    finally:
        await worker.stop()  # records what finished; the rest stays pending for the next sender's sweep
        await asyncio.to_thread(publisher.stop)
        out.close()
        store.close()
        log.info("delivery sender process stopped")


def _read(
    conn: Connection, loop: asyncio.AbstractEventLoop, worker: DeliveryWorker, stop: asyncio.Event
) -> None:
    """Rows after their commit, an operator's retry, or stop; EOF (the parent died) stops too."""
    while True:
        try:
            kind, items = conn.recv()
        except (EOFError, OSError):
            break
        if kind == "items":
            loop.call_soon_threadsafe(worker.submit, items)
        elif kind == "resubmit":
            for item in items:
                loop.call_soon_threadsafe(worker.resubmit, item)
        elif kind == "stop":
            break
    loop.call_soon_threadsafe(stop.set)
