"""The field loop in two browsers (issue 15, "Done when"): an operator on a desktop and a grid worker on a
390×844 touch phone, on the real service, a real mosquitto and a real gateway receiver that verifies every
signature. A button press is dispatched to the on-duty grid worker, whose notice reaches the gateway; the
worker accepts, arrives, uploads a photo through the page's file input and resolves; the operator returns it
once, closes it, records 回访 不满意 (which reopens) and then 满意; the KPI page shows 满意率 beside 办结率.
Bad uploads get a message in the worker's language and change nothing; a missed accept deadline escalates."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from sharpeyes.receiver import DispatchReceiver
from tests.e2e import field_setup as fs
from tests.e2e import shift
from tests.e2e.conftest import PASSWORD
from tests.support.browser import sign_in
from tests.support.mosquitto import Mosquitto
from tests.support.service import SECRET, Service

pytestmark = pytest.mark.timeout(180)

WIDER_THAN_VIEWPORT = """() => [...document.querySelectorAll('body *')].filter((el) => {
  const r = el.getBoundingClientRect();
  return r.width > 0 && (r.right > window.innerWidth + 1 || r.left < -1);
}).map((el) => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`)"""
SMALL_TARGETS = """() => [...document.querySelectorAll('button, select, textarea, label.file')]
  .map((el) => [el, el.getBoundingClientRect()])
  .filter(([, r]) => r.width > 0 && (r.width < 44 || r.height < 44))
  .map(([el, r]) => `${el.tagName} ${el.textContent.slice(0, 9)} ${r.width | 0}x${r.height | 0}`)"""


@pytest.fixture
def gateway() -> Iterator[DispatchReceiver]:
    recv = DispatchReceiver(SECRET, path="/sms").start()
    yield recv
    recv.stop()


@pytest.fixture
def service(
    tmp_path: Path, mosquitto: Mosquitto, receiver: DispatchReceiver, gateway: DispatchReceiver
) -> Iterator[Service]:
    svc = fs.start(tmp_path, mosquitto, receiver.url, gateway.url)
    yield svc
    svc.stop()


def card(page: Page, incident_id: int):  # type: ignore[no-untyped-def]
    return page.locator(f"#tasks li.card[data-incident='{incident_id}']")


def worker_resolves(phone: Page, incident_id: int, note: str, word: str) -> None:
    phone.reload()
    phone.wait_for_selector("body[data-ready='1']")
    c = card(phone, incident_id)
    expect(c.locator(".word")).to_have_text(word)  # why it came back
    c.locator("textarea").fill(note)
    c.locator("button[data-act='resolve']").tap()
    expect(card(phone, incident_id)).to_have_attribute("data-state", "resolved")
    expect(phone.locator("#fstatus")).to_have_text("已办结，等待审核")


def panel_act(op: Page, act: str) -> None:
    button = op.locator(f"#field-panel [data-field-act='{act}']")
    expect(button).to_be_visible(timeout=10_000)
    button.click()


def test_the_whole_field_loop_in_two_browsers(
    browser: Browser, service: Service, mosquitto: Mosquitto, gateway: DispatchReceiver, tmp_path: Path
) -> None:
    out = Path(os.environ.get("SHARPEYES_SCREENSHOTS") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    op = sign_in(browser, service.base, "wang", PASSWORD)
    phone = fs.phone(browser, service.base)
    expect(phone.locator("#me")).to_have_text("张伟")
    shift.press(mosquitto, "B-001", 1)
    inc = shift.wait_for(service, lambda i: i["source_id"] == "B-001")
    iid = inc["id"]

    # the operator picks the on-duty grid worker (listed first) from the roster and dispatches
    op.locator(f"#queue tr.incident[data-id='{iid}']").click()
    roster = op.locator("#field-panel .roster tr")
    expect(roster.first).to_contain_text("张伟")
    expect(roster.first).to_contain_text("在岗")
    expect(op.locator("#field-panel .roster tr[data-person='P-night']")).to_contain_text("不在班")
    expect(op.locator("#field-panel input[name='field-lead'][value='person:P-zhang']")).to_be_checked()
    op.fill("#field-panel textarea[name='field-note']", "请速到场")
    panel_act(op, "dispatch")
    expect(op.locator("#detail-state")).to_have_text("已派遣")

    # the notice reaches the gateway, signed (the receiver refuses a bad signature)
    assert gateway.wait_for(lambda r: any(x.body["data"]["to"]["name"] == "张伟" for x in r.values()), 10)
    notice = next(x.body for x in gateway.received.values() if x.body["data"]["to"]["name"] == "张伟")
    assert gateway.bad_signatures == 0 and notice["type"] == "field.notice"
    assert "请于" in notice["data"]["text_zh"] and notice["data"]["link"].endswith(f"#incident-{iid}")
    expect(op.locator("#field-panel .field-notices tr[data-channel='webhook']")).to_have_attribute(
        "data-status", "delivered", timeout=10_000
    )

    # the worker's phone: accept, arrive (with the position), a real photo through the file input, resolve
    phone.reload()
    phone.wait_for_selector("body[data-ready='1']")
    c = card(phone, iid)
    expect(c).to_have_attribute("data-status", "assigned")
    assert phone.evaluate(WIDER_THAN_VIEWPORT) == []
    assert phone.evaluate(SMALL_TARGETS) == []
    c.locator("button[data-act='accept']").tap()
    expect(card(phone, iid)).to_have_attribute("data-status", "accepted")
    card(phone, iid).locator("button[data-act='arrive']").tap()
    expect(card(phone, iid)).to_have_attribute("data-status", "arrived")
    expect(phone.locator("#fstatus")).to_have_text("已报到场（已附带位置）")
    card(phone, iid).locator("input[type=file]").set_input_files(
        {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": fs.jpeg()}
    )
    expect(card(phone, iid).locator(".thumbs img")).to_have_count(1)
    card(phone, iid).locator("textarea").fill("已劝离，现场恢复正常")
    card(phone, iid).locator("button[data-act='resolve']").tap()
    expect(card(phone, iid)).to_have_attribute("data-state", "resolved")
    phone.screenshot(path=str(out / "field-phone.png"), full_page=True)

    # the operator sees the arrival and the photo, and returns it once with a reason
    expect(op.locator("#detail-state")).to_have_text("已处置", timeout=10_000)
    expect(op.locator("#field-panel .field-people tr").first).to_have_attribute("data-status", "arrived")
    thumb = op.locator("#field-panel .field-photos a")
    expect(thumb).to_have_count(1)
    href = thumb.get_attribute("href")
    assert href and op.request.get(f"{service.base}{href}").headers["content-type"] == "image/jpeg"
    op.locator("#field-panel").screenshot(path=str(out / "field-panel.png"))
    panel_act(op, "return")
    expect(op.locator("#field-panel .error")).to_have_text("退回必须填写原因")
    op.fill("#field-panel input[name='field-reason']", "照片看不清门牌")
    panel_act(op, "return")
    fs.wait_state(service, iid, "in_progress")

    worker_resolves(phone, iid, "已补拍门牌", "审核退回：照片看不清门牌")
    expect(op.locator("#detail-state")).to_have_text("已处置", timeout=10_000)
    panel_act(op, "close")
    fs.wait_state(service, iid, "closed")

    # 回访: 不满意 reopens it; the worker resolves again; closed; 满意
    expect(op.locator("#field-panel select[name='field-satisfaction']")).to_be_visible(timeout=10_000)
    op.select_option("#field-panel select[name='field-satisfaction']", "unsatisfied")
    expect(op.locator("#field-panel select[name='field-reopen']")).to_have_value("yes")
    op.fill("#field-panel input[name='field-cnote']", "噪音仍在")
    panel_act(op, "callback")
    fs.wait_state(service, iid, "in_progress")
    worker_resolves(phone, iid, "再次处置，已解决", "回访不满意，请重新处置：噪音仍在")
    panel_act(op, "close")
    fs.wait_state(service, iid, "closed")
    expect(op.locator("#field-panel select[name='field-satisfaction']")).to_be_visible(timeout=10_000)
    op.select_option("#field-panel select[name='field-satisfaction']", "satisfied")
    panel_act(op, "callback")
    fs.wait_state(service, iid, "evaluated")

    timeline = op.locator(".timeline li")
    for action in ("dispatch", "accept", "arrive", "return", "reopen"):
        expect(op.locator(f".timeline li[data-action='{action}']").first).to_be_visible()
    expect(timeline.filter(has_text="照片看不清门牌")).to_have_count(1)

    # the KPI page: 满意率 beside 办结率 and 限时办结率, and the worker's row
    op.click("nav.tabs [data-view='kpis']")
    expect(op.locator("#kpi-overall [data-kpi='satisfaction_rate'] .kpi-value")).to_have_text("100.0%")
    expect(op.locator("#kpi-overall [data-kpi='closure_rate'] .kpi-value")).to_have_text("100.0%")
    expect(op.locator("#kpi-overall [data-kpi='within'] .kpi-value")).not_to_have_text("—")
    expect(op.locator("#kpi-workers tr[data-worker='P-zhang']")).to_contain_text("张伟")
    op.screenshot(path=str(out / "field-kpis.png"), full_page=True)


BAD = {  # what the worker picks, and the message they read
    "pdf": (
        {"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": b"%PDF-1.7\n" + b"x" * 5000},
        "不是照片：只收 JPEG、PNG 或 HEIC",
        "Not a photo: JPEG, PNG or HEIC only",
    ),
    "oversize": (
        {"name": "big.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff" + b"\0" * 3_100_000},
        "照片太大，请压缩后再传",
        "Photo too large, please shrink it",
    ),
    "truncated": (
        {"name": "cut.jpg", "mimeType": "image/jpeg", "buffer": fs.jpeg()[:-4000]},
        "照片已损坏或不完整，请重拍",
        "The photo is damaged or incomplete, please retake it",
    ),
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_bad_uploads_show_a_message_and_keep_the_incident(
    browser: Browser, service: Service, mosquitto: Mosquitto, lang: str
) -> None:
    shift.press(mosquitto, "B-001", 1)
    iid = shift.wait_for(service, lambda i: i["source_id"] == "B-001")["id"]
    r = service.post(f"/api/field/incidents/{iid}/dispatch", {"lead": {"id": "P-zhang"}})
    assert r.status_code == 200, r.text
    phone = fs.phone(browser, service.base, lang)
    file = card(phone, iid).locator("input[type=file]")
    file.set_input_files({"name": "ok.jpg", "mimeType": "image/jpeg", "buffer": fs.jpeg(640, 480)})
    expect(card(phone, iid).locator(".thumbs img")).to_have_count(1)
    before = fs.field_view(service, iid)
    for upload, zh, en in BAD.values():
        card(phone, iid).locator("input[type=file]").set_input_files(upload)
        expect(phone.locator("#fstatus.error")).to_have_text(zh if lang == "zh-CN" else en)
        expect(card(phone, iid).locator(".thumbs img")).to_have_count(1)  # the good one is still there
    after = fs.field_view(service, iid)
    assert [p["id"] for p in after["photos"]] == [p["id"] for p in before["photos"]]
    assert service.get(f"/api/incidents/{iid}").json()["state"] == "dispatched"
    assert phone.request.get(f"{service.base}{after['photos'][0]['url']}").status == 200

    # the operator's field panel fits a phone too (the roster as a reassignment, the photo, the notices)
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", has_touch=True)
    op = ctx.new_page()
    op.add_init_script(f"localStorage.setItem('sharpeyes.lang', {lang!r})")
    op.goto(f"{service.base}/login")
    op.fill("#username", "wang")
    op.fill("#password", PASSWORD)
    op.click("button[type=submit]")
    op.wait_for_selector("body[data-ready='1']")
    op.locator(f"#queue tr.incident[data-id='{iid}']").click()
    expect(op.locator("#field-panel .roster tr").first).to_contain_text("张伟")
    expect(op.locator("#field-panel .field-photos img")).to_have_count(1)
    assert op.evaluate(WIDER_THAN_VIEWPORT) == []
    assert op.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_missed_accept_deadline_escalates_on_the_timeline_and_in_the_webhook(
    browser: Browser,
    tmp_path: Path,
    mosquitto: Mosquitto,
    receiver: DispatchReceiver,
    gateway: DispatchReceiver,
) -> None:
    svc = fs.start(tmp_path, mosquitto, receiver.url, gateway.url, accept_s=2)
    try:
        shift.press(mosquitto, "B-001", 1)
        iid = shift.wait_for(svc, lambda i: i["source_id"] == "B-001")["id"]
        assert (
            svc.post(f"/api/field/incidents/{iid}/dispatch", {"lead": {"id": "P-zhang"}}).status_code == 200
        )
        assert receiver.wait_for(
            lambda r: any(x.body["type"] == "incident.escalated" for x in r.values()), 15
        ), "no incident.escalated webhook"
        op = sign_in(browser, svc.base, "wang", PASSWORD)
        op.locator(f"#queue tr.incident[data-id='{iid}']").click()
        expect(op.locator(".timeline li[data-action='escalate']").first).to_contain_text(
            "超过接单时限（张伟）"
        )
        expect(op.locator("#field-panel .field-people tr").first).to_contain_text("超时未接单")
        assert svc.get(f"/api/incidents/{iid}").json()["escalation_level"] >= 1
    finally:
        svc.stop()
