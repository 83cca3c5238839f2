"""The broker unreachable for 30 s, and the broker restarted, during a steady press load: presses the
broker accepted all end in incidents and webhooks once the service is back in touch; readiness shows
the outage while it lasts."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.reliability.support import PressLoad, account, delivered_presses, wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.service import Service, write_config
from tests.support.tcp_proxy import TcpProxy

OUTAGE_S = float(os.environ.get("SHARPEYES_BROKER_OUTAGE_S", "30"))


def test_broker_unreachable_for_30s(tmp_path: Path, mosquitto: Mosquitto, receiver) -> None:  # type: ignore[no-untyped-def]
    proxy = TcpProxy(mosquitto.port).start()
    db = tmp_path / "se.db"
    cfg_path = tmp_path / "svc.yaml"
    cfg = write_config(cfg_path, mqtt_port=proxy.port, webhook_url=receiver.url, db=db)
    service = Service(cfg_path, cfg, tmp_path / "svc.log").start()
    load = PressLoad(mosquitto.port, [b["id"] for b in cfg["buttons"]], rate=20).start()  # buttons: direct
    try:
        time.sleep(1.0)
        proxy.cut()
        assert wait_until(lambda: service.get("/readyz").status_code == 503, 10)
        assert service.get("/readyz").json()["checks"]["mqtt"] is False
        cut_at = time.monotonic()
        during = len(load.published)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))
        during = len(load.published) - during
        proxy.restore()
        restored = time.monotonic()
        assert wait_until(lambda: service.get("/readyz").status_code == 200, 45)
        reconnect_s = time.monotonic() - restored
        time.sleep(0.5)
        load.stop()
        published = list(load.published)
        assert wait_until(lambda: all(delivered_presses(receiver)[p] for p in published), 60)
        service.stop()
        result = account(published, receiver, db)
        result.extra = {
            "outage_s": OUTAGE_S,
            "pressed_during_outage": during,
            "reconnect_s": round(reconnect_s, 1),
        }
        print(f"\nbroker unreachable: {result.line()}")
        assert during > 0
        assert result.lost_in_store == [] and result.twice_in_store == [] and result.not_delivered == []
        assert proxy.refused > 0  # the service kept trying while it was cut off
        assert reconnect_s <= 3.0, f"ready again {reconnect_s:.1f} s after the broker was back"
    finally:
        load.stop()
        service.kill9()
        proxy.stop()


def test_broker_restart_during_presses(tmp_path: Path, mosquitto: Mosquitto, receiver) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "se.db"
    cfg_path = tmp_path / "svc.yaml"
    cfg = write_config(cfg_path, mqtt_port=mosquitto.port, webhook_url=receiver.url, db=db)
    service = Service(cfg_path, cfg, tmp_path / "svc.log").start()
    load = PressLoad(mosquitto.port, [b["id"] for b in cfg["buttons"]], rate=20).start()
    try:
        for _ in range(2):
            time.sleep(1.5)
            mosquitto.restart()  # persistence: the service's session and its queue survive
        time.sleep(1.5)
        load.stop()
        published = list(load.published)
        assert wait_until(lambda: all(delivered_presses(receiver)[p] for p in published), 60)
        service.stop()
        result = account(published, receiver, db)
        result.extra = {"broker_restarts": 2, "publish_failures": load.failed}
        print(f"\nbroker restarted: {result.line()}")
        assert result.published > 30  # the load went on across both restarts
        assert result.lost_in_store == [] and result.twice_in_store == [] and result.not_delivered == []
    finally:
        load.stop()
        service.kill9()
