"""The operator page in Debian's Chromium against the service process and a real mosquitto: sign-in, live
queue by server push, the audible alarm, the closed loop driven from the page, street scope, languages.
Set SHARPEYES_SCREENSHOTS=docs/screenshots to refresh the README's screenshots."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PASSWORD
from tests.support.browser import sign_in
from tests.support.buttons import ButtonSim
from tests.support.service import Service

pytestmark = pytest.mark.timeout(120)


def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("SHARPEYES_SCREENSHOTS") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def row(page: Page, incident_id: int):  # type: ignore[no-untyped-def]
    return page.locator(f"#queue tr.incident[data-id='{incident_id}']")


def wait_incident(svc: Service, source: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = [i for i in svc.get("/api/incidents").json()["items"] if i["source_id"] == source]
        if items:
            return items[0]
        time.sleep(0.05)
    raise TimeoutError(f"no incident from {source}")


def test_sign_in_rejects_a_wrong_password_then_lets_the_operator_in(browser: Browser, service: Service):
    page = browser.new_context().new_page()
    page.goto(f"{service.base}/ui/")
    expect(page).to_have_url(f"{service.base}/login")  # the page needs a session
    page.fill("#username", "wang")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    cookies = page.context.cookies()
    assert not cookies
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{service.base}/ui/")
    expect(page.locator("#who")).to_contain_text("wang")
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    page.context.close()


def test_press_shows_in_queue_within_one_second_and_sounds_the_alarm(
    browser: Browser, service: Service, mosquitto, tmp_path: Path
):  # type: ignore[no-untyped-def]
    page = sign_in(browser, service.base, "wang", PASSWORD)
    page.evaluate("window.__notReloaded = true")
    assert page.evaluate("window.__sharpeyes.alarm().playing") is False
    button = ButtonSim(mosquitto.port, client_id="e2e-press")
    try:
        sent = time.monotonic()
        button.send("B-001", seq=1)
        page.wait_for_selector("#queue tr.incident.state-reported", timeout=1000)
        elapsed = time.monotonic() - sent
    finally:
        button.close()
    assert elapsed < 1.0
    assert page.evaluate("window.__notReloaded") is True  # pushed, not reloaded
    tr = page.locator("#queue tr.incident").first
    expect(tr).to_contain_text("一键报警求助")
    expect(tr).to_contain_text("待受理")
    page.wait_for_function("window.__sharpeyes.alarm().beeps >= 1")
    alarm = page.evaluate("window.__sharpeyes.alarm()")
    assert alarm["playing"] is True and alarm["audio"] == "running"
    assert page.evaluate("document.body.dataset.alarm") == "on"
    tr.click()
    expect(page.locator("#detail-state")).to_have_text("待受理")
    page.screenshot(path=str(shots(tmp_path) / "queue-alarm.png"))
    page.click("#detail button[data-action='acknowledge']")
    expect(page.locator("#detail-state")).to_have_text("已受理")
    page.wait_for_function("!window.__sharpeyes.alarm().playing")  # acknowledged: the alarm stops
    assert page.evaluate("document.body.dataset.alarm") == "off"
    page.context.close()


def test_acknowledge_dispatch_and_close_from_the_page(
    browser: Browser, service: Service, mosquitto, tmp_path: Path
):  # type: ignore[no-untyped-def]
    page = sign_in(browser, service.base, "wang", PASSWORD)
    button = ButtonSim(mosquitto.port, client_id="e2e-loop")
    try:
        button.send("B-001", seq=11)
    finally:
        button.close()
    inc = wait_incident(service, "B-001")
    row(page, inc["id"]).click()
    detail = page.locator("#detail")
    expect(detail.locator("#detail-state")).to_have_text("待受理")

    detail.locator("button[data-action='acknowledge']").click()
    expect(detail.locator("#detail-state")).to_have_text("已受理")
    expect(row(page, inc["id"])).to_have_attribute("data-state", "acknowledged")

    detail.locator("button[data-action='dispatch']").click()
    detail.locator("textarea[name=note]").fill("巡逻车三号前往")
    detail.locator("button[data-submit='dispatch']").click()  # no assignee yet: refused in the page
    expect(detail.locator(".error")).to_have_text("必须填写派遣对象")
    detail.locator("input[name=assignee]").fill("巡逻三组")
    detail.locator("button[data-submit='dispatch']").click()
    expect(detail.locator("#detail-state")).to_have_text("已派遣")
    page.screenshot(path=str(shots(tmp_path) / "incident-dispatched.png"))  # detail: test_incident_place.py

    detail.locator("button[data-action='resolve']").click()
    detail.locator("textarea[name=note]").fill("误触，已确认安全")
    detail.locator("button[data-submit='resolve']").click()
    expect(detail.locator("#detail-state")).to_have_text("已处置")
    detail.locator("button[data-action='close']").click()
    detail.locator("button[data-submit='close']").click()
    expect(detail.locator("#detail-state")).to_have_text("已办结")

    actions = detail.locator(".timeline li").evaluate_all("els => els.map(e => e.dataset.action)")
    assert actions[:4] == ["close", "resolve", "dispatch", "acknowledge"] and actions[-1] == "created"
    expect(detail.locator(".timeline")).to_contain_text("巡逻车三号前往")
    assert service.get(f"/api/incidents/{inc['id']}").json()["state"] == "closed"

    page.click("nav.tabs [data-view='kpis']")
    expect(page.locator("#kpi-overall [data-kpi='closed'] .kpi-value")).to_have_text("1")
    expect(page.locator("#kpi-overall [data-kpi='closure_rate'] .kpi-value")).to_have_text("100.0%")
    expect(page.locator("#kpi-rules tr[data-rule='button:sos']")).to_contain_text("100.0%")
    page.screenshot(path=str(shots(tmp_path) / "kpis-sketch.png"))
    page.click("nav.tabs [data-view='devices']")
    expect(page.locator("#device-table tr[data-device='B-001']")).to_contain_text("B-001")
    page.screenshot(path=str(shots(tmp_path) / "devices.png"))
    page.context.close()


def test_street_scoped_user_sees_only_their_street_in_page_and_api(
    browser: Browser, service: Service, mosquitto, tmp_path: Path
):  # type: ignore[no-untyped-def]
    page = sign_in(browser, service.base, "li-s2", PASSWORD)
    button = ButtonSim(mosquitto.port, client_id="e2e-scope")
    try:
        button.send("B-001", seq=21)  # street S-1
        button.send("B-002", seq=22)  # street S-2
    finally:
        button.close()
    s1 = wait_incident(service, "B-001")
    s2 = wait_incident(service, "B-002")
    expect(row(page, s2["id"])).to_be_visible()
    page.wait_for_timeout(300)  # the S-1 event has been pushed by now, to other users
    assert row(page, s1["id"]).count() == 0
    assert page.locator("#queue tr.incident").count() == 1

    # Through the API with the same session cookie: 404 for the other street, read or write.
    assert page.request.get(f"{service.base}/api/incidents/{s1['id']}").status == 404
    assert page.request.get(f"{service.base}/api/incidents/{s2['id']}").status == 200
    listed = page.request.get(f"{service.base}/api/incidents").json()["items"]
    assert [i["id"] for i in listed] == [s2["id"]]
    csrf = page.evaluate("fetch('/auth/me').then(r => r.json()).then(m => m.csrf)")
    r = page.request.post(
        f"{service.base}/api/incidents/{s1['id']}/acknowledge",
        data={"note": "x"},
        headers={"x-csrf-token": csrf, "origin": service.base},
    )
    assert r.status == 404
    grids = page.request.get(f"{service.base}/api/grids").json()["items"]
    assert [g["id"] for g in grids] == ["G-002"]
    page.click("nav.tabs [data-view='map']")
    assert page.locator("svg.gridmap polygon.region").count() == 1
    expect(page.locator("svg.gridmap circle.marker")).to_have_count(1)
    page.context.close()


def test_page_works_in_chinese_and_english(browser: Browser, service: Service, mosquitto, tmp_path: Path):  # type: ignore[no-untyped-def]
    page = sign_in(browser, service.base, "wang", PASSWORD)
    expect(page.locator("nav.tabs [data-view='queue']")).to_have_text("事件队列")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    button = ButtonSim(mosquitto.port, client_id="e2e-lang")
    try:
        button.send("B-003", seq=31)
    finally:
        button.close()
    inc = wait_incident(service, "B-003")
    expect(row(page, inc["id"])).to_contain_text("待受理")
    page.click("nav.tabs [data-view='map']")
    expect(page.locator("svg.gridmap circle.marker")).to_have_count(1)
    page.screenshot(path=str(shots(tmp_path) / "map-sketch.png"))
    page.locator("svg.gridmap polygon.region[data-grid='G-001']").click()  # district → street S-1
    expect(page.locator(".crumbs")).to_contain_text("街道 S-1")
    page.locator("svg.gridmap polygon.region[data-grid='G-001']").click()  # → community C-1
    page.locator("svg.gridmap polygon.region[data-grid='G-001']").click()  # → grid G-001
    expect(page.locator(".crumbs")).to_contain_text("网格 网格一")
    assert page.locator("svg.gridmap polygon.region").count() == 1

    page.select_option("#lang", "en")
    expect(page.locator("nav.tabs [data-view='queue']")).to_have_text("Incidents")
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.locator(".crumbs")).to_contain_text("Street S-1")
    page.click("nav.tabs [data-view='queue']")
    expect(row(page, inc["id"])).to_contain_text("Reported")
    expect(row(page, inc["id"])).to_contain_text("SOS button")
    page.reload()  # the choice is remembered
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("nav.tabs [data-view='queue']")).to_have_text("Incidents")
    row(page, inc["id"]).click()
    expect(page.locator("#detail-state")).to_have_text("Reported")
    page.screenshot(path=str(shots(tmp_path) / "queue-en.png"))
    page.context.close()

    login = browser.new_context().new_page()
    login.goto(f"{service.base}/login")
    login.screenshot(path=str(shots(tmp_path) / "sign-in.png"))
    login.context.close()


def test_api_tokens_keep_working_beside_sessions(service: Service):
    assert service.get("/api/incidents").status_code == 200
    assert httpx.get(f"{service.base}/api/incidents", timeout=5).status_code == 401
