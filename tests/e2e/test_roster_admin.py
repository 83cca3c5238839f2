"""Admins edit the roster on the page (issue 15): an admin moves a grid worker to another grid in the
人员/People view, the change history shows it in both languages, an operator has no such view, and on a
390×844 phone the view and its form need no horizontal scroll."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from alarms.storage.store import Store
from dashboard.users import UserStore
from sharpeyes.receiver import DispatchReceiver
from tests.e2e import field_setup as fs
from tests.e2e import shift
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_field_loop import WIDER_THAN_VIEWPORT
from tests.support.browser import sign_in
from tests.support.mosquitto import Mosquitto
from tests.support.service import Service

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def service(tmp_path: Path, mosquitto: Mosquitto, receiver: DispatchReceiver) -> Iterator[Service]:
    def seed(_: Path) -> None:
        store = Store(f"sqlite:///{tmp_path / 'se.db'}")
        UserStore(store).add("root", PASSWORD, "admin", display_name="管理员甲")
        store.close()

    svc = shift.start(
        tmp_path, mosquitto, receiver.url, extra={"people": fs.PEOPLE, "units": fs.UNITS}, seed=seed
    )
    yield svc
    svc.stop()


def people_view(page: Page) -> None:
    page.locator('nav.tabs [data-view="people"]').click()
    expect(page.locator("#people-list li[data-person='P-zhang']")).to_be_visible()


def test_admin_moves_a_worker_to_another_grid_and_the_history_shows_it(
    browser: Browser, service: Service
) -> None:
    admin = sign_in(browser, service.base, "root", PASSWORD)
    people_view(admin)
    zhang = admin.locator("#people-list li[data-person='P-zhang']")
    expect(zhang).to_contain_text("负责网格：网格一")
    expect(zhang).to_contain_text("在岗")
    expect(admin.locator("#view-people")).to_contain_text("暂无页面修改记录")
    zhang.locator("button.person-edit").click()
    form = admin.locator("#people-form")
    form.locator("input[name=grid][value='G-001']").uncheck()
    form.locator("input[name=grid][value='G-003']").check()
    form.locator("button[type=submit]").click()
    expect(admin.locator("#people-message")).to_have_text("已保存")
    expect(zhang).to_contain_text("负责网格：网格三")
    entry = admin.locator("#people-audit li.audit-item[data-target='P-zhang']")
    expect(entry).to_contain_text("root")
    expect(entry).to_contain_text("修改")
    expect(entry.locator("li[data-field='grids']")).to_have_text("负责网格：网格一 → 网格三")

    admin.select_option("#lang", "en")
    expect(zhang).to_contain_text("Grids covered: 网格三")
    expect(zhang).to_contain_text("On duty")
    expect(entry).to_contain_text("changed")
    expect(entry.locator("li[data-field='grids']")).to_have_text("Grids covered: 网格一 → 网格三")

    operator = sign_in(browser, service.base, "wang", PASSWORD)
    expect(operator.locator('nav.tabs [data-view="people"]')).to_be_hidden()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_people_view_fits_a_phone(browser: Browser, service: Service, lang: str) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = ctx.new_page()
    page.add_init_script(f"localStorage.setItem('sharpeyes.lang', {lang!r})")
    page.goto(f"{service.base}/login")
    page.fill("#username", "root")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']")
    people_view(page)
    page.locator("#people-list li[data-person='P-zhang'] button.person-edit").click()
    expect(page.locator("#people-form")).to_be_visible()
    assert page.evaluate(WIDER_THAN_VIEWPORT) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    ctx.close()
