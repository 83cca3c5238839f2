"""`delivery.sender: own_process`: webhooks and the poles' receipts leave from a child process (issue 19.1),
with nothing lost when that child is killed, and the parent's page and /metrics still hear every delivery."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from sharpeyes.receiver import DispatchReceiver
from tests.support.buttons import ButtonSim
from tests.support.mosquitto import Mosquitto
from tests.support.service import SECRET, Service, write_config


def _children(pid: int) -> list[int]:
    """Children of any of its threads (the sender is started from a worker thread)."""
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in listing.read_text().split()]
        except OSError:
            continue  # the thread ended meanwhile
    return found


def _sender_pid(service: Service) -> int:
    """The sender child: the spawned process whose command line names multiprocessing's spawn."""
    assert service.proc is not None
    for child in _children(service.proc.pid):
        cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in cmd:
            return child
    raise AssertionError(f"no sender process among {_children(service.proc.pid)}")


class _Receipts:
    """The poles' ack topics, as a button would hear them."""

    def __init__(self, port: int) -> None:
        self.seen: list[dict] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pole-listener")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("se/buttons/+/ack", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.seen.append({**json.loads(msg.payload), "topic": msg.topic})

    def received_for(self, button: str) -> list[dict]:
        with self.lock:
            return [
                m for m in self.seen if m["type"] == "received" and m["topic"] == f"se/buttons/{button}/ack"
            ]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_child_sends_receipts_and_webhooks_and_survives_kill9(tmp_path: Path, mosquitto: Mosquitto) -> None:
    receiver = DispatchReceiver(SECRET).start()
    cfg_path = tmp_path / "svc.yaml"
    cfg = write_config(
        cfg_path,
        mqtt_port=mosquitto.port,
        webhook_url=receiver.url,
        db=tmp_path / "se.db",
        extra={"delivery": {"sender": "own_process", "restart_s": 0.5}},
    )
    service = Service(cfg_path, cfg, tmp_path / "svc.log").start()
    receipts = _Receipts(mosquitto.port)
    sim = ButtonSim(mosquitto.port)
    try:
        sim.send("B-001", seq=1)
        assert receiver.wait_for(
            lambda r: any(x.body["data"]["source_id"] == "B-001" for x in r.values()), 15
        )
        assert _wait(lambda: receipts.received_for("B-001"), 10), receipts.seen
        first = _sender_pid(service)

        # The page's view: the incident reads as delivered, heard from the child and published by the parent.
        def delivered() -> bool:
            items = service.get("/api/incidents").json()["items"]
            return any(i["source_id"] == "B-001" and i["dispatch_status"] == "delivered" for i in items)

        assert _wait(delivered, 10)
        metrics = httpx.get(f"{service.base}/metrics", headers=service.headers(), timeout=5).text
        assert 'sharpeyes_deliveries_total{channel="webhook",result="delivered",target="police"}' in metrics
        count = [
            ln for ln in metrics.splitlines() if ln.startswith("sharpeyes_incident_to_webhook_seconds_count")
        ]
        assert count and float(count[0].split()[-1]) >= 1.0

        # kill -9 the sender: presses made while it is down are stored, then sent by its successor.
        os.kill(first, signal.SIGKILL)
        for i in range(2, 12):
            sim.send(f"B-{i:03d}", seq=1)
        want = {f"B-{i:03d}" for i in range(1, 12)}
        assert receiver.wait_for(lambda r: {x.body["data"]["source_id"] for x in r.values()} >= want, 30)
        assert _wait(lambda: all(receipts.received_for(b) for b in want), 15)
        second = _sender_pid(service)
        assert second != first
        assert "delivery sender process" in (tmp_path / "svc.log").read_text()
        assert service.get("/readyz").status_code == 200
    finally:
        receipts.close()
        sim.close()
        code = service.stop()
        receiver.stop()
    assert code == 0


def test_a_dead_letter_in_the_child_raises_its_alarm_in_the_parent(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """An endpoint that never answers: the child gives up after its attempts; the parent opens the
    dispatch_failure incident that operators see (the same as in process)."""
    receiver = DispatchReceiver(SECRET).start()
    dead_port = receiver.port
    receiver.stop()  # nothing listens there any more
    cfg_path = tmp_path / "svc.yaml"
    hooks = [
        {
            "name": "police",
            "url": f"http://127.0.0.1:{dead_port}/hook",
            "secret_env": "TEST_WEBHOOK_SECRET",
            "retry": {"max_attempts": 2, "delays_s": [0.2]},
        }
    ]
    cfg = write_config(
        cfg_path,
        mqtt_port=mosquitto.port,
        webhook_url=f"http://127.0.0.1:{dead_port}/hook",
        db=tmp_path / "se.db",
        extra={"delivery": {"sender": "own_process"}, "webhooks": hooks},
    )
    service = Service(cfg_path, cfg, tmp_path / "svc.log").start()
    sim = ButtonSim(mosquitto.port)
    try:
        sim.send("B-003", seq=1)

        def failure_raised() -> bool:
            items = service.get("/api/incidents").json()["items"]
            return any(i["category"] == "dispatch_failure" for i in items)

        assert _wait(failure_raised, 30), service.get("/api/incidents").json()["items"]
        items = service.get("/api/incidents").json()["items"]
        sos = next(i for i in items if i["source_id"] == "B-003")
        assert sos["dispatch_status"] != "delivered"
        metrics = httpx.get(f"{service.base}/metrics", headers=service.headers(), timeout=5).text
        assert 'sharpeyes_deliveries_total{channel="webhook",result="dead",target="police"}' in metrics
    finally:
        sim.close()
        service.stop()
