"""A simulated street-pole button: publishes exactly what `sharpeyes press` and real buttons do."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class ButtonSim:
    def __init__(self, port: int, prefix: str = "se", client_id: str = "button-sim") -> None:
        self.prefix = prefix
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def raw(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(10)

    def send(
        self, button_id: str, kind: str = "press", seq: int = 1, ts: float | None = None, **extra
    ) -> None:
        body = {"kind": kind, "ts": ts if ts is not None else time.time(), "seq": seq, **extra}
        self.raw(f"{self.prefix}/buttons/{button_id}/event", json.dumps(body))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
