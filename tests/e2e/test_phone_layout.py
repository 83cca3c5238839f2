"""Pages that fit the hands (issue 14, item 10): at 390×844 and on a tablet no element is wider than the
viewport on any tab, the detail panel is reachable and readable; keyboard shortcuts move through the queue,
acknowledge and open the help, and focus stays on its row when live updates arrive."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import shift
from tests.e2e.conftest import PASSWORD
from tests.support.service import Service

pytestmark = pytest.mark.timeout(120)

WIDER_THAN_VIEWPORT = """() => [...document.querySelectorAll('body *')].filter((el) => {
  const r = el.getBoundingClientRect();
  return r.width > 0 && el.closest('[hidden]') === null && (r.right > window.innerWidth + 1 || r.left < -1);
}).map((el) => `${el.tagName}.${el.className}#${el.id} ${Math.round(el.getBoundingClientRect().right)}`)"""


@pytest.fixture
def service(tmp_path: Path, mosquitto, receiver) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    svc = shift.start(tmp_path, mosquitto, receiver.url)
    yield svc
    svc.stop()


def open_page(browser: Browser, base: str, width: int, height: int) -> Page:
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN", has_touch=True)
    page = ctx.new_page()
    page.goto(f"{base}/login")
    page.fill("#username", "wang")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#live-status[data-state='live']")
    return page


@pytest.mark.parametrize(("width", "height"), [(390, 844), (820, 1180)])
def test_no_horizontal_scroll_and_the_detail_is_reachable(
    browser: Browser, service: Service, mosquitto, tmp_path: Path, width: int, height: int
):  # type: ignore[no-untyped-def]
    for n, button in enumerate(["B-001", "B-002", "B-003"], start=1):
        shift.press(mosquitto, button, n)
    inc = shift.wait_for(service, lambda i: i["source_id"] == "B-001")
    page = open_page(browser, service.base, width, height)
    expect(page.locator("#queue tr.incident")).to_have_count(3)
    page.locator(f"#queue tr.incident[data-id='{inc['id']}']").click()
    expect(page.locator("#detail-state")).to_have_text("待受理")
    expect(page.locator("#detail-state")).to_be_in_viewport()  # brought into view below the queue
    assert page.evaluate(WIDER_THAN_VIEWPORT) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if width == 390:
        out = Path(os.environ.get("SHARPEYES_SCREENSHOTS") or tmp_path / "shots")
        out.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(out / "queue-phone.png"))
    for view in ["map", "kpis", "wall", "devices", "search"]:
        tab = page.locator(f"nav.tabs [data-view='{view}']")
        expect(tab).to_be_in_viewport()
        box = tab.bounding_box()
        assert box is not None and box["height"] >= 28  # a finger can hit it
        tab.click()
        page.wait_for_timeout(400)
        assert page.evaluate(WIDER_THAN_VIEWPORT) == [], view
    page.context.close()


def test_keyboard_only(browser: Browser, service: Service, mosquitto):  # type: ignore[no-untyped-def]
    for n, button in enumerate(["B-001", "B-003", "B-005"], start=1):
        shift.press(mosquitto, button, n)
    shift.wait_for(service, lambda i: i["source_id"] == "B-005")
    page = open_page(browser, service.base, 1440, 900)
    expect(page.locator("#queue tr.incident")).to_have_count(3)
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("j")
    ids = page.locator("#queue tr.incident").evaluate_all("rs => rs.map(r => Number(r.dataset.id))")
    expect(page.locator("#queue tr.incident.selected")).to_have_attribute("data-id", str(ids[0]))
    page.keyboard.press("ArrowDown")
    expect(page.locator("#queue tr.incident.selected")).to_have_attribute("data-id", str(ids[1]))
    assert page.evaluate("document.activeElement.dataset.id") == str(ids[1])
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    page.keyboard.press("k")
    expect(page.locator("#queue tr.incident.selected")).to_have_attribute("data-id", str(ids[0]))
    expect(page.locator("#detail h2")).to_contain_text(f"#{ids[0]} ")
    page.keyboard.press("a")
    expect(page.locator("#detail-state")).to_have_text("已受理")
    # A live update rebuilds the queue: focus stays on the same incident's row.
    shift.press(mosquitto, "B-007", 9)
    shift.wait_for(service, lambda i: i["source_id"] == "B-007")
    expect(page.locator("#queue tr.incident")).to_have_count(4)
    assert page.evaluate("document.activeElement.dataset.id") == str(ids[0])
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_be_visible()
    expect(page.locator("#shortcut-help")).to_contain_text("受理当前事件")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcut-help")).to_be_hidden()
    page.context.close()
