"""A false alarm silences, it does not blind, in Chromium against the service process: a camera that keeps
seeing fire (the room-fire clip, looped) raises; the operator cancels it as a false alarm with a short
silence; the device view lists who, why and until when; when the silence expires the fire still in view
opens a new incident linked to the cancelled one; a silence lifted early re-raises at once.
SHARPEYES_SCREENSHOTS=docs/screenshots refreshes silences.png."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from alarms.storage.store import Store
from dashboard.users import UserStore
from tests.e2e.conftest import GRIDS, PASSWORD, USERS
from tests.e2e.test_operator_page import row, shots
from tests.support.browser import sign_in
from tests.support.service import Service, write_config

pytestmark = pytest.mark.timeout(240)
CAMERA = "CAM-FIRE"
SILENCES = {
    "min_s": 1,
    "categories": {"fire": {"default_s": 6, "max_s": 20}, "smoke": {"default_s": 6, "max_s": 20}},
}


@pytest.fixture
def fire_service(tmp_path: Path, mosquitto: Any, receiver: Any, assets: Path) -> Iterator[Service]:
    db = tmp_path / "se.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    for name, role, streets in USERS:
        UserStore(store).add(name, PASSWORD, role, streets=streets)
    store.close()
    camera = {
        "id": CAMERA,
        "url": f"file://{assets / 'video' / 'fire_room_getty.mp4'}",
        "grid": "G-001",
        "rules": [{"kind": "fire", "confirm_k": 2, "confirm_n": 4}],
    }
    extra = {"grids": GRIDS, "cameras": [camera], "silences": SILENCES}
    cfg = write_config(
        tmp_path / "svc.yaml", mqtt_port=mosquitto.port, webhook_url=receiver.url, db=db, extra=extra
    )
    svc = Service(tmp_path / "svc.yaml", cfg, tmp_path / "svc.log").start(timeout=60)
    yield svc
    svc.stop()


def fires(svc: Service) -> list[dict[str, Any]]:
    items = svc.get("/api/incidents", category="fire", limit=1000).json()["items"]
    return sorted((i for i in items if i["source_id"] == CAMERA), key=lambda i: i["id"])


def wait_fire(svc: Service, count: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = fires(svc)
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.1)
    raise TimeoutError(
        f"{len(fires(svc))} fire incidents from {CAMERA}, wanted {count}:\n{svc.log.read_text()[-2000:]}"
    )


def cancel_as_false_alarm(page: Page, incident_id: int, note: str, seconds: int) -> None:
    row(page, incident_id).click()
    page.click("#detail [data-action='cancel']")
    page.fill("#detail textarea[name='note']", note)
    page.select_option("#detail select[name='disposition']", "false_alarm")
    page.select_option("#silence-duration", str(seconds))
    page.click("#detail button[data-submit='cancel']")
    expect(page.locator("#detail-state")).to_have_text("已撤销")


def test_silence_expires_and_reraises_while_the_camera_still_sees_fire(
    browser: Browser, fire_service: Service, tmp_path: Path
) -> None:
    svc = fire_service
    first = wait_fire(svc, 1, 30)
    page = sign_in(browser, svc.base, "wang", PASSWORD)
    expect(row(page, first["id"])).to_be_visible()
    cancel_as_false_alarm(page, first["id"], "厨房蒸汽", 6)
    cancelled_at = time.monotonic()
    expect(page.locator("#detail .timeline li[data-action='silenced']")).to_contain_text("静默")

    page.click("nav.tabs button[data-view='devices']")
    silence = page.locator(f"#silence-table tr[data-camera='{CAMERA}']")
    expect(silence).to_contain_text("wang")
    expect(silence).to_contain_text("厨房蒸汽")
    expect(silence).to_contain_text("火情")
    page.screenshot(path=str(shots(tmp_path) / "silences.png"), full_page=True)

    # While silenced nothing opens, though the fire is still in view.
    time.sleep(3)
    assert len(fires(svc)) == 1
    second = wait_fire(svc, 2, 30)
    assert time.monotonic() - cancelled_at >= 5  # not before the silence ended
    assert second["linked_incident_id"] == first["id"] and second["state"] == "reported"
    detail = svc.get(f"/api/incidents/{second['id']}").json()
    [reraised] = [e for e in detail["timeline"] if e["action"] == "reraised"]
    assert reraised["data"]["linked_incident_id"] == first["id"]
    old = svc.get(f"/api/incidents/{first['id']}").json()
    assert [e["action"] for e in old["timeline"] if e["action"].startswith("silence")] == [
        "silenced",
        "silence_expired",
    ]

    # On the page: the new incident says why it opened and links to the cancelled one.
    page.click("nav.tabs button[data-view='queue']")
    row(page, second["id"]).click()
    expect(page.locator("#detail .timeline li[data-action='reraised']")).to_contain_text(f"#{first['id']}")
    expect(page.locator("#detail-linked a")).to_have_text(f"#{first['id']}")

    # Lifted early: a 20 s silence ends at once and the fire re-raises.
    cancel_as_false_alarm(page, second["id"], "演练", 20)
    page.click("nav.tabs button[data-view='devices']")
    lift = page.locator(f"#silence-table tr[data-camera='{CAMERA}'] button.lift-silence")
    expect(page.locator(f"#silence-table tr[data-camera='{CAMERA}']")).to_contain_text("演练")
    lifted_at = time.monotonic()
    lift.click()
    expect(page.locator("#silence-none")).to_be_visible()
    third = wait_fire(svc, 3, 15)
    assert time.monotonic() - lifted_at < 15 and third["linked_incident_id"] == second["id"]
    lifted = svc.get(f"/api/incidents/{second['id']}").json()
    assert [e["actor"] for e in lifted["timeline"] if e["action"] == "silence_lifted"] == ["wang"]
    page.context.close()


def test_a_silence_longer_than_the_cap_is_refused(fire_service: Service) -> None:
    first = wait_fire(fire_service, 1, 30)
    r = fire_service.post(
        f"/api/incidents/{first['id']}/cancel", {"note": "x", "disposition": "false_alarm", "silence_s": 21}
    )
    assert (r.status_code, r.json()["code"]) == (422, "silence_out_of_range")
    assert fire_service.get(f"/api/incidents/{first['id']}").json()["state"] == "reported"
