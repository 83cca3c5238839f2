"""`--role delivery`: outbox rows through a JetStream work queue to a real, signature-checking receiver.

Real parts: a private nats-server with JetStream, a fresh PostgreSQL database, mosquitto for the MQTT notices,
the signature-verifying DispatchReceiver, and for the crash test `sharpeyes run --role delivery` processes
killed with SIGKILL. Incidents come from the same IncidentEngine the engine and API roles run, with its
commits published to the queue as those roles publish them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import psycopg
import pytest
import yaml
from prometheus_client import CollectorRegistry

from alarms.engine import IncidentEngine
from ingest.types import PanicSignal, SignalKind
from jetstream.delivery_queue import DeliveryPublisher, ensure_delivery_stream, publish_outbox
from jetstream.queued_delivery import QueuedDelivery
from sharpeyes.distributed.delivery_role import run_delivery
from sharpeyes.distributed.engine_role import build_engine
from sharpeyes.receiver import Behaviour, DispatchReceiver
from sharpeyes.settings import Settings, parse_settings
from tests.support.mosquitto import Mosquitto
from tests.support.nats_server import NatsServer
from tests.support.ports import free_port
from tests.support.service import SECRET

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

STREAM = "SE_DELIVERIES_T"
ENV = {"TEST_WEBHOOK_SECRET": SECRET}


@pytest.fixture
def receiver() -> Iterator[DispatchReceiver]:
    recv = DispatchReceiver(SECRET).start()
    yield recv
    recv.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mqtt").start()
    yield broker
    broker.stop()


class Notices:
    """A plain MQTT subscriber, as an operator's client or a button's ack listener would be."""

    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.topics: list[str] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="notices")
        self.client.on_message = lambda _c, _u, msg: self.topics.append(msg.topic)
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        time.sleep(0.3)  # SUBACK before anything is published

    def count(self) -> int:
        return len(self.topics)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def config(pg_url: str, nats_url: str, hook_url: str, mqtt_port: int, **delivery: Any) -> dict[str, Any]:
    return {
        "runtime": "ray",
        "storage": {"url": pg_url},
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "embedded": False, "prefix": "se"},
        "grids": [{"id": "G-001", "name": "one", "community": "C-1", "street": "S-1"}],
        "buttons": [{"id": f"B-{i:03d}", "grid": "G-001"} for i in range(1, 401)],
        "webhooks": [
            {
                "name": "police",
                "url": hook_url,
                "secret_env": "TEST_WEBHOOK_SECRET",
                "timeout_s": 2.0,
                "retry": {"delays_s": [0.2, 0.4], "max_attempts": delivery.pop("max_attempts", 4)},
            }
        ],
        "distributed": {
            "nats_url": nats_url,
            "delivery": {"stream": STREAM, "ack_wait_s": 3.0, "stranded_after_s": 1.0, **delivery},
        },
    }


def settings_of(doc: dict[str, Any]) -> Settings:
    return parse_settings(yaml.safe_dump(doc), "test.yaml", env=ENV)


def press(engine: IncidentEngine, n: int, first: int = 1) -> None:
    now = time.time()
    engine.ingest_signals(
        [PanicSignal(f"B-{i:03d}", SignalKind.PRESS, now, now, seq=1) for i in range(first, first + n)]
    )


class Writer:
    """An engine whose commits go to the work queue, as the engine and API roles wire it."""

    def __init__(self, settings: Settings) -> None:
        self.store, self.engine = build_engine(settings, CollectorRegistry())
        self.engine.warm_up()
        self.nc: Any = None

    async def connect(self, nats_url: str) -> None:
        self.nc = await nats.connect(nats_url)
        js = self.nc.jetstream()
        await ensure_delivery_stream(js, STREAM)
        publisher = DeliveryPublisher(js, STREAM)
        publisher.bind(asyncio.get_running_loop())
        publish_outbox(self.engine, publisher)

    async def close(self) -> None:
        await self.nc.flush()
        await self.nc.close()
        self.store.close()


def incident_states(pg_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT category, dispatch_status FROM incidents ORDER BY id").fetchall()


def outbox_status(pg_url: str) -> dict[str, int]:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT status, count(*) FROM outbox WHERE channel='webhook' GROUP BY status")
        return dict(rows.fetchall())


def pending_rows(pg_url: str) -> int:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()
        return int(row[0]) if row else 0


async def queue_depth(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return (await nc.jetstream().stream_info(STREAM)).state.messages
    finally:
        await nc.close()


async def wait_until(pred: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await asyncio.to_thread(pred):
            return True
        await asyncio.sleep(0.05)
    return False


def test_presses_reach_dispatch_through_the_queue_and_leave_it_empty(
    nats_server: NatsServer, pg_url: str, receiver: DispatchReceiver, mosquitto: Mosquitto
) -> None:
    """Every webhook signed and delivered once, rows recorded, incidents marked delivered, MQTT notices out,
    and the work queue empty afterwards (acked = removed)."""
    settings = settings_of(config(pg_url, nats_server.url, receiver.url, mosquitto.port))
    notices = Notices(mosquitto.port, "se/incidents/#")

    async def body() -> None:
        writer = Writer(settings)
        await writer.connect(nats_server.url)
        stop = asyncio.Event()
        task = asyncio.create_task(run_delivery(settings, stop, env=ENV, sweep_s=0.2))
        await asyncio.to_thread(press, writer.engine, 50)
        assert await asyncio.to_thread(receiver.wait_for, lambda r: len(r) >= 50, 30)
        assert await wait_until(lambda: outbox_status(pg_url) == {"delivered": 50}, 10)
        assert await wait_until(lambda: notices.count() >= 50, 10)
        stop.set()
        consumer = await task
        assert consumer.taken >= 100 and consumer.rejected == 0  # 50 webhooks + 50 MQTT notices
        assert await queue_depth(nats_server.url) == 0
        await writer.close()

    try:
        asyncio.run(body())
    finally:
        notices.close()
    assert receiver.bad_signatures == 0 and receiver.duplicates == 0
    bodies = [r.body for r in receiver.received.values()]
    assert {b["data"]["source_id"] for b in bodies} == {f"B-{i:03d}" for i in range(1, 51)}
    with psycopg.connect(pg_url) as conn:
        states = conn.execute("SELECT dispatch_status, count(*) FROM incidents GROUP BY 1").fetchall()
    assert states == [("delivered", 50)]


def test_failures_retry_with_backoff_then_dead_letter_raises_an_alarm(
    nats_server: NatsServer, pg_url: str, receiver: DispatchReceiver, mosquitto: Mosquitto
) -> None:
    """A 503 receiver: the message is naked with the policy's delay and retried until max_attempts; the dead
    letter is recorded in the outbox, the incident shows "not reached" and a dispatch_failure incident opens.
    Then an operator's retry (a requeue) is a new message and reaches the healed receiver."""
    settings = settings_of(config(pg_url, nats_server.url, receiver.url, mosquitto.port, max_attempts=3))
    receiver.behaviour = Behaviour(status=503)

    async def body() -> None:
        writer = Writer(settings)
        await writer.connect(nats_server.url)
        stop = asyncio.Event()
        task = asyncio.create_task(run_delivery(settings, stop, env=ENV, sweep_s=0.2))
        started = time.monotonic()
        await asyncio.to_thread(press, writer.engine, 1)
        assert await wait_until(lambda: outbox_status(pg_url).get("dead") == 1, 20)
        took = time.monotonic() - started
        assert receiver.attempts == 3
        assert took >= 0.5  # two naks with the policy's delays (0.2 s, 0.4 s, ±20 %), not an instant loop
        # The dead letter's alarm is raised right after the outcome is recorded, in its own transaction.
        assert await wait_until(lambda: len(incident_states(pg_url)) == 2, 10)
        with psycopg.connect(pg_url) as conn:
            inc = conn.execute("SELECT category, dispatch_status FROM incidents ORDER BY id").fetchall()
            dead = conn.execute("SELECT id, attempts FROM outbox WHERE status='dead'").fetchone()
        assert inc[0] == ("sos", "not_reached")
        assert any(c == "dispatch_failure" for c, _ in inc)
        assert dead is not None and dead[1] == 3
        # The operator fixes the receiver and retries the dead letter, as the API's retry route does.
        receiver.behaviour = Behaviour(status=200)
        from alarms.delivery.outbox import OutboxItem
        from alarms.queries import requeue_delivery

        with writer.store.write() as conn2:
            row = requeue_delivery(conn2, dead[0], time.time())
        assert row is not None
        queued = QueuedDelivery(settings.distributed, ENV)
        await queued.start()
        await asyncio.wait_for(queued.ready.wait(), 10)
        queued.resubmit(OutboxItem.from_row(row))
        assert await asyncio.to_thread(receiver.wait_for, lambda r: len(r) == 1, 15)
        assert await wait_until(lambda: outbox_status(pg_url).get("delivered") == 1, 10)
        # The press's MQTT rows (receipt, incident topic) may have met a publisher still connecting on a
        # loaded machine: their retries settle before the queue is checked empty.
        assert await wait_until(lambda: pending_rows(pg_url) == 0, 20), pending_rows(pg_url)
        await queued.stop()
        stop.set()
        await task
        assert await queue_depth(nats_server.url) == 0
        await writer.close()

    asyncio.run(body())


def test_a_row_whose_publish_was_lost_is_found_by_the_sweep(
    nats_server: NatsServer, pg_url: str, receiver: DispatchReceiver, mosquitto: Mosquitto
) -> None:
    """A writer killed between commit and publish (here: one that never publishes) strands its rows in the
    outbox; the delivery role's sweep publishes them once they are overdue, and they are delivered once."""
    settings = settings_of(config(pg_url, nats_server.url, receiver.url, mosquitto.port))

    async def body() -> None:
        store, engine = build_engine(settings, CollectorRegistry())
        engine.warm_up()
        await asyncio.to_thread(press, engine, 5)  # committed, never published
        stop = asyncio.Event()
        task = asyncio.create_task(run_delivery(settings, stop, env=ENV, sweep_s=0.2))
        assert await asyncio.to_thread(receiver.wait_for, lambda r: len(r) == 5, 20)
        await asyncio.sleep(1.5)  # more sweeps: the same rows must not be sent again
        stop.set()
        await task
        store.close()

    asyncio.run(body())
    assert receiver.duplicates == 0 and outbox_status(pg_url) == {"delivered": 5}


def _sample(text: str, name: str) -> float:
    """One sample's value from a Prometheus text page (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _delivery_process(cfg_path: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **ENV}
    return subprocess.Popen(
        [sys.executable, "-m", "sharpeyes.cli", "run", "--role", "delivery", "-c", str(cfg_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def test_two_delivery_processes_share_the_queue_and_a_killed_one_loses_nothing(
    tmp_path: Path, nats_server: NatsServer, pg_url: str, receiver: DispatchReceiver, mosquitto: Mosquitto
) -> None:
    """Two `--role delivery` processes; one is SIGKILLed while a slow receiver holds its requests. Its unacked
    messages come back after ack_wait to the survivor: all 300 webhooks arrive, duplicates carry the same
    webhook-id (receivers dedupe), and every outbox row ends delivered."""
    doc = config(pg_url, nats_server.url, receiver.url, mosquitto.port)
    cfg_path = tmp_path / "delivery.yaml"
    cfg_path.write_text(yaml.safe_dump(doc))
    metrics_port = free_port()
    doc_b = {**doc, "distributed": {**doc["distributed"], "metrics_listen": f"127.0.0.1:{metrics_port}"}}
    cfg_b = tmp_path / "delivery-b.yaml"
    cfg_b.write_text(yaml.safe_dump(doc_b))
    settings = settings_of(doc)
    receiver.behaviour = Behaviour(delay_s=0.05)
    log = tmp_path / "delivery.log"
    a, b = _delivery_process(cfg_path, log), _delivery_process(cfg_b, log)
    try:

        async def body() -> None:
            writer = Writer(settings)
            await writer.connect(nats_server.url)
            for first in range(1, 301, 30):
                await asyncio.to_thread(press, writer.engine, 30, first)
                await asyncio.sleep(0.05)
            assert await asyncio.to_thread(receiver.wait_for, lambda r: len(r) >= 60, 60)
            os.kill(a.pid, signal.SIGKILL)
            a.wait(5)
            assert await asyncio.to_thread(receiver.wait_for, lambda r: len(r) >= 300, 90), log.read_text()[
                -3000:
            ]
            assert await wait_until(lambda: outbox_status(pg_url) == {"delivered": 300}, 30)
            await writer.close()

        asyncio.run(body())
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
    assert b.returncode == 0
    assert receiver.bad_signatures == 0
    bodies = [r.body for r in receiver.received.values()]
    assert len({b["data"]["source_id"] for b in bodies}) == 300
    # The survivor's /metrics (distributed.metrics_listen): it sent its share and the killed one's leftovers.
    sent = 'sharpeyes_deliveries_total{channel="webhook",result="delivered",target="police"}'
    delivered = _sample(scraped, sent)
    taken = _sample(scraped, 'sharpeyes_delivery_queue_messages_total{outcome="taken"}')
    assert 0 < delivered <= 300 and taken >= delivered
    print(f"\n300 presses, 1 of 2 delivery processes killed: {receiver.duplicates} duplicate deliveries")


def test_a_retry_policy_longer_than_the_queue_allows_is_a_located_config_error() -> None:
    """JetStream stops redelivering at max_deliver; a policy that outlives it would never dead-letter."""
    from sharpeyes.settings import ConfigError

    doc = config("sqlite:///x.db", "nats://127.0.0.1:1", "http://127.0.0.1:9/h", 1883, max_attempts=40)
    doc["distributed"]["delivery"]["max_deliver"] = 40
    with pytest.raises(ConfigError) as err:
        settings_of(doc)
    assert "webhooks.0.retry.max_attempts" in str(err.value).replace("[", ".").replace("]", "")
    assert "max_deliver (40)" in str(err.value)
    doc["distributed"]["delivery"]["max_deliver"] = 41
    assert settings_of(doc).distributed.delivery.max_deliver == 41
