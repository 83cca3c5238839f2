"""Helpers for the operator-shift browser tests (issue 14): a service with named users (display names),
short deadlines where a test needs them, button presses, and waiting for an incident through the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alarms.storage.store import Store
from dashboard.users import UserStore
from tests.e2e.conftest import GRIDS, PASSWORD
from tests.support.buttons import ButtonSim
from tests.support.mosquitto import Mosquitto
from tests.support.service import Service, write_config

# username, role, streets, display name
PEOPLE = [
    ("wang", "operator", None, "王五"),
    ("zhao", "operator", None, "赵六"),
    ("li-s2", "operator", ["S-2"], "李四"),
]


def start(
    tmp_path: Path,
    broker: Mosquitto,
    webhook_url: str,
    extra: dict[str, Any] | None = None,
    seed: Callable[[Path], None] | None = None,
) -> Service:
    db = tmp_path / "se.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    users = UserStore(store)
    for name, role, streets, shown in PEOPLE:
        users.add(name, PASSWORD, role, streets=streets, display_name=shown)
    store.close()
    cfg_path = tmp_path / "svc.yaml"
    cfg = write_config(
        cfg_path,
        mqtt_port=broker.port,
        webhook_url=webhook_url,
        db=db,
        extra={"grids": GRIDS, **(extra or {})},
    )
    if seed is not None:
        seed(cfg_path)
    return Service(cfg_path, cfg, tmp_path / "svc.log").start()


def press(broker: Mosquitto, button: str, seq: int) -> None:
    sim = ButtonSim(broker.port, client_id=f"e2e-{button}-{seq}-{time.monotonic_ns()}")
    try:
        sim.send(button, seq=seq)
    finally:
        sim.close()


def wait_for(svc: Service, pred: Callable[[dict], bool], timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for inc in svc.get("/api/incidents", limit=1000).json()["items"]:
            if pred(inc):
                return inc
        time.sleep(0.05)
    raise TimeoutError("no such incident")


def act(svc: Service, incident_id: int, action: str, **body: Any) -> dict:
    r = svc.post(f"/api/incidents/{incident_id}/{action}", body)
    assert r.status_code == 200, r.text
    return r.json()


def until(page: Any, expression: str, timeout: float = 5.0) -> None:
    """Poll a JS expression from Python: the page's CSP forbids eval, which Playwright's wait_for_function
    needs for a string predicate that is not true at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout} s: {expression}")
