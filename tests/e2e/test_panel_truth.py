"""A panel that tells the truth (issue 14, item 6): deadlines stop at terminal states (no red count-up on a
cancelled incident, a late close says late), verdict and score show, delivery status turns from 发送中 to
已送达 by push, linked incidents are links, and a follow-up note changes no state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e import shift
from tests.e2e.conftest import PASSWORD
from tests.support.browser import sign_in
from tests.support.service import Service

pytestmark = pytest.mark.timeout(120)
SHORT_SLA = {
    "sla": {
        "default": {"acknowledge_s": 1, "close_s": 2},
        "categories": {"sos": {"acknowledge_s": 1, "close_s": 2}},
    }
}


@pytest.fixture
def service(tmp_path: Path, mosquitto, receiver) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    svc = shift.start(tmp_path, mosquitto, receiver.url, extra=SHORT_SLA)
    yield svc
    svc.stop()


def test_deadlines_verdicts_links_and_follow_up(browser: Browser, service: Service, mosquitto):  # type: ignore[no-untyped-def]
    page = sign_in(browser, service.base, "wang", PASSWORD)
    shift.press(mosquitto, "B-001", 1)
    first = shift.wait_for(service, lambda i: i["source_id"] == "B-001")
    shift.act(service, first["id"], "cancel", note="误触", disposition="false_alarm")
    shift.press(mosquitto, "B-003", 1)
    closed = shift.wait_for(service, lambda i: i["source_id"] == "B-003")
    for action, body in [
        ("acknowledge", {}),
        ("dispatch", {"note": "去", "assignee": "一组"}),
        ("resolve", {"note": "处理完毕"}),
    ]:
        shift.act(service, closed["id"], action, **body)
    page.wait_for_timeout(2500)  # past every deadline
    shift.act(service, closed["id"], "close")
    shift.act(service, closed["id"], "evaluate", evaluation={"score": 4})
    page.click("#filters button.link")
    page.select_option("#filters select[name=state]", "all")

    page.locator(f"#queue tr.incident[data-id='{first['id']}']").click()
    expect(page.locator("#detail-state")).to_have_text("已撤销")
    expect(page.locator("#detail-ack-deadline")).to_have_text("已停止：已撤销")
    expect(page.locator("#detail-close-deadline")).to_have_text("已停止：已撤销")
    assert page.locator("#detail .countdown").count() == 0  # nothing counts up in red
    expect(page.locator("#detail-verdict")).to_have_text("误报")

    page.locator(f"#queue tr.incident[data-id='{closed['id']}']").click()
    expect(page.locator("#detail-state")).to_have_text("已评价")
    expect(page.locator("#detail-close-deadline span")).to_have_attribute("data-deadline-state", "late")
    expect(page.locator("#detail-close-deadline")).to_contain_text("超时")
    expect(page.locator("#detail-score")).to_have_text("4 / 5")

    # A follow-up note: on the timeline, the state stays.
    page.locator("#detail button[data-action='follow_up']").click()
    page.locator("#detail textarea[name=note]").fill("回访：居民确认安全")
    page.locator("#detail button[data-submit='follow_up']").click()
    expect(page.locator("#detail .timeline li").first).to_have_attribute("data-action", "follow_up")
    expect(page.locator("#detail .timeline li").first).to_contain_text("跟进记录")
    expect(page.locator("#detail .timeline li").first).to_contain_text("王五")
    expect(page.locator("#detail-state")).to_have_text("已评价")

    # The same button again: a new incident linked to the cancelled one, by a link that opens it.
    shift.press(mosquitto, "B-001", 2)
    again = shift.wait_for(service, lambda i: i["source_id"] == "B-001" and i["id"] != first["id"])
    page.locator(f"#queue tr.incident[data-id='{again['id']}']").click()
    link = page.locator("#detail-linked a.incident-link")
    expect(link).to_have_text(f"#{first['id']}")
    link.click()
    expect(page.locator("#detail-state")).to_have_text("已撤销")
    page.context.close()


def test_delivery_status_turns_delivered_without_a_reload(
    browser: Browser, service: Service, mosquitto, receiver
):  # type: ignore[no-untyped-def]
    receiver.behaviour.delay_s = 2.5  # dispatch answers slowly: the page shows "sending" first
    page = sign_in(browser, service.base, "wang", PASSWORD)
    page.evaluate("window.__notReloaded = true")
    shift.press(mosquitto, "B-005", 1)
    inc = shift.wait_for(service, lambda i: i["source_id"] == "B-005")
    page.locator(f"#queue tr.incident[data-id='{inc['id']}']").click()
    expect(page.locator("#detail-dstat")).to_have_text("发送中")
    expect(page.locator("#detail-dstat")).to_have_text("已送达", timeout=8000)
    # (a slow run may also have escalated it by now: that delivery is a row of its own)
    created = page.locator("#detail .delivery tr").filter(has_text="公安接警平台 · 新事件")
    expect(created).to_have_attribute("data-status", "delivered")
    assert page.evaluate("window.__notReloaded") is True
    page.context.close()
