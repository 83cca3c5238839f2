"""Secrets never leave the process: the service runs as a subprocess at DEBUG log level with a known webhook
secret, API token, MQTT password and an RTSP password inside a camera URL; the test drives traffic and
errors (bad tokens, a webhook to a closed port, an unreachable camera, bad requests), then searches the
service log, /metrics and every API answer for each secret in every form it could take."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
import yaml

from tests.support.buttons import ButtonSim
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.service import SECRET, TOKEN, Service, write_config

MQTT_PASSWORD = "mqtt-Pa55-0c1f9e"
CAM_PASSWORD = "cam-Pa55-7b2d44"


class SecretService(Service):
    def env(self) -> dict[str, str]:
        return {**super().env(), "TEST_MQTT_PASSWORD": MQTT_PASSWORD, "CAM_PASSWORD": CAM_PASSWORD}


def forms(secret: str) -> set[str]:
    """The secret as written, URL-encoded, and for a whsec_ secret its base64 body and decoded key."""
    out = {secret, quote(secret, safe="")}
    if secret.startswith("whsec_"):
        body = secret.removeprefix("whsec_")
        out |= {body, base64.b64decode(body).decode()}
    return out


SECRETS = {
    "webhook secret": forms(SECRET),
    "API token": forms(TOKEN),
    "MQTT password": forms(MQTT_PASSWORD),
    "RTSP password": forms(CAM_PASSWORD),
}


def _wait(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretService]:
    tmp = tmp_path_factory.mktemp("secrets")
    broker = Mosquitto(tmp / "mosquitto").start()  # anonymous allowed: the password is sent and ignored
    path = tmp / "svc.yaml"
    dead_port = free_port()  # nothing listens: the webhook fails, the camera is refused
    cfg = write_config(
        path,
        mqtt_port=broker.port,
        webhook_url=f"http://127.0.0.1:{dead_port}/hook",
        db=tmp / "se.db",
        extra={
            "log_level": "DEBUG",
            "cameras": [
                {
                    "id": "CAM-DEAD",
                    "url": f"rtsp://admin:${{CAM_PASSWORD}}@127.0.0.1:{dead_port}/stream1",
                    "grid": "G-001",
                    "rules": [{"kind": "fire"}],
                    "stall_s": 2,
                    "down_after_s": 2,
                }
            ],
        },
    )
    cfg["mqtt"].update(username="sharpeyes", password_env="TEST_MQTT_PASSWORD")
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    service = SecretService(path, cfg, tmp / "service.log")
    try:
        service.start(timeout=60)
        yield service
        assert service.stop() == 0
    finally:
        service.kill9()
        broker.stop()


def _traffic(svc: SecretService) -> list[httpx.Response]:
    """Presses, a failing webhook, a refused camera, and a spread of bad requests; their answers."""
    button = ButtonSim(svc.cfg["mqtt"]["port"], prefix="se", client_id="secret-test-button")
    try:
        button.send("B-001", seq=1)
        button.raw("se/buttons/B-002/event", b"{not json")
    finally:
        button.close()
    assert _wait(lambda: svc.get("/api/incidents").json()["count"] >= 1)
    assert _wait(lambda: svc.get("/api/deliveries", status="dead").json()["count"] >= 1, 40), svc.get(
        "/api/deliveries"
    ).text
    assert _wait(lambda: svc.get("/api/cameras").json()["items"][0]["reconnects"] >= 1)
    base = svc.base
    answers = [
        httpx.get(f"{base}/api/incidents", headers={"Authorization": f"Bearer {TOKEN}x"}),
        httpx.get(f"{base}/api/incidents", headers={"Authorization": f"Bearer {TOKEN[:-1]}"}),
        httpx.get(f"{base}/api/incidents", headers={"Authorization": f"Basic {TOKEN}"}),
        httpx.get(f"{base}/api/incidents/{TOKEN}", headers=svc.headers()),  # a token pasted in the path
        httpx.get(f"{base}/api/incidents", params={"token": TOKEN}),
        httpx.post(f"{base}/api/incidents/1/explode", headers=svc.headers(), json={}),
        httpx.post(f"{base}/api/incidents/1/acknowledge", headers=svc.headers(), json={"x": MQTT_PASSWORD}),
        httpx.post(f"{base}/api/incidents/1/dispatch", headers=svc.headers(), json={"note": CAM_PASSWORD}),
        httpx.post(f"{base}/auth/login", json={"username": "nobody", "password": SECRET}),
        httpx.post(f"{base}/api/deliveries/1/retry", headers=svc.headers()),
    ]
    assert _wait(lambda: svc.get("/api/deliveries", status="dead").json()["count"] >= 1, 40)
    return answers


def test_no_secret_in_log_metrics_or_api_output(svc: SecretService) -> None:
    answers = _traffic(svc)
    incident = svc.get("/api/incidents").json()["items"][0]["id"]
    outputs: dict[str, str] = {f"answer to {r.request.method} {r.request.url.path}": r.text for r in answers}
    for path, params in (
        ("/api/cameras", {}),
        ("/api/deliveries", {}),
        ("/api/deliveries", {"status": "dead"}),
        ("/api/incidents", {}),
        (f"/api/incidents/{incident}", {}),
        ("/api/devices", {}),
        ("/api/kpis", {}),
        ("/api/grids", {}),
        ("/readyz", {}),
        ("/metrics", {}),
        ("/openapi.json", {}),
        ("/auth/me", {}),
    ):
        r = svc.get(path, **params)
        assert r.status_code == 200, (path, r.status_code)
        outputs[f"GET {path} {params or ''}"] = (
            r.text + "\n" + "\n".join(f"{k}: {v}" for k, v in r.headers.items())
        )
    assert svc.stop() == 0  # shutdown logs too
    outputs["service log"] = svc.log.read_text()
    leaks: list[tuple[str, str]] = [
        (name, where)
        for name, variants in SECRETS.items()
        for where, text in outputs.items()
        if any(v in text for v in variants)
    ]
    assert not leaks, leaks
    # The search would see them: the log names the things the secrets belong to.
    log = outputs["service log"]
    assert "CAM-DEAD" in log and "127.0.0.1" in log
    assert '"status":"dead"' in outputs["GET /api/deliveries {'status': 'dead'}"]  # the error path ran
    assert "Connection refused" in log or "refused" in log.lower()
