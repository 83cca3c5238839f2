"""mosquitto killed with `kill -9` 0.05 s after the last PUBACK of a burst, with the persistence of
`docs/mqtt/mosquitto.conf` (saved every 30 min, so a kill loses what the broker held in memory). An
independent trial lost 15 of 50 acked presses this way. A pole that follows the firmware contract
(docs/mqtt/BUTTONS.md: re-send the same `(boot, seq)` until the `received` receipt) loses none, and the
dedup keeps the re-sends from opening a second incident. With the service busy (stopped with SIGSTOP) the
broker holds every press in memory for it when it dies, so without re-sending all of them would be lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from sharpeyes.receiver import DispatchReceiver
from tests.reliability.support import wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.pole import ContractPole
from tests.support.service import Service, write_config

PRESSES = 50


@pytest.mark.parametrize("service_busy", [False, True], ids=["service-keeping-up", "service-busy"])
def test_no_acked_press_is_lost_when_the_broker_is_killed_right_after_its_pubacks(
    tmp_path: Path, receiver: DispatchReceiver, service_busy: bool
) -> None:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    db = tmp_path / "se.db"
    cfg_path = tmp_path / "svc.yaml"
    buttons = [{"id": f"B-{i:03d}", "grid": "G-001" if i % 2 else "G-002"} for i in range(1, PRESSES + 1)]
    cfg = write_config(
        cfg_path, mqtt_port=broker.port, webhook_url=receiver.url, db=db, extra={"buttons": buttons}
    )
    service = Service(cfg_path, cfg, tmp_path / "svc.log").start()
    pole = ContractPole(broker.port, resend_s=2.0)
    try:
        assert wait_until(lambda: pole.client.is_connected(), 10)
        assert service.proc is not None
        if service_busy:
            os.kill(service.proc.pid, signal.SIGSTOP)
        for b in buttons:
            assert pole.press(b["id"], seq=1), "the broker refused a press before the kill"
        time.sleep(0.05)
        broker.kill9()
        time.sleep(1.0)
        with sqlite3.connect(db) as conn:  # what reached the service before the broker died
            stored_at_kill = conn.execute("SELECT count(*) FROM incidents").fetchone()[0]
        if service_busy:
            assert stored_at_kill == 0
            os.kill(service.proc.pid, signal.SIGCONT)
        broker.start()  # same port, whatever its persistence file held
        assert wait_until(lambda: not pole.waiting(), 60), f"no receipt for {pole.waiting()}"
        acked = set(pole.pubacked)
        assert len(acked) == PRESSES and acked <= set(pole.receipts)
        assert wait_until(lambda: len(receiver.received) >= PRESSES, 30)
        service.stop()
        with sqlite3.connect(db) as conn:
            per_button = dict(conn.execute("SELECT source_id, count(*) FROM incidents GROUP BY source_id"))
        print(
            f"\nbroker kill -9 0.05 s after {PRESSES} PUBACKs: {stored_at_kill} presses had reached the "
            f"service, {PRESSES - stored_at_kill} came only by re-sending ({pole.resends} re-sends); "
            f"{len(per_button)} incidents, 0 lost"
        )
        assert per_button == {b["id"]: 1 for b in buttons}  # every press, once
        created = [r.body for r in receiver.received.values() if r.body["type"] == "incident.created"]
        assert sorted(b["data"]["source_id"] for b in created) == [b["id"] for b in buttons]
    finally:
        if service_busy and service.proc is not None:
            os.kill(service.proc.pid, signal.SIGCONT)
        pole.close()
        service.kill9()
        broker.stop()
