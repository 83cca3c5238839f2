"""A street pole whose firmware follows docs/mqtt/BUTTONS.md: it presses with QoS 1 and re-sends each press
(same boot and seq) until it hears the service's ``received`` receipt for it."""

from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

Press = tuple[str, int, int]  # button id, boot, seq


class ContractPole:
    """Many buttons behind one client (the test's fleet); each press is re-sent every ``resend_s``."""

    def __init__(self, port: int, prefix: str = "se", resend_s: float = 2.0, boot: int = 1) -> None:
        self.prefix = prefix
        self.resend_s = resend_s
        self.boot = boot
        self.pubacked: list[Press] = []
        self.receipts: dict[Press, dict] = {}
        self.resends = 0
        self._waiting: dict[Press, float] = {}  # press → when it was last sent
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="contract-pole", clean_session=False)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._resend_loop, name="pole-resend", daemon=True)
        self._thread.start()

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object
    ) -> None:
        client.subscribe(f"{self.prefix}/buttons/+/ack", qos=1)  # again after every reconnect

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        if body.get("type") != "received":
            return
        press = (msg.topic.split("/")[-2], int(body["boot"]), int(body["seq"]))
        with self._lock:
            self.receipts.setdefault(press, body)
            self._waiting.pop(press, None)

    def press(self, button: str, seq: int) -> bool:
        """One press; True once the broker PUBACKed it. It is re-sent until its receipt either way."""
        press = (button, self.boot, seq)
        with self._lock:
            self._waiting[press] = time.monotonic()
        if self._publish(press):
            self.pubacked.append(press)
            return True
        return False

    def _publish(self, press: Press) -> bool:
        button, boot, seq = press
        body = json.dumps({"kind": "press", "ts": time.time(), "seq": seq, "boot": boot})
        try:
            info = self.client.publish(f"{self.prefix}/buttons/{button}/event", body, qos=1)
            info.wait_for_publish(2)
            return info.is_published()
        except (RuntimeError, ValueError):  # not connected: the re-send loop tries again
            return False

    def _resend_loop(self) -> None:
        while not self._stop.wait(0.1):
            now = time.monotonic()
            with self._lock:
                due = [p for p, at in self._waiting.items() if now - at >= self.resend_s]
                for p in due:
                    self._waiting[p] = now
            for p in due:
                self.resends += 1
                self._publish(p)

    def waiting(self) -> list[Press]:
        with self._lock:
            return list(self._waiting)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.client.loop_stop()
        self.client.disconnect()
