"""Load: 1,000 buttons sending heartbeats, then a burst of 500 presses from 500 buttons within one second
(500 new incidents at once): nothing lost, and the press → webhook p99 is reported (run with -s)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.reliability.support import account, delivered_presses, wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.service import Service, write_config

BUTTONS = [f"L-{i:04d}" for i in range(1000)]


def _client(port: int, name: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def test_1000_buttons_with_heartbeats_and_a_burst_of_500(
    tmp_path: Path, mosquitto: Mosquitto, receiver
) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "se.db"
    cfg_path = tmp_path / "svc.yaml"
    grids = [
        {"id": f"G-{g:03d}", "name": f"网格{g}", "community": f"C-{g % 7}", "street": f"S-{g % 3}"}
        for g in range(50)
    ]
    buttons = [{"id": b, "grid": f"G-{i % 50:03d}"} for i, b in enumerate(BUTTONS)]
    cfg = write_config(
        cfg_path,
        mqtt_port=mosquitto.port,
        webhook_url=receiver.url,
        db=db,
        extra={"grids": grids, "buttons": buttons, "log_level": "WARNING"},
    )
    service = Service(cfg_path, cfg, tmp_path / "svc.log").start(timeout=60)
    stop = threading.Event()
    heartbeats = [0]

    def beat() -> None:  # every button every 5 s: 200 heartbeats a second beside the burst
        c = _client(mosquitto.port, "load-heartbeats")
        seq = 0
        while not stop.is_set():
            for b in BUTTONS:
                seq += 1
                c.publish(
                    f"se/buttons/{b}/event",
                    json.dumps({"kind": "heartbeat", "ts": time.time(), "seq": seq}),
                    1,
                )
                heartbeats[0] += 1
                if stop.wait(0.005):
                    break
        c.loop_stop()
        c.disconnect()

    beater = threading.Thread(target=beat, daemon=True)
    beater.start()
    pubs = [_client(mosquitto.port, f"load-burst-{i}") for i in range(4)]
    try:
        time.sleep(2.0)
        sent: dict[tuple[str, int], float] = {}
        infos = []
        start = time.perf_counter()
        for n, b in enumerate(BUTTONS[:500]):
            delay = start + n * (1.0 / 500) - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            seq = 10_000_000 + n
            sent[(b, seq)] = time.time()
            body = json.dumps({"kind": "press", "ts": sent[(b, seq)], "seq": seq})
            infos.append(pubs[n % 4].publish(f"se/buttons/{b}/event", body, qos=1))
        burst_s = time.perf_counter() - start
        for info in infos:
            info.wait_for_publish(10)
        published = [p for p, info in zip(sent, infos, strict=True) if info.is_published()]
        assert wait_until(lambda: all(delivered_presses(receiver)[p] for p in published), 120), (
            service.log.read_text()[-3000:]
        )
        stop.set()
        beater.join(10)
        with receiver._lock:
            arrivals = {
                (r.body["data"]["source_id"], r.body["data"]["evidence"]["last_seq"]): r.received_at
                for r in receiver.received.values()
                if r.body["data"].get("source_kind") == "button"
            }
        lat = sorted((arrivals[p] - sent[p]) * 1000 for p in published)
        service.stop()
        result = account(published, receiver, db)
        result.extra = {
            "burst_s": round(burst_s, 2),
            "heartbeats": heartbeats[0],
            "p50_ms": round(lat[len(lat) // 2]),
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1]),
            "max_ms": round(lat[-1]),
        }
        print(f"\n1000 buttons, burst of 500: {result.line()}")
        assert len(published) == 500
        assert result.lost_in_store == [] and result.twice_in_store == [] and result.not_delivered == []
    finally:
        stop.set()
        for c in pubs:
            c.loop_stop()
            c.disconnect()
        service.kill9()
