"""The operator page against the real service process, a real mosquitto and Debian's Chromium. Users are
created in the service's database before it starts, exactly as `sharpeyes user add` does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from alarms.storage.store import Store
from dashboard.users import UserStore
from tests.support.browser import launch
from tests.support.mosquitto import Mosquitto
from tests.support.service import Service, write_config

PASSWORD = "correct horse battery"
USERS = [  # username, role, streets
    ("wang", "operator", None),
    ("li-s2", "operator", ["S-2"]),
]


def _grid(gid: str, name: str, community: str, street: str, box: tuple[int, int, int, int]) -> dict:
    x0, y0, x1, y1 = box
    polygon = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    return {"id": gid, "name": name, "community": community, "street": street, "polygon": polygon}


GRIDS = [  # buttons with odd numbers sit in G-001 (street S-1), even ones in G-002 (street S-2)
    _grid("G-001", "网格一", "C-1", "S-1", (0, 0, 100, 80)),
    _grid("G-002", "网格二", "C-2", "S-2", (100, 0, 200, 80)),
    _grid("G-003", "网格三", "C-1", "S-1", (0, 80, 200, 160)),
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


def start_service(tmp_path: Path, broker: Mosquitto, webhook_url: str) -> Service:
    db = tmp_path / "se.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    users = UserStore(store)
    for name, role, streets in USERS:
        users.add(name, PASSWORD, role, streets=streets)
    store.close()
    cfg_path = tmp_path / "svc.yaml"
    cfg = write_config(
        cfg_path,
        mqtt_port=broker.port,
        webhook_url=webhook_url,
        db=db,
        extra={"grids": GRIDS},
    )
    return Service(cfg_path, cfg, tmp_path / "svc.log").start()


@pytest.fixture
def service(tmp_path: Path, mosquitto: Mosquitto, receiver) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    svc = start_service(tmp_path, mosquitto, receiver.url)
    yield svc
    svc.stop()
