"""Two operators at once (issue 14, item 5): each sees who else has the incident open (by display name);
when A dispatches while B is half-way through typing a dispatch, B's form and text stay, B is told who did
what, and B's stale submit is refused by the server (409) without losing the text."""

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


@pytest.fixture
def service(tmp_path: Path, mosquitto, receiver) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    svc = shift.start(tmp_path, mosquitto, receiver.url)
    yield svc
    svc.stop()


def test_second_operator_keeps_the_text_and_hears_who_acted(browser: Browser, service: Service, mosquitto):  # type: ignore[no-untyped-def]
    a = sign_in(browser, service.base, "zhao", PASSWORD)
    b = sign_in(browser, service.base, "wang", PASSWORD)
    expect(b.locator("#who")).to_contain_text("王五")  # the display name, not the username
    shift.press(mosquitto, "B-001", 1)
    inc = shift.wait_for(service, lambda i: i["source_id"] == "B-001")
    shift.act(service, inc["id"], "acknowledge")
    for page in (a, b):
        page.locator(f"#queue tr.incident[data-id='{inc['id']}']").click()
        expect(page.locator("#detail-state")).to_have_text("已受理")
    expect(a.locator("#detail-viewers")).to_have_text("同时在查看：王五")
    expect(b.locator("#detail-viewers")).to_have_text("同时在查看：赵六")

    b.locator("#detail button[data-action='dispatch']").click()
    b.locator("#detail textarea[name=note]").fill("巡逻车二号前往")
    b.locator("#detail input[name=assignee]").fill("巡逻二组")

    a.locator("#detail button[data-action='dispatch']").click()
    a.locator("#detail textarea[name=note]").fill("巡逻车一号前往")
    a.locator("#detail input[name=assignee]").fill("巡逻一组")
    a.locator("#detail button[data-submit='dispatch']").click()
    expect(a.locator("#detail-state")).to_have_text("已派遣")

    # B's page got the change by push: the form is still there with B's text, and says who did what.
    expect(b.locator("#detail-state")).to_have_text("已派遣")
    expect(b.locator("#detail .notice")).to_contain_text("赵六")
    expect(b.locator("#detail .notice")).to_contain_text("派遣")
    expect(b.locator("#detail textarea[name=note]")).to_have_value("巡逻车二号前往")
    expect(b.locator("#detail input[name=assignee]")).to_have_value("巡逻二组")

    b.locator("#detail button[data-submit='dispatch']").click()  # made on the old version: refused
    error = b.locator("#detail .error")
    expect(error).to_contain_text("已被他人更新")
    expect(error).to_contain_text("赵六")
    expect(b.locator("#detail textarea[name=note]")).to_have_value("巡逻车二号前往")
    detail = service.get(f"/api/incidents/{inc['id']}").json()
    assert detail["assignee"] == "巡逻一组"  # A's dispatch stands
    assert [e["action"] for e in detail["timeline"]].count("dispatch") == 1

    a.context.close()
    b.context.close()


def test_a_street_scoped_operator_does_not_hear_of_viewers_elsewhere(
    browser: Browser, service: Service, mosquitto
):  # type: ignore[no-untyped-def]
    s2 = sign_in(browser, service.base, "li-s2", PASSWORD)
    s2.evaluate(
        "window.__viewerEvents = []; new EventSource('/api/events')"
        ".addEventListener('viewers', (e) => window.__viewerEvents.push(JSON.parse(e.data)))"
    )
    s2.wait_for_timeout(300)
    a = sign_in(browser, service.base, "zhao", PASSWORD)
    shift.press(mosquitto, "B-001", 1)  # street S-1
    inc = shift.wait_for(service, lambda i: i["source_id"] == "B-001")
    a.locator(f"#queue tr.incident[data-id='{inc['id']}']").click()
    expect(a.locator("#detail-state")).to_have_text("待受理")
    a.wait_for_timeout(800)
    assert s2.evaluate("window.__viewerEvents") == []
    a.context.close()
    s2.context.close()
