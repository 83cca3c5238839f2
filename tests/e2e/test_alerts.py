"""A new emergency is never silent (issue 14, item 4), in Chromium against the real service and mosquitto:
every new priority-1 incident and every re-press of an open SOS restarts the alarm, flashes the tab title,
raises a browser notification and moves the incident to the top with "再次按下 ×N"; only an acknowledged
incident can be muted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import shift
from tests.e2e.conftest import PASSWORD
from tests.support.browser import sign_in
from tests.support.service import Service

pytestmark = pytest.mark.timeout(120)

# Records what the page raises; permission granted, as after the operator allowed it at sign-in.
NOTIFICATION_STUB = """
window.__notes = [];
window.Notification = class { constructor(title, opts) { window.__notes.push({ title, ...opts }); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); } };
"""


@pytest.fixture
def service(tmp_path: Path, mosquitto, receiver) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    svc = shift.start(tmp_path, mosquitto, receiver.url)
    yield svc
    svc.stop()


def first_row_id(page: Page) -> int:
    return int(page.locator("#queue tr.incident").first.get_attribute("data-id") or 0)


def restarts(page: Page) -> int:
    return int(page.evaluate("window.__sharpeyes.alarm().restarts"))


def test_each_new_emergency_and_each_re_press_sounds_anew(browser: Browser, service: Service, mosquitto):  # type: ignore[no-untyped-def]
    page = sign_in(browser, service.base, "wang", PASSWORD)
    page.add_init_script(NOTIFICATION_STUB)
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#live-status[data-state='live']")

    shift.press(mosquitto, "B-001", 1)
    first = shift.wait_for(service, lambda i: i["source_id"] == "B-001")
    shift.until(page, "window.__sharpeyes.alarm().playing")
    banner = page.locator("#alarm-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"#{first['id']}")
    assert page.evaluate("document.body.dataset.alarm") == "on"
    shift.until(page, "window.__notes.length === 1")
    assert f"#{first['id']}" in page.evaluate("window.__notes[0].title")
    titles = set()
    for _ in range(30):  # the tab title flashes
        titles.add(page.title())
        page.wait_for_timeout(100)
    assert f"【报警】#{first['id']} 一键报警求助" in titles and "锐眼指挥中心" in titles

    # A second emergency while the first still rings: the sound starts again, a second notification, on top.
    before = restarts(page)
    shift.press(mosquitto, "B-003", 1)
    second = shift.wait_for(service, lambda i: i["source_id"] == "B-003")
    shift.until(page, f"window.__sharpeyes.alarm().restarts > {before}")
    shift.until(page, "window.__notes.length === 2")
    expect(page.locator("#queue tr.incident").first).to_have_attribute("data-id", str(second["id"]))
    expect(banner).to_contain_text(f"#{second['id']}")

    # A waiting emergency cannot be muted: it must be acknowledged.
    page.locator(f"#queue tr.incident[data-id='{first['id']}']").click()
    expect(page.locator("#detail-state")).to_have_text("待受理")
    assert page.locator("#detail button[data-action='mute']").count() == 0
    expect(page.locator("#detail .mute-hint")).to_have_text("受理后才能静音")

    shift.act(service, first["id"], "acknowledge")
    shift.act(service, second["id"], "acknowledge")
    shift.until(page, "!window.__sharpeyes.alarm().playing")
    expect(banner).to_be_hidden()

    # The same button pressed again: the acknowledged SOS rings again, goes to the top, says how often.
    before = restarts(page)
    shift.press(mosquitto, "B-001", 2)
    shift.until(page, f"window.__sharpeyes.alarm().restarts > {before}")
    shift.until(page, "window.__notes.length === 3")
    assert page.evaluate("window.__notes[2].title").endswith(f"#{first['id']} 一键报警求助")
    row = page.locator("#queue tr.incident").first
    expect(row).to_have_attribute("data-id", str(first["id"]))
    expect(row).to_contain_text("再次按下 ×1")
    expect(row).to_have_class(re.compile(r"\bringing\b"))
    expect(banner).to_contain_text("再次按下 ×1")

    # Acknowledged: now it can be muted, for this incident only.
    row.click()
    mute = page.locator("#detail button[data-action='mute']")
    expect(mute).to_be_visible()
    mute.click()
    shift.until(page, "!window.__sharpeyes.alarm().playing")
    assert page.evaluate("window.__sharpeyes.alerts().ringing") == []

    # Pressed once more after muting: it rings again.
    shift.press(mosquitto, "B-001", 3)
    shift.until(page, "window.__sharpeyes.alarm().playing")
    expect(page.locator("#queue tr.incident").first).to_contain_text("再次按下 ×2")
    page.context.close()
