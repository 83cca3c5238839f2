"""`--role ingest`: buttons over an MQTT 5 shared subscription into JetStream, then the engine role.

Real parts on loopback: a private mosquitto 2.0 (MQTT 5), a private nats-server with JetStream, a fresh
PostgreSQL database, and `sharpeyes run --role ingest|engine` as subprocesses where a process must be killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from ingest.button_message import ButtonMessage
from ingest.config import MqttConfig
from ingest.mqtt_client import ButtonListener
from ingest.types import PanicSignal, SignalKind
from sharpeyes.distributed.engine_role import run_engine
from sharpeyes.distributed.ingest_role import INGEST_ID_ENV, IngestRole, client_id
from sharpeyes.settings import Settings
from tests.support.buttons import ButtonSim
from tests.support.mosquitto import Mosquitto
from tests.support.nats_server import NatsServer

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]
PREFIX = "se"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mqtt").start()
    try:
        yield broker
    finally:
        broker.stop()


def config_doc(pg_url: str, nats_url: str, mqtt_port: int, buttons: int) -> dict[str, Any]:
    return {
        "storage": {"url": pg_url},
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "embedded": False, "prefix": PREFIX},
        "grids": [{"id": "G-001", "name": "one", "community": "C-1", "street": "S-1"}],
        "buttons": [{"id": f"B-{i:03d}", "grid": "G-001"} for i in range(buttons)],
        "webhooks": [],
        "distributed": {
            "nats_url": nats_url,
            "ack_wait_s": 2.0,
            "publish_timeout_s": 1.0,
            "buttons_via": "ingest",
            "ingest": {"session_expiry_s": 300, "retry_max_s": 0.5},
        },
    }


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "sharpeyes.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def sos_incidents(pg_url: str) -> dict[str, int]:
    """source_id → trigger_count of every SOS incident."""
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT source_id, trigger_count FROM incidents WHERE category = 'sos'"
        ).fetchall()
    return {source: count for source, count in rows}


def wait_until(pred: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {within} s: {what}")


class Role:
    """`sharpeyes run --role ...` as a subprocess with its own log."""

    def __init__(self, config: Path, role: str, log: Path, ingest_id: str | None = None) -> None:
        env = {**os.environ}
        if ingest_id is not None:
            env[INGEST_ID_ENV] = ingest_id
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sharpeyes.cli", "run", "--role", role, "-c", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, pattern: str, within: float = 30.0, count: int = 1) -> None:
        wait_until(
            lambda: self.proc.poll() is None and len(re.findall(pattern, self.text())) >= count,
            within,
            f"{pattern!r} in {self.log.name}: {self.text()[-2000:]}",
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def acked(self) -> int:
        """From its last line: 'ingest stopped: N MQTT messages acked'."""
        found = re.findall(r"ingest stopped: (\d+) MQTT messages acked", self.text())
        return int(found[-1])


def press_all(sim: ButtonSim, ids: range, seq: int = 1, rate: float = 200.0) -> None:
    for i in ids:
        sim.send(f"B-{i:03d}", seq=seq)
        time.sleep(1.0 / rate)


# ----- the wire format and the config --------------------------------------------------------------------
def test_button_message_round_trip_and_dedup_key() -> None:
    sig = PanicSignal("B-7", SignalKind.PRESS, 1.7e9, 1.7e9 + 0.2, 42, 3, {"status": "Exercise"})
    msg = ButtonMessage("signal", "B-7", 1.7e9 + 0.2, signal=sig)
    assert ButtonMessage.decode(msg.encode()) == msg
    assert msg.msg_id == sig.event_id == "btn:B-7:3:42"  # JetStream drops a repeat of the same press
    assert msg.subject() == "sharpeyes.buttons.signal.B-7"
    status = ButtonMessage("status", "B.8", 5.0, online=False)
    assert ButtonMessage.decode(status.encode()) == status and status.subject().endswith(".status.B_8")
    reject = ButtonMessage("reject", "B-9", 5.0, topic="se/buttons/B-9/event", reason="malformed_json")
    assert ButtonMessage.decode(reject.encode()) == reject
    for bad in (b"{", b'{"v": 1, "op": "press", "button_id": "x", "ts": 1}', b'{"v": 2}'):
        with pytest.raises(ValueError):
            ButtonMessage.decode(bad)


def test_client_id_from_the_environment_wins() -> None:
    s = Settings.model_validate({"distributed": {"ingest": {"client_id": "ingest-x"}}})
    assert client_id(s, {}) == "ingest-x"
    assert client_id(s, {INGEST_ID_ENV: "sharpeyes-ingest-2"}) == "sharpeyes-ingest-2"
    assert Settings().distributed.buttons_via == "api"  # today's behaviour stays the default


def test_api_runtime_does_not_subscribe_when_ingest_takes_the_buttons(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    from sharpeyes.distributed.api_role import ApiRuntime
    from sharpeyes.distributed.roles import api_settings

    doc = {
        "storage": {"url": f"sqlite:///{tmp_path / 'api.db'}"},
        "mqtt": {"port": mosquitto.port, "embedded": False, "prefix": PREFIX},
        "distributed": {"buttons_via": "ingest"},
    }
    runtime = ApiRuntime(api_settings(Settings.model_validate(doc)), env={})
    assert runtime.listener.subscribe_buttons is False
    # The listener in that mode, on a real broker: connected (it still publishes) but hears no press.
    from prometheus_client import CollectorRegistry

    heard: list[PanicSignal] = []
    cfg = MqttConfig(port=mosquitto.port, embedded=False, prefix=PREFIX, client_id="api-no-buttons")

    def on_signal(sigs: list[PanicSignal]) -> list[str]:
        heard.extend(sigs)
        return ["stored"] * len(sigs)

    def start(subscribe: bool) -> ButtonListener:
        listener = ButtonListener(
            cfg,
            None,
            lambda _b: True,
            on_signal,
            lambda *_: None,
            lambda *_: None,
            CollectorRegistry(),
            subscribe_buttons=subscribe,
        )
        listener.start()
        assert listener.wait_connected(10)
        return listener

    first = start(True)  # an earlier run that did subscribe: its persistent session keeps the subscription
    first.stop()
    listener = start(False)
    sim = ButtonSim(mosquitto.port, PREFIX, "sim-api")
    try:
        time.sleep(0.3)  # the UNSUBSCRIBE is processed before the press
        sim.send("B-001", seq=1)
        time.sleep(1.0)
        assert heard == []
    finally:
        sim.close()
        listener.stop()


# ----- (a) two ingest processes split the load; one incident per press ----------------------------------
def test_two_ingest_processes_split_presses_into_one_incident_each(
    nats_server: NatsServer, pg_url: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    n = 200
    config = write(tmp_path, config_doc(pg_url, nats_server.url, mosquitto.port, n))
    engine = Role(config, "engine", tmp_path / "engine.log")
    a = Role(config, "ingest", tmp_path / "ingest-a.log", "ingest-a")
    b = Role(config, "ingest", tmp_path / "ingest-b.log", "ingest-b")
    sim = ButtonSim(mosquitto.port, PREFIX, "sim-a")
    try:
        for r in (engine, a, b):
            r.wait_log(r"engine consuming buttons|MQTT 5 .* subscribed to")
        started = time.monotonic()
        press_all(sim, range(n))
        wait_until(lambda: len(sos_incidents(pg_url)) == n, 60, "one incident per press")
        elapsed = time.monotonic() - started
        press_all(sim, range(0, n, 10))  # the same presses again (same seq): repeats, whoever gets them
        time.sleep(2.0)
        incidents = sos_incidents(pg_url)
        assert len(incidents) == n and set(incidents.values()) == {1}, incidents
    finally:
        sim.close()
        codes = [r.stop() for r in (a, b, engine)]
    assert codes == [0, 0, 0], [r.text()[-2000:] for r in (a, b, engine)]
    split = (a.acked(), b.acked())
    assert sum(split) == n + n // 10 and min(split) > 0, split  # both took part, every message acked once
    print(f"\n{n} presses through 2 ingest processes {split}: all incidents in {elapsed:.2f} s")


# ----- (b) kill -9 with unacked presses: the same client id gets them back ------------------------------
def test_killed_ingest_process_loses_nothing_after_restart_with_same_client_id(
    nats_server: NatsServer, pg_url: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    n = 130
    config = write(tmp_path, config_doc(pg_url, nats_server.url, mosquitto.port, n))
    engine = Role(config, "engine", tmp_path / "engine.log")
    a = Role(config, "ingest", tmp_path / "ingest-a.log", "ingest-a")
    b = Role(config, "ingest", tmp_path / "ingest-b.log", "ingest-b")
    sim = ButtonSim(mosquitto.port, PREFIX, "sim-b")
    assert nats_server.proc is not None
    nats_pid = nats_server.proc.pid
    try:
        for r in (engine, a, b):
            r.wait_log(r"engine consuming buttons|MQTT 5 .* subscribed to")
        press_all(sim, range(50))
        wait_until(lambda: len(sos_incidents(pg_url)) == 50, 30, "the first 50 presses")

        os.kill(nats_pid, signal.SIGSTOP)  # JetStream stalls: both ingest processes hold presses unacked
        try:
            press_all(sim, range(50, 90))
            time.sleep(1.0)
            a.kill9()  # dies holding its share of those 40, unacked
        finally:
            os.kill(nats_pid, signal.SIGCONT)
        press_all(sim, range(90, n))  # while it is dead
        time.sleep(3.0)
        # mosquitto 2.0.11: the dead member's unacked presses, and its round-robin share of new ones, wait
        # in its session; the surviving member does not get them.
        waiting = n - len(sos_incidents(pg_url))
        assert 0 < waiting < n - 50, waiting

        a = Role(config, "ingest", tmp_path / "ingest-a2.log", "ingest-a")  # the same client id
        wait_until(lambda: len(sos_incidents(pg_url)) == n, 60, "every press after the restart")
        time.sleep(1.0)
        incidents = sos_incidents(pg_url)
        assert len(incidents) == n and set(incidents.values()) == {1}, incidents  # none lost, none doubled
    finally:
        sim.close()
        codes = [r.stop() for r in (a, b, engine)]
    assert codes == [0, 0, 0], [r.text()[-2000:] for r in (a, b, engine)]
    assert a.acked() >= waiting  # the restarted process got the dead one's presses
    print(f"\nkill -9 with presses unacked: {waiting} waited in the dead member's session, none lost")


# ----- (c) and (d), in process: JetStream away, malformed payloads --------------------------------------
def outcome(role: IngestRole, label: str) -> float:
    return role.registry.get_sample_value("sharpeyes_mqtt_messages_total", {"outcome": label}) or 0.0


async def wait_for(pred: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within} s: {what}")


async def test_jetstream_outage_leaves_presses_unacked_until_it_returns(
    nats_server: NatsServer, pg_url: str, mosquitto: Mosquitto
) -> None:
    settings = Settings.model_validate(config_doc(pg_url, nats_server.url, mosquitto.port, 30))
    stop = asyncio.Event()
    role = IngestRole(settings, env={})
    sim = ButtonSim(mosquitto.port, PREFIX, "sim-c")
    try:
        assert await role.start(stop)
        await asyncio.wait_for(role.listener.connected.wait(), 10)
        await asyncio.to_thread(press_all, sim, range(5))
        await wait_for(lambda: role.listener.acked == 5, 10, "5 presses stored and acked")

        nats_server.stop()  # JetStream gone
        await asyncio.to_thread(press_all, sim, range(5, 30))
        await asyncio.sleep(3.0)
        assert role.listener.acked == 5  # nothing acked to the broker while JetStream cannot store it
        failures = role.registry.get_sample_value("sharpeyes_ingest_publish_failures_total") or 0
        assert failures >= 2  # the batch in hand was retried; later presses wait unacked behind it

        nats_server.start()  # the same port and store: the stream and its first 5 presses are back
        await wait_for(lambda: role.listener.acked == 30, 30, "the 25 held presses stored and acked")
        assert outcome(role, "published") + outcome(role, "duplicate") == 30

        engine_stop = asyncio.Event()
        engine = asyncio.create_task(run_engine(settings, engine_stop, env={}))
        await wait_for(lambda: len(sos_incidents(pg_url)) == 30, 30, "an incident for every press")
        engine_stop.set()
        await engine
    finally:
        stop.set()
        sim.close()
        await role.stop()
    assert set(sos_incidents(pg_url).values()) == {1}


async def test_malformed_payload_is_counted_acked_and_does_not_block(
    nats_server: NatsServer, pg_url: str, mosquitto: Mosquitto
) -> None:
    settings = Settings.model_validate(config_doc(pg_url, nats_server.url, mosquitto.port, 3))
    stop, engine_stop = asyncio.Event(), asyncio.Event()
    role = IngestRole(settings, env={})
    sim = ButtonSim(mosquitto.port, PREFIX, "sim-d")
    engine = asyncio.create_task(run_engine(settings, engine_stop, env={}))
    try:
        assert await role.start(stop)
        await asyncio.wait_for(role.listener.connected.wait(), 10)
        raw = sim.raw
        await asyncio.to_thread(raw, f"{PREFIX}/buttons/B-001/event", b"{not json")
        await asyncio.to_thread(raw, f"{PREFIX}/buttons/B-001/event", json.dumps({"kind": "boom", "seq": 1}))
        await asyncio.to_thread(sim.send, "B-404", seq=1)  # not in the config
        await asyncio.to_thread(raw, f"{PREFIX}/buttons/B-002/status", "offline")  # presence goes through too
        await asyncio.to_thread(sim.send, "B-001", seq=7)  # a good press behind the bad ones
        await wait_for(lambda: "B-001" in sos_incidents(pg_url), 30, "the good press's incident")
        await wait_for(lambda: role.listener.acked == 5, 10, "every message acked, bad ones included")
        assert outcome(role, "malformed_json") == 1
        assert outcome(role, "unknown_kind") == 1
        assert outcome(role, "unknown_button") == 1
        assert outcome(role, "presence") == 1 and outcome(role, "published") == 1

        def device(device_id: str) -> tuple[Any, ...] | None:
            with psycopg.connect(pg_url) as conn:
                return conn.execute(
                    "SELECT known, presence, last_error FROM devices WHERE id = %s", (device_id,)
                ).fetchone()

        await wait_for(lambda: device("B-404") is not None, 10, "the unknown sender listed")
        assert device("B-404") == (False, "unknown", "unknown_button")
        await wait_for(lambda: (device("B-002") or ("",))[1] == "offline", 10, "B-002 offline")
        with psycopg.connect(pg_url) as conn:
            offline = conn.execute(
                "SELECT count(*) FROM incidents WHERE category = 'device_offline' AND source_id = 'B-002'"
            ).fetchone()
        assert offline == (1,)
    finally:
        stop.set()
        engine_stop.set()
        sim.close()
        await role.stop()
        await engine


async def test_a_bug_while_handling_cycles_the_connection_and_the_broker_resends(
    mosquitto: Mosquitto,
) -> None:
    """The worker's loop boundary: an unexpected error leaves the batch unacked and reconnects, so the
    broker resends it (same session) instead of holding it until the process restarts."""
    from prometheus_client import CollectorRegistry

    from ingest.shared_listener import SharedButtonListener

    stored: list[str] = []

    async def publish(msg: ButtonMessage) -> bool:
        stored.append(msg.msg_id)
        return True

    cfg = MqttConfig(port=mosquitto.port, embedded=False, prefix=PREFIX)
    registry = CollectorRegistry()
    listener = SharedButtonListener(
        cfg,
        None,
        client_id="ingest-bug",
        group="g",
        session_expiry_s=60,
        receive_maximum=10,
        known=lambda _b: True,
        publish=publish,
        registry=registry,
    )
    parse, calls = listener._parse, []

    def parse_with_a_bug(msg: Any) -> ButtonMessage | str:
        calls.append(msg.mid)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return parse(msg)

    listener._parse = parse_with_a_bug  # type: ignore[method-assign]
    sim = ButtonSim(mosquitto.port, PREFIX, "sim-bug")
    try:
        await listener.start()
        await asyncio.wait_for(listener.connected.wait(), 10)
        await asyncio.to_thread(sim.send, "B-001", seq=9)
        await wait_for(lambda: listener.acked == 1, 15, "the press resent after the reconnect, then acked")
        assert stored == ["btn:B-001:0:9"] and len(calls) == 2
        assert registry.get_sample_value("sharpeyes_mqtt_messages_total", {"outcome": "error"}) == 1
    finally:
        sim.close()
        await listener.stop()


async def test_started_while_nats_is_down_it_takes_nothing_from_the_broker_until_it_can_store(
    pg_url: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """NATS first: the MQTT subscription (and so the presses) only once JetStream can store them."""
    from tests.support.nats_server import NatsServer
    from tests.support.ports import free_port

    server = NatsServer(free_port(), tmp_path / "js")
    settings = Settings.model_validate(config_doc(pg_url, server.url, mosquitto.port, 3))
    stop = asyncio.Event()
    role = IngestRole(settings, env={})
    starting = asyncio.create_task(role.start(stop))
    try:
        await asyncio.sleep(2.0)
        assert not starting.done() and not role.listener.connected.is_set()
        await asyncio.to_thread(server.start)
        assert await asyncio.wait_for(starting, 30)
        await asyncio.wait_for(role.listener.connected.wait(), 10)
    finally:
        stop.set()
        if not starting.done():
            await starting
        await role.stop()
        server.stop()


def test_api_with_ingest_and_delivery_roles_needs_no_broker_connection(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Buttons via --role ingest, notices via --role delivery: the API has nothing to do on MQTT, so it does
    not connect (several API replicas then never fight over one client id) and readiness leaves MQTT out. With
    `delivery.via: api` it still connects, to send the notices itself."""
    from sharpeyes.distributed.api_role import ApiRuntime
    from sharpeyes.distributed.roles import api_settings

    def runtime(via: str, name: str) -> ApiRuntime:
        doc = {
            "storage": {"url": f"sqlite:///{tmp_path / name}"},
            "mqtt": {"port": mosquitto.port, "embedded": False, "prefix": PREFIX, "client_id": name},
            "distributed": {
                "buttons_via": "ingest",
                "delivery": {"via": via},
                "nats_url": "nats://127.0.0.1:1",
            },
        }
        return ApiRuntime(api_settings(Settings.model_validate(doc)), env={})

    async def body() -> None:
        quiet, sender = runtime("queue", "quiet"), runtime("api", "sender")
        for rt in (quiet, sender):
            await rt.start()
        try:
            await asyncio.to_thread(sender.listener.wait_connected, 10)
            await asyncio.sleep(0.5)
            assert sender.listener.client.is_connected()
            assert not quiet.listener.client.is_connected()
            assert "mqtt" not in quiet.services.readiness() and "mqtt" in sender.services.readiness()
        finally:
            for rt in (quiet, sender):
                await rt.stop()

    asyncio.run(body())
