"""A police receiver away for a while: when it answers again the backlog drains within seconds and every
incident's changes arrive in version order. Before (issue 19.5) each row waited out its own backoff (a 60 s
outage drained 58.5 s after the receiver came back) and ``incident.updated`` overtook ``incident.created``
for 47 of 50 incidents. `SHARPEYES_WEBHOOK_OUTAGE_S=60` repeats the trial's 60 s outage."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sharpeyes.receiver import DispatchReceiver, Received
from tests.support.buttons import ButtonSim
from tests.support.mosquitto import Mosquitto
from tests.support.service import SECRET, Service, write_config

OUTAGE_S = float(os.environ.get("SHARPEYES_WEBHOOK_OUTAGE_S", "20"))
INCIDENTS = 50
DRAINED_WITHIN_S = 10.0


def _arrivals(receiver: DispatchReceiver) -> dict[int, list[tuple[int, str]]]:
    """Per incident, (version, event type) in the order the receiver accepted them."""
    with receiver._lock:
        bodies = [(r.received_at, r.body) for r in receiver.received.values()]
    by_incident: dict[int, list[tuple[int, str]]] = {}
    for _, body in sorted(bodies, key=lambda rb: rb[0]):
        by_incident.setdefault(body["data"]["id"], []).append((body["data"]["version"], body["type"]))
    return by_incident


def _pressed(received: dict[str, Received]) -> list[float]:
    """Arrival times of the changes the presses made (each incident's versions 1 and 2)."""
    return [r.received_at for r in received.values() if r.body["data"]["version"] <= 2]


def test_backlog_drains_in_order_within_seconds_of_the_receiver_returning(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    receiver = DispatchReceiver(SECRET).start()
    port = receiver.port
    db = tmp_path / "se.db"
    cfg_path = tmp_path / "svc.yaml"
    buttons = [{"id": f"B-{i:03d}", "grid": "G-001" if i % 2 else "G-002"} for i in range(1, INCIDENTS + 1)]
    hooks = [{"name": "police", "url": receiver.url, "secret_env": "TEST_WEBHOOK_SECRET"}]  # default retries
    cfg = write_config(
        cfg_path,
        mqtt_port=mosquitto.port,
        webhook_url=receiver.url,
        db=db,
        extra={"buttons": buttons, "webhooks": hooks},
    )
    service = Service(cfg_path, cfg, tmp_path / "svc.log").start()
    sim = ButtonSim(mosquitto.port)
    back: DispatchReceiver | None = None
    try:
        receiver.stop()  # connections refused from here on
        down_at = time.monotonic()
        for seq in (1, 2):  # a press opens the incident (v1); the second press updates it (v2)
            for b in buttons:
                sim.send(b["id"], seq=seq)
            time.sleep(0.5)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        back = DispatchReceiver(SECRET, port=port).start()
        back_at = time.time()
        assert back.wait_for(lambda r: len(_pressed(r)) >= 2 * INCIDENTS, 90), f"{len(back.received)} arrived"
        last = max(_pressed(back.received))  # a long outage also escalates: those changes are newer
        drained_s = last - back_at
        arrivals = _arrivals(back)
        out_of_order = [
            i for i, seen in arrivals.items() if [v for v, _ in seen] != sorted(v for v, _ in seen)
        ]
        first_not_created = [i for i, seen in arrivals.items() if seen[0][1] != "incident.created"]
        print(
            f"\nreceiver away {OUTAGE_S:g} s: {len(back.received)} deliveries, "
            f"drained {drained_s:.2f} s after it returned, "
            f"{len(out_of_order)} incidents out of order, {back.duplicates} duplicates"
        )
        assert len(arrivals) == INCIDENTS
        assert out_of_order == [] and first_not_created == []
        assert drained_s <= DRAINED_WITHIN_S, f"drained {drained_s:.1f} s after the receiver returned"
    finally:
        sim.close()
        service.stop()
        if back is not None:
            back.stop()
