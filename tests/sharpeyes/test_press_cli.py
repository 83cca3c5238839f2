"""`sharpeyes press` publishes what a real button publishes, from any shell: it needs the MQTT address
from the config, not the service's webhook or token secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mosquitto import Mosquitto
from tests.support.service import write_config


def test_press_from_a_shell_without_the_service_secrets(tmp_path: Path, mosquitto: Mosquitto) -> None:
    cfg = tmp_path / "c.yaml"
    write_config(cfg, mqtt_port=mosquitto.port, webhook_url="http://127.0.0.1:9/x", db=tmp_path / "d.db")
    got: list[tuple[str, dict]] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="press-watch")
    sub.on_message = lambda _c, _u, m: got.append((m.topic, json.loads(m.payload)))
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("se/buttons/+/event", 1)
    sub.loop_start()
    time.sleep(0.3)
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_WEBHOOK_SECRET", "TEST_ADMIN_TOKEN")}
    try:
        out = subprocess.run(
            [sys.executable, "-m", "sharpeyes.cli", "press", "B-003", "-c", str(cfg), "--seq", "42"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    [(topic, body)] = got
    assert topic == "se/buttons/B-003/event"
    assert (body["kind"], body["seq"]) == ("press", 42) and abs(body["ts"] - time.time()) < 30
