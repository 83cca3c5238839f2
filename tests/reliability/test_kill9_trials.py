"""kill -9 of the service at random points during a steady press load, many times over: every press the
broker accepted ends in exactly one stored press and at least one delivered webhook. Figures go to
docs/RELIABILITY.md (run with -s to see them)."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from sharpeyes.receiver import DispatchReceiver
from tests.reliability.support import PressLoad, account, delivered_presses, wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.service import SECRET, Service, write_config

TRIALS = int(os.environ.get("SHARPEYES_KILL_TRIALS", "20"))


def test_kill9_at_random_points_loses_nothing(tmp_path: Path, mosquitto: Mosquitto, receiver) -> None:  # type: ignore[no-untyped-def]
    seed = int(os.environ.get("SHARPEYES_KILL_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    db = tmp_path / "se.db"
    cfg_path = tmp_path / "svc.yaml"
    cfg = write_config(cfg_path, mqtt_port=mosquitto.port, webhook_url=receiver.url, db=db)
    service = Service(cfg_path, cfg, tmp_path / "svc.log")
    buttons = [b["id"] for b in cfg["buttons"]]
    # The service's persistent session must exist before the load: the broker queues for a known
    # session only (in the field it exists from the first start on).
    service.start()
    load = PressLoad(mosquitto.port, buttons, rate=40).start()
    try:
        for trial in range(TRIALS):
            if trial:
                service.start()
            time.sleep(rng.uniform(0.05, 1.5))
            service.kill9()
        service.start()
        time.sleep(1.0)
        load.stop()
        published = list(load.published)
        done = wait_until(lambda: all(delivered_presses(receiver)[p] for p in published), 90)
        service.stop()
        result = account(published, receiver, db)
        result.extra = {"trials": TRIALS, "seed": seed, "publish_failures": load.failed}
        print(f"\nkill -9 trials: {result.line()}")
        assert done, result.line() + "\n" + service.log.read_text()[-3000:]
        assert result.published > TRIALS * 20, result.line()
        assert result.lost_in_store == [] and result.twice_in_store == [], result.line()
        assert result.not_delivered == [], result.line()
        assert receiver.bad_signatures == 0
    finally:
        load.stop()
        service.kill9()


def test_receiver_dedupes_what_a_crash_resends(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """A crash between sending and recording a delivery resends it with the same webhook-id, which is
    how a receiver recognises it: slow responses make that window wide."""
    receiver = DispatchReceiver(SECRET).start()
    receiver.behaviour.delay_s = 0.3  # the service waits on the answer while we kill it
    db = tmp_path / "se.db"
    cfg_path = tmp_path / "svc.yaml"
    cfg = write_config(cfg_path, mqtt_port=mosquitto.port, webhook_url=receiver.url, db=db)
    service = Service(cfg_path, cfg, tmp_path / "svc.log")
    service.start()
    load = PressLoad(mosquitto.port, [b["id"] for b in cfg["buttons"]], rate=20).start()
    try:
        for trial in range(3):
            if trial:
                service.start()
            time.sleep(1.0)
            service.kill9()
        receiver.behaviour.delay_s = 0.0
        service.start()
        load.stop()
        published = list(load.published)
        assert wait_until(lambda: all(delivered_presses(receiver)[p] for p in published), 60)
        service.stop()
        result = account(published, receiver, db)
        print(f"\nkill -9 with slow receiver: {result.line()}")
        assert result.lost_in_store == [] and result.twice_in_store == [] and result.not_delivered == []
        assert receiver.attempts >= len(receiver.received)  # resends happened or not: never a loss
    finally:
        load.stop()
        service.kill9()
        receiver.stop()
