"""MQTT hardening with real parts: a mosquitto configured from docs/mqtt/ (TLS only, password file, per-button
ACL) and the service as a process connecting with TLS (CA-verified, hostname checked) and a password.
A button may publish only as itself; a wrong password is refused and shows in the log, /readyz and
/metrics without the password itself appearing anywhere."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from sharpeyes.receiver import DispatchReceiver
from tests.support.secure_broker import SecureMosquitto
from tests.support.service import Service, write_config

PREFIX = "sharpeyes"  # the documented ACL names this prefix
SERVICE_PASSWORD = "svc-pass-7f3a9c1e"
ACCOUNTS = {"sharpeyes": SERVICE_PASSWORD, "B-001": "b1-pass-2d8e", "B-002": "b2-pass-9c4b"}


class PasswordService(Service):
    """The service process with the MQTT password in its environment (never in the config file)."""

    def __init__(self, config: Path, cfg: dict[str, Any], log: Path, password: str) -> None:
        super().__init__(config, cfg, log)
        self.password = password

    def env(self) -> dict[str, str]:
        return {**super().env(), "TEST_MQTT_PASSWORD": self.password}


def service(tmp: Path, broker: SecureMosquitto, url: str, password: str, name: str) -> PasswordService:
    path = tmp / f"{name}.yaml"
    cfg = write_config(path, mqtt_port=broker.port, webhook_url=url, db=tmp / f"{name}.db", prefix=PREFIX)
    cfg["mqtt"].update(
        username="sharpeyes",
        password_env="TEST_MQTT_PASSWORD",
        tls={"enabled": True, "ca_file": str(broker.ca)},  # hostname verification stays on
    )
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return PasswordService(path, cfg, tmp / f"{name}.log", password)


class Device:
    """A button (or anyone) connecting with its own account over TLS."""

    def __init__(self, broker: SecureMosquitto, user: str | None, password: str | None, tls: bool = True):
        self.client_id = f"dev-{user}-{time.monotonic_ns()}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls:
            self.client.tls_set(ca_certs=str(broker.ca), cert_reqs=ssl.CERT_REQUIRED)
        self.refused: Any = None
        self.connected = threading.Event()
        self.done = threading.Event()
        self.messages: list[tuple[str, dict[str, Any]]] = []

        def on_connect(_c, _u, _f, rc, _p=None) -> None:  # type: ignore[no-untyped-def]
            if rc.is_failure:
                self.refused = rc
            else:
                self.connected.set()
            self.done.set()

        self.client.on_connect = on_connect
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.broker = broker

    def connect(self) -> Device:
        try:
            self.client.connect("127.0.0.1", self.broker.port)
        except (OSError, ssl.SSLError) as exc:
            self.refused = exc
            return self
        self.client.loop_start()
        self.done.wait(10)
        return self

    def press(self, button_id: str, seq: int) -> None:
        body = json.dumps({"kind": "press", "ts": time.time(), "seq": seq})
        info = self.client.publish(f"{PREFIX}/buttons/{button_id}/event", body, qos=1)
        info.wait_for_publish(10)  # mosquitto PUBACKs a denied QoS 1 publish, then drops it

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _wait(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureMosquitto]:
    b = SecureMosquitto(tmp_path_factory.mktemp("secure-mqtt"), ACCOUNTS).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[DispatchReceiver]:
    from tests.support.service import SECRET

    recv = DispatchReceiver(SECRET).start()
    yield recv
    recv.stop()


@pytest.fixture(scope="module")
def svc(
    tmp_path_factory: pytest.TempPathFactory, broker: SecureMosquitto, receiver: DispatchReceiver
) -> Iterator[PasswordService]:
    s = service(tmp_path_factory.mktemp("svc"), broker, receiver.url, SERVICE_PASSWORD, "tls").start()
    yield s
    assert s.stop() == 0


def _sources(svc: Service) -> list[str]:
    return [i["source_id"] for i in svc.get("/api/incidents").json()["items"]]


def test_service_connects_with_tls_and_password_and_a_button_gets_its_ack(
    svc: PasswordService, broker: SecureMosquitto
) -> None:
    assert svc.get("/readyz").json()["checks"]["mqtt"] is True
    button = Device(broker, "B-001", ACCOUNTS["B-001"]).connect()
    assert button.connected.is_set(), button.refused
    try:
        button.client.subscribe(f"{PREFIX}/buttons/B-001/ack", 1)
        time.sleep(0.3)
        button.press("B-001", seq=1)
        assert _wait(lambda: "B-001" in _sources(svc))
        incident = svc.get("/api/incidents").json()["items"][0]["id"]
        assert svc.post(f"/api/incidents/{incident}/acknowledge", {}).status_code == 200
        assert _wait(lambda: any(t == f"{PREFIX}/buttons/B-001/ack" for t, _ in button.messages))
    finally:
        button.close()


def test_a_button_cannot_publish_as_another(svc: PasswordService, broker: SecureMosquitto) -> None:
    button = Device(broker, "B-001", ACCOUNTS["B-001"]).connect()
    assert button.connected.is_set(), button.refused
    try:
        button.press("B-002", seq=100)  # spoofed: the ACL drops it at the broker
        button.press("B-003", seq=101)  # B-003 has no account: nobody may publish for it
        button.press("B-001", seq=102)  # then a real one on the same connection, delivered in order
        assert _wait(lambda: _sources(svc).count("B-001") >= 1)
        time.sleep(1.0)
        assert "B-002" not in _sources(svc) and "B-003" not in _sources(svc)
        other = Device(broker, "B-002", ACCOUNTS["B-002"]).connect()
        assert other.connected.is_set()
        other.client.subscribe(f"{PREFIX}/buttons/B-001/ack", 1)  # reading another's acks: nothing comes
        time.sleep(0.3)
        button.press("B-001", seq=103)
        time.sleep(1.0)
        assert other.messages == []
        other.close()
    finally:
        button.close()
    log = broker.log.read_text()
    assert f"Denied PUBLISH from {button.client_id}" in log and f"'{PREFIX}/buttons/B-002/event'" in log


@pytest.mark.parametrize(
    ("user", "password", "tls"),
    [
        ("B-001", "wrong password", True),
        ("nobody", "whatever", True),
        (None, None, True),  # anonymous
        ("B-001", ACCOUNTS["B-001"], False),  # plain TCP to the TLS listener
    ],
)
def test_devices_without_valid_credentials_are_refused(
    broker: SecureMosquitto, user: str | None, password: str | None, tls: bool
) -> None:
    device = Device(broker, user, password, tls).connect()
    try:
        assert not device.connected.is_set()
    finally:
        device.close()


def test_service_with_a_wrong_password_is_refused_and_says_so_without_the_password(
    tmp_path: Path, broker: SecureMosquitto, receiver: DispatchReceiver
) -> None:
    wrong = "not-the-password-5e1d"
    bad = service(tmp_path, broker, receiver.url, wrong, "wrongpw")
    with pytest.raises(TimeoutError):
        bad.start(timeout=12)  # never ready: /readyz stays 503
    try:
        r = bad.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["mqtt"] is False
        assert "sharpeyes_mqtt_connected 0.0" in bad.get("/metrics").text
        log = bad.log.read_text()
        assert "refused the connection" in log and "Not authorized" in log
        assert log.count("refused the connection") == 1  # paho keeps retrying: reported once, counted each
        assert 'sharpeyes_mqtt_connect_refused_total{reason="Not authorized"}' in bad.get("/metrics").text
        assert "connection to" not in log  # no misleading "lost (Unspecified error)" after a refusal
        assert wrong not in log and SERVICE_PASSWORD not in log
    finally:
        assert bad.stop() == 0
