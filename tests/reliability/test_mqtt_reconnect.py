"""Back within about a second of the broker, however long it was away: outages of 5, 20 and 45 s between the
button listener and a real mosquitto (a TCP proxy cut, like a broken network), run side by side. After each
outage a pole presses every 0.1 s straight on the broker; the first press the listener hears marks it
subscribed again. With paho's backoff doubling up to 30 s (before `mqtt.reconnect_max_s`) a 20 s outage took
11 s and a 45 s outage more than 15 s; now each is back in about 0.1 s."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from ingest.config import MqttConfig
from ingest.mqtt_client import ButtonListener
from ingest.types import PanicSignal
from tests.support.buttons import ButtonSim
from tests.support.mosquitto import Mosquitto
from tests.support.tcp_proxy import TcpProxy

OUTAGES_S = (5.0, 20.0, 45.0)
BACK_WITHIN_S = 2.0


class _Heard:
    def __init__(self) -> None:
        self.at: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    def on_signal(self, sigs: list[PanicSignal]) -> list[str]:
        with self.lock:
            self.at.extend((time.monotonic(), s.button_id) for s in sigs)
        return ["stored"] * len(sigs)

    def first_after(self, t: float, button_id: str) -> float | None:
        with self.lock:
            return next((at for at, b in self.at if at >= t and b == button_id), None)


def _outage(broker: Mosquitto, outage_s: float, i: int, results: dict[float, float | None]) -> None:
    proxy = TcpProxy(broker.port).start()
    heard = _Heard()
    cfg = MqttConfig(port=proxy.port, embedded=False, prefix="se", client_id=f"reconnect-{i}")
    listener = ButtonListener(
        cfg, None, lambda _b: True, heard.on_signal, lambda *_: None, lambda *_: None, CollectorRegistry()
    )
    button = f"B-{i}"
    pole = ButtonSim(broker.port, "se", f"pole-{i}")
    try:
        listener.start()
        assert listener.wait_connected(10)
        proxy.cut()
        time.sleep(outage_s)
        proxy.restore()
        back = time.monotonic()
        seq = 0
        while time.monotonic() - back < 15 and heard.first_after(back, button) is None:
            seq += 1
            pole.send(button, seq=seq)
            time.sleep(0.1)
        first = heard.first_after(back, button)
        results[outage_s] = None if first is None else first - back
    finally:
        pole.close()
        listener.stop()
        proxy.stop()


def test_listener_is_back_within_two_seconds_of_the_broker_whatever_the_outage(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    results: dict[float, float | None] = {}
    try:
        threads = [
            threading.Thread(target=_outage, args=(broker, s, i, results), name=f"outage-{s:g}")
            for i, s in enumerate(OUTAGES_S)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        broker.stop()
    print("\nMQTT back after outage (s → s after the broker is reachable):", results)
    assert set(results) == set(OUTAGES_S), f"an outage did not finish: {results}"
    for outage_s, back_s in results.items():
        assert back_s is not None and back_s <= BACK_WITHIN_S, f"{outage_s:g} s outage: back after {back_s} s"
