"""Helpers for the field-loop browser test (issue 15): a service with a duty roster (a grid worker and a
police officer in 网格一), a `field` account for the worker, a gateway webhook that relays notices, and the
phone context (390×844, touch) signed in through the real sign-in form."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Browser, Page

from alarms.storage.store import Store
from dashboard.users import UserStore
from tests.e2e import shift
from tests.e2e.conftest import PASSWORD
from tests.support.mosquitto import Mosquitto
from tests.support.service import Service

PEOPLE = [
    {
        "id": "P-zhang",
        "name": "张伟",
        "role": "grid_worker",
        "phone": "13800000001",
        "grids": ["G-001"],
        "username": "zhang",
    },
    {"id": "P-wang", "name": "王警官", "role": "police", "unit": "U-pcs", "grids": ["G-001"]},
    {
        "id": "P-night",
        "name": "夜班员",
        "role": "grid_worker",
        "grids": ["G-001"],
        "shifts": [{"days": [0], "start": "03:00", "end": "03:01"}],
    },
]
UNITS = [{"id": "U-pcs", "name": "东城派出所", "kind": "police_station", "grids": ["G-001"]}]


def start(
    tmp_path: Path, broker: Mosquitto, police_url: str, gateway_url: str, accept_s: float = 600
) -> Service:
    """The service with the roster; `accept_s` is the SOS accept deadline (short for the escalation test)."""
    hooks = [
        {
            "name": "police",
            "url": police_url,
            "secret_env": "TEST_WEBHOOK_SECRET",
            "retry": {"delays_s": [0.2, 0.5, 1.0]},
        },
        {
            "name": "gateway",
            "url": gateway_url,
            "secret_env": "TEST_WEBHOOK_SECRET",
            "events": [],
            "retry": {"delays_s": [0.2, 0.5, 1.0]},
        },
    ]
    extra = {
        "webhooks": hooks,
        "people": PEOPLE,
        "units": UNITS,
        "field": {
            "gateway": "gateway",
            "photo_max_bytes": 3_000_000,
            "deadlines": {"sos": {"accept_s": accept_s, "arrive_s": 1800}},
        },
    }

    def seed(_: Path) -> None:
        store = Store(f"sqlite:///{tmp_path / 'se.db'}")
        UserStore(store).add("zhang", PASSWORD, "field", grids=["G-001"], display_name="张伟")
        store.close()

    return shift.start(tmp_path, broker, police_url, extra=extra, seed=seed)


def phone(browser: Browser, base: str, lang: str = "zh-CN") -> Page:
    """The grid worker's phone: 390×844 with touch, signed in, on /field with its tasks loaded."""
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="zh-CN",
        has_touch=True,
        is_mobile=True,
        device_scale_factor=2,
        geolocation={"latitude": 39.9, "longitude": 116.38, "accuracy": 15},
        permissions=["geolocation"],
    )
    page = ctx.new_page()
    page.add_init_script(f"localStorage.setItem('sharpeyes.lang', {lang!r})")
    page.goto(f"{base}/login")
    page.fill("#username", "zhang")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/field")
    page.wait_for_selector("body[data-ready='1']")
    return page


def jpeg(width: int = 1280, height: int = 960) -> bytes:
    """A real photo-sized JPEG with some structure (not a flat colour, which would compress to nothing)."""
    img = Image.radial_gradient("L").resize((width, height)).convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def field_view(svc: Service, incident_id: int) -> dict[str, Any]:
    r = svc.get(f"/api/field/incidents/{incident_id}")
    assert r.status_code == 200, r.text
    return r.json()


def wait_state(svc: Service, incident_id: int, state: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inc = svc.get(f"/api/incidents/{incident_id}").json()
        if inc["state"] == state:
            return inc
        time.sleep(0.05)
    raise AssertionError(f"incident {incident_id} not {state} within {timeout} s: {inc['state']}")
