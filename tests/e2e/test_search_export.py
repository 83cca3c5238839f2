"""Search and export (issue 16, items 1-2) in Chromium against the service process and a real mosquitto: an
incident closed last month is found again by a keyword from its notes and by its date, opens in the detail
panel, and the filtered list downloads as XLSX whose headers and row count are right, in zh-CN and en."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect
from prometheus_client import CollectorRegistry

from alarms.categories import CATEGORIES
from alarms.config import AreaName, GridConfig, SlaConfig
from alarms.delivery.outbox import Routing
from alarms.engine import IncidentEngine
from alarms.grids import GridDirectory
from alarms.metrics import AlarmMetrics
from alarms.storage.store import Store
from dashboard.exports import Namer
from dashboard.labels import STATES
from dashboard.users import UserStore
from ingest.types import PanicSignal, SignalKind
from tests.e2e.conftest import PASSWORD
from tests.support.mosquitto import Mosquitto
from tests.support.service import Service, write_config

pytestmark = pytest.mark.timeout(150)

BEIJING = ZoneInfo("Asia/Shanghai")
ADDRESS = "人民路 12 号灯杆"
EXTRA: dict[str, Any] = {
    "grids": [
        {"id": "G-001", "name": "网格一", "community": "C-1", "street": "S-1"},
        {"id": "G-002", "name": "网格二", "community": "C-2", "street": "S-2"},
    ],
    "communities": [{"id": "C-1", "name": "人民路社区"}, {"id": "C-2", "name": "西山社区"}],
    "streets": [{"id": "S-1", "name": "城关街道"}, {"id": "S-2", "name": "西山街道"}],
    "buttons": [
        {"id": "B-001", "grid": "G-001", "location": {"address": ADDRESS, "landmark": "便利店门口"}},
        {"id": "B-002", "grid": "G-002"},
    ],
}


def last_month() -> datetime:
    """10:00 Beijing time on the 10th of the previous calendar month."""
    first = datetime.now(BEIJING).replace(day=1, hour=10, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).replace(day=10)


def seed(db: Path) -> dict[str, Any]:
    """History as the engine writes it: last month an SOS handled and closed with notes, and a false alarm;
    this month an open one."""
    store = Store(f"sqlite:///{db}")
    store.migrate()
    UserStore(store).add("wang", PASSWORD, "operator", display_name="王值班")
    directory = GridDirectory.build(
        [
            GridConfig(id=g["id"], name=g["name"], community=g["community"], street=g["street"])
            for g in EXTRA["grids"]
        ],
        communities=[AreaName(**c) for c in EXTRA["communities"]],
        streets=[AreaName(**s) for s in EXTRA["streets"]],
    )
    directory.place("B-001", "G-001", (), {"address": ADDRESS, "landmark": "便利店门口"})
    directory.place("B-002", "G-002")
    now = [last_month().timestamp()]
    engine = IncidentEngine(
        store,
        directory,
        SlaConfig(),
        Routing([], "se"),
        AlarmMetrics(CollectorRegistry()),
        clock=lambda: now[0],
    )

    def press(button: str, seq: int) -> int:
        changes = engine.ingest_signal(PanicSignal(button, SignalKind.PRESS, now[0], now[0], seq))
        assert changes
        return changes[0].incident.id

    closed = press("B-001", 1)
    for action, note, extra in (
        ("acknowledge", "老人摔倒在井盖旁", {}),
        ("dispatch", "派网格员", {"assignee": "张三"}),
        ("resolve", "已送医", {}),
        ("close", None, {}),
    ):
        now[0] += 300
        engine.act(closed, action, "wang", note, **extra)
    now[0] += 3600
    false_alarm = press("B-002", 2)
    engine.act(false_alarm, "cancel", "wang", "误触", disposition="false_alarm")
    now[0] = datetime.now(BEIJING).timestamp() - 60
    recent = press("B-001", 3)
    store.close()
    return {"closed": closed, "false_alarm": false_alarm, "recent": recent}


@pytest.fixture
def history(tmp_path: Path, mosquitto: Mosquitto, receiver) -> Iterator[tuple[Service, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    db = tmp_path / "search.db"
    ids = seed(db)
    cfg = write_config(
        tmp_path / "search.yaml", mqtt_port=mosquitto.port, webhook_url=receiver.url, db=db, extra=EXTRA
    )
    svc = Service(tmp_path / "search.yaml", cfg, tmp_path / "search.log").start()
    yield svc, ids
    svc.stop()


def open_search(browser: Browser, base: str, lang: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.add_init_script(f"localStorage.setItem('sharpeyes.lang', {lang!r})")
    page.goto(f"{base}/login")
    page.fill("#username", "wang")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/ui/")
    page.wait_for_selector("body[data-ready='1']")
    page.click("nav.tabs [data-view='search']")
    expect(page.locator("#view-search")).to_be_visible()
    return page


def results(page: Page) -> list[int]:
    page.wait_for_selector("[data-testid='search-count']")
    return [int(x) for x in page.locator(".search-row").evaluate_all("rs => rs.map((r) => r.dataset.id)")]


def search(page: Page, **fields: str) -> list[int]:
    page.click(".search-form button[type=reset]")
    for name, value in fields.items():
        page.fill(f"[data-testid='search-{name}']", value)
    with page.expect_response(lambda r: "/api/search?" in r.url):
        page.click("[data-testid='search-go']")
    return results(page)


HEADERS = {
    "zh-CN": ("编号", "类别", "状态", "标题", "街道", "社区", "网格", "地址"),
    "en": ("ID", "Category", "State", "Title", "Street", "Community", "Grid", "Address"),
}
NAMED = {"zh-CN": ("一键报警求助", "已办结"), "en": ("SOS button pressed", "Closed")}  # category, state


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_find_last_months_incident_and_export_it(
    browser: Browser, history: tuple[Service, dict[str, Any]], tmp_path: Path, lang: str
) -> None:
    svc, ids = history
    page = open_search(browser, svc.base, lang)
    assert search(page, q="井盖") == [ids["closed"]]  # a word from an operator's note
    assert search(page, q="人民路") == [ids["recent"], ids["closed"]]  # the address, newest first
    day = last_month().date()
    month = {"from": day.replace(day=1).isoformat(), "to": (day.replace(day=28)).isoformat()}
    assert search(page, **month) == [ids["false_alarm"], ids["closed"]]  # by date: not this month's
    row = page.locator(f".search-row[data-id='{ids['closed']}']")
    on_page = (row.locator("td").nth(2).inner_text(), row.locator("td").nth(3).inner_text())
    assert on_page == NAMED[lang]  # category, state
    expect(row).to_contain_text("城关街道")
    assert "G-001" not in row.inner_text() and "S-1" not in row.inner_text()  # names, not ids

    with page.expect_download() as dl:
        page.click("[data-testid='export-xlsx']")
    path = tmp_path / f"export-{lang}.xlsx"
    dl.value.save_as(path)
    sheet = list(openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert sheet[0][:8] == HEADERS[lang]
    assert len(sheet) == 3  # the header and the two incidents of last month
    assert [r[0] for r in sheet[1:]] == [ids["false_alarm"], ids["closed"]]
    closed = sheet[2]
    assert closed[1:3] == on_page and closed[4] == "城关街道" and closed[7] == ADDRESS  # as on the page
    assert closed[10] == "张三" and closed[11].startswith(last_month().strftime("%Y-%m-%d 10:00:00"))

    # Every category and state the form offers is named as the export names it (dashboard/labels.py).
    namer = Namer(lang, "Asia/Shanghai")
    for field, name in (("category", namer.category), ("state", namer.state)):
        offered = page.locator(f"[data-testid='search-{field}'] option").evaluate_all(
            "os => os.filter((o) => o.value).map((o) => [o.value, o.textContent])"
        )
        known = CATEGORIES if field == "category" else STATES
        assert [v for v, _ in offered] == list(known)
        assert [text for _, text in offered] == [name(v) for v, _ in offered]

    row.click()  # the incident opens in the detail panel of the queue view
    expect(page.locator("#view-queue")).to_be_visible()
    expect(page.locator("#detail")).to_contain_text(ADDRESS)
    page.context.close()
