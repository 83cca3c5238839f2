"""The SOS path end to end with real parts: mosquitto, the service as a process, a signing-verifying
HTTP receiver. Each test starts its own broker, database and service."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sharpeyes.receiver import DispatchReceiver
from tests.support.buttons import ButtonSim
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.service import SECRET, Service, write_config


def _service(tmp_path: Path, broker: Mosquitto, url: str, name: str = "svc") -> Service:
    cfg_path = tmp_path / f"{name}.yaml"
    cfg = write_config(cfg_path, mqtt_port=broker.port, webhook_url=url, db=tmp_path / "se.db")
    return Service(cfg_path, cfg, tmp_path / f"{name}.log")


def _created(received: dict) -> list[dict]:
    return [r.body["data"] for r in received.values() if r.body["type"] == "incident.created"]


def _wait(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class AckListener:
    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[dict] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ack-listener")
        self.client.on_message = lambda _c, _u, m: self.messages.append(json.loads(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic, 1)
        self.client.loop_start()
        time.sleep(0.2)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_press_becomes_signed_webhook_listed_incident_and_button_ack(tmp_path, mosquitto, receiver):
    svc = _service(tmp_path, mosquitto, receiver.url).start()
    acks = AckListener(mosquitto.port, "se/buttons/B-001/ack")
    button = ButtonSim(mosquitto.port)
    try:
        button.send("B-001", seq=7)
        assert receiver.wait_for(lambda r: len(_created(r)) == 1, 10), svc.log.read_text()[-2000:]
        inc = _created(receiver.received)[0]
        assert (inc["category"], inc["priority"], inc["grid_id"], inc["street_id"]) == (
            "sos",
            1,
            "G-001",
            "S-1",
        )
        assert receiver.bad_signatures == 0
        listed = svc.get("/api/incidents").json()["items"]
        assert [i["id"] for i in listed] == [inc["id"]]
        # the pole hears that its press is stored, and again when it re-sends it (firmware contract)
        assert _wait(lambda: len(acks.messages) == 1)
        button.send("B-001", seq=7)
        assert _wait(lambda: len(acks.messages) == 2)
        for receipt in acks.messages:
            assert (receipt["type"], receipt["seq"], receipt["incident_id"]) == ("received", 7, inc["id"])
            assert receipt["message_zh"] == "报警已送达"

        r = svc.post(f"/api/incidents/{inc['id']}/acknowledge", {"note": "seen", "actor": "王"})
        assert r.status_code == 200 and r.json()["state"] == "acknowledged"
        assert _wait(lambda: len(acks.messages) == 3)
        r = svc.post(f"/api/incidents/{inc['id']}/dispatch", {"note": "patrol car 3", "assignee": "unit-3"})
        assert r.json()["state"] == "dispatched"
        assert _wait(lambda: len(acks.messages) == 4)
        assert [a["type"] for a in acks.messages[2:]] == ["acknowledged", "dispatched"]
        assert [a["state"] for a in acks.messages[2:]] == ["acknowledged", "dispatched"]
        assert svc.post(f"/api/incidents/{inc['id']}/close", {}).status_code == 409
        detail = svc.get(f"/api/incidents/{inc['id']}").json()
        assert [t["action"] for t in detail["timeline"]] == ["created", "acknowledge", "dispatch"]
        assert detail["timeline"][1]["actor"] == "admin/王"
        assert _wait(lambda: svc.get(f"/api/incidents/{inc['id']}").json()["dispatch_status"] == "delivered")
        metrics = svc.get("/metrics").text
        assert "sharpeyes_press_to_incident_seconds_count 1.0" in metrics
        assert 'sharpeyes_mqtt_messages_total{outcome="stored"} 1.0' in metrics
        assert 'sharpeyes_mqtt_messages_total{outcome="duplicate"} 1.0' in metrics
        assert len(_created(receiver.received)) == 1  # the re-sent press opened nothing
    finally:
        button.close()
        acks.close()
        assert svc.stop() == 0


def test_duplicates_and_redeliveries_make_one_incident(tmp_path, mosquitto, receiver):
    svc = _service(tmp_path, mosquitto, receiver.url).start()
    button = ButtonSim(mosquitto.port)
    try:
        for _ in range(3):
            button.send("B-003", seq=41, ts=1_790_000_000)  # the same message three times: a redelivery
        button.send("B-003", seq=42)  # a second press while the incident is open
        assert _wait(
            lambda: (
                svc.get("/api/incidents").json()["items"]
                and svc.get("/api/incidents").json()["items"][0]["trigger_count"] == 2
            )
        )
        time.sleep(0.5)
        items = svc.get("/api/incidents").json()["items"]
        assert len(items) == 1 and items[0]["trigger_count"] == 2
        assert "sharpeyes_duplicate_events_total 2.0" in svc.get("/metrics").text
    finally:
        button.close()
        svc.stop()


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("se/buttons/B-001/event", b"{not json", "malformed_json"),
        ("se/buttons/B-001/event", b'{"kind": "explode", "ts": 1, "seq": 1}', "unknown_kind"),
        ("se/buttons/B-001/event", b'{"kind": "press", "ts": "yesterday", "seq": 1}', "invalid_payload"),
        ("se/buttons/B-999/event", b'{"kind": "press", "ts": 1790000000, "seq": 1}', "unknown_button"),
        ("se/buttons/B-001/event", b'{"kind": "press", "pad": "' + b"x" * 5000 + b'"}', "oversize"),
    ],
)
def test_bad_input_is_counted_and_service_keeps_working(
    tmp_path, mosquitto, receiver, topic, payload, reason
):
    svc = _service(tmp_path, mosquitto, receiver.url).start()
    button = ButtonSim(mosquitto.port)
    try:
        button.raw(topic, payload)
        assert _wait(
            lambda: f'sharpeyes_mqtt_messages_total{{outcome="{reason}"}} 1.0' in svc.get("/metrics").text
        )
        devices = svc.get("/api/devices").json()
        if reason == "unknown_button":
            assert [d["id"] for d in devices["unknown"]] == ["B-999"]
        button.send("B-002", seq=1)
        assert receiver.wait_for(lambda r: len(_created(r)) == 1, 10)
        assert svc.get("/api/incidents").json()["count"] == 1
    finally:
        button.close()
        svc.stop()


def test_receiver_down_then_up_delivers(tmp_path, mosquitto):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    svc = _service(tmp_path, mosquitto, url).start()
    button = ButtonSim(mosquitto.port)
    try:
        button.send("B-001", seq=1)
        assert _wait(
            lambda: (
                svc.get("/api/deliveries", channel="webhook").json()["items"]
                and svc.get("/api/deliveries", channel="webhook").json()["items"][0]["attempts"] >= 1
            )
        )
        late = DispatchReceiver(SECRET, port=port).start()
        try:
            assert late.wait_for(lambda r: len(_created(r)) == 1, 15), svc.log.read_text()[-2000:]
        finally:
            late.stop()
    finally:
        button.close()
        svc.stop()


def test_kill9_mid_delivery_loses_nothing(tmp_path, mosquitto, receiver):
    receiver.behaviour.delay_s = 1.5  # deliveries are in flight when the process dies
    svc = _service(tmp_path, mosquitto, receiver.url).start()
    button = ButtonSim(mosquitto.port)
    try:
        for i in range(1, 6):
            button.send(f"B-{i:03d}", seq=i)
        assert _wait(lambda: svc.get("/api/incidents").json()["count"] == 5)
        time.sleep(0.3)
        svc.kill9()
        receiver.behaviour.delay_s = 0
        svc.start()
        assert receiver.wait_for(lambda r: len(_created(r)) == 5, 20), svc.log.read_text()[-2000:]
        assert sorted(i["source_id"] for i in _created(receiver.received)) == [
            f"B-{i:03d}" for i in range(1, 6)
        ]
    finally:
        button.close()
        svc.stop()


def test_presses_while_service_is_down_arrive_after_restart(tmp_path, mosquitto, receiver):
    svc = _service(tmp_path, mosquitto, receiver.url).start()  # creates the persistent session
    svc.stop()
    button = ButtonSim(mosquitto.port)
    try:
        for i in range(1, 4):
            button.send(f"B-{i:03d}", seq=100 + i)
        svc.start()
        assert receiver.wait_for(lambda r: len(_created(r)) == 3, 15), svc.log.read_text()[-2000:]
    finally:
        button.close()
        svc.stop()


def test_sigterm_shuts_down_cleanly(tmp_path, mosquitto, receiver):
    svc = _service(tmp_path, mosquitto, receiver.url).start()
    started = threading.Event()
    started.set()
    assert svc.stop() == 0
    assert "sharpeyes stopped" in svc.log.read_text()
