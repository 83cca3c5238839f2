"""GET /api/search and the exports (issue 16, items 1-2) through the real app on SQLite: each filter, street
and grid scope, cursor pages that neither skip nor repeat, coded 4xx for bad input, CSV and XLSX with
headers in the reader's language, names and local times, and the KPI report as XLSX and as a print page."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from dashboard.app import create_app
from tests.dashboard.test_api import FakeRuntime, auth

# T0 = 2023-11-14 22:13:20 UTC = 2023-11-15 06:13:20 in Asia/Shanghai.
DAY = "2023-11-15"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[FakeRuntime]:
    rt = FakeRuntime(tmp_path / "search.db")
    yield rt
    rt.store.close()


@pytest.fixture
def client(runtime: FakeRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def _ids(client: TestClient, who: str = "operator", **params: Any) -> list[int]:
    r = client.get("/api/search", params=params, headers=auth(who))
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def _history(runtime: FakeRuntime) -> tuple[int, int, int]:
    """A closed SOS on S-1 with notes, an open one on S-2, and a newer open one on S-1."""
    closed = runtime.press("B-001")
    e = runtime.engine
    e.act(closed, "acknowledge", "op", "东门口有积水")
    e.act(closed, "dispatch", "op", "派网格员", assignee="王五")
    e.act(closed, "resolve", "op", "已排水")
    e.act(closed, "close", "op", None)
    runtime.clock.now += 3600
    other = runtime.press("B-003", seq=2)
    runtime.clock.now += 86400 * 2
    newer = runtime.press("B-001", seq=3)
    return closed, other, newer


def test_each_filter(client: TestClient, runtime: FakeRuntime) -> None:
    closed, other, newer = _history(runtime)
    assert _ids(client) == [newer, other, closed]  # newest first
    assert _ids(client, q="积水") == [closed]  # an operator's note
    assert _ids(client, q="王五") == [closed]  # the worker
    assert _ids(client, q="东门积水") == []  # both words there, not side by side
    assert _ids(client, id=other) == [other]
    assert _ids(client, state="closed") == [closed]
    assert _ids(client, state=["reported", "closed"]) == [newer, other, closed]
    assert _ids(client, category="sos", street="S-2") == [other]
    assert _ids(client, grid="G-001") == [newer, closed]
    assert _ids(client, assignee="王五") == [closed]
    assert _ids(client, date_from=DAY, date_to=DAY) == [other, closed]  # local days, inclusive
    assert _ids(client, date_from="2023-11-16") == [newer]
    assert _ids(client, until=runtime.clock.now - 60) == [other, closed]


def test_scope_is_enforced(client: TestClient, runtime: FakeRuntime) -> None:
    closed, other, newer = _history(runtime)
    assert _ids(client, "street2") == [other]
    assert _ids(client, "street2", id=closed) == []  # out of scope: as if it did not exist
    assert _ids(client, "street2", street="S-1") == []  # asking for another street widens nothing
    assert _ids(client, "grid1") == [newer, closed]
    r = client.get("/api/search/export.csv", headers=auth("street2"))
    assert r.text.count("\n") == 2  # header and the one incident in scope


def test_cursor_pages_neither_skip_nor_repeat(client: TestClient, runtime: FakeRuntime) -> None:
    made = []
    for n in range(5):
        made.append(runtime.press("B-001", seq=n + 1))
        runtime.engine.act(made[-1], "cancel", "op", "演练", disposition="test")
        runtime.clock.now += 0 if n == 2 else 30  # equal times: the id orders them
    seen: list[int] = []
    r = client.get("/api/search", params={"limit": 2}, headers=auth("operator")).json()
    seen += [i["id"] for i in r["items"]]
    runtime.clock.now += 100
    runtime.press("B-003")  # arrives between pages: it is newer, so no page after the first shows it
    while r["next_cursor"]:
        r = client.get(
            "/api/search", params={"limit": 2, "cursor": r["next_cursor"]}, headers=auth("operator")
        )
        r = r.json()
        seen += [i["id"] for i in r["items"]]
    assert seen == sorted(made, reverse=True)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"cursor": "not-a-cursor"}, 400, "bad_cursor"),
        ({"cursor": "WyJ4IiwxXQ"}, 400, "bad_cursor"),  # ["x",1]: decodes, but not a position
        ({"state": "bogus"}, 422, "unknown_state"),
        ({"date_from": "2023-13-01"}, 422, "bad_date"),
        ({"date_from": "2023-11-20", "date_to": "2023-11-10"}, 422, "bad_range"),
        ({"since": 200, "until": 100}, 422, "bad_range"),
        ({"q": "!!! ---"}, 422, "bad_keyword"),
        ({"limit": 0}, 422, None),
        ({"limit": 201}, 422, None),
        ({"q": "x" * 101}, 422, None),
        ({"id": 0}, 422, None),
    ],
)
def test_bad_input_is_a_coded_4xx(
    client: TestClient, params: dict[str, Any], status: int, code: str | None
) -> None:
    r = client.get("/api/search", params=params, headers=auth("operator"))
    assert r.status_code == status, r.text
    if code:
        assert r.json()["code"] == code
    if code and code != "bad_cursor":  # the exports check the same filters
        assert (
            client.get("/api/search/export.csv", params=params, headers=auth("operator")).status_code
            == status
        )


def test_search_needs_a_caller(client: TestClient) -> None:
    for path in (
        "/api/search",
        "/api/search/export.csv",
        "/api/search/export.xlsx",
        "/api/reports/kpis.xlsx",
    ):
        assert client.get(path).status_code == 401


def test_csv_export_has_chinese_headers_names_and_local_times(
    client: TestClient, runtime: FakeRuntime
) -> None:
    closed, _, _ = _history(runtime)
    r = client.get("/api/search/export.csv", params={"state": "closed"}, headers=auth("operator"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("编号,类别,状态,标题,街道")
    assert len(lines) == 2
    assert lines[1].startswith(f"{closed},一键报警求助,已办结,")
    assert "2023-11-15 06:13:20 +08:00" in lines[1] and ",王五," in lines[1]


def _sheet(content: bytes) -> list[tuple[Any, ...]]:
    wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return list(wb.worksheets[0].iter_rows(values_only=True))


@pytest.mark.parametrize(
    ("lang", "first"), [("zh-CN", ("编号", "类别", "状态")), ("en", ("ID", "Category", "State"))]
)
def test_xlsx_export(client: TestClient, runtime: FakeRuntime, lang: str, first: tuple[str, ...]) -> None:
    _history(runtime)
    r = client.get(
        "/api/search/export.xlsx", params={"grid": "G-001", "lang": lang}, headers=auth("operator")
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = _sheet(r.content)
    assert rows[0][:3] == first
    assert len(rows) == 3  # header + the two incidents on grid G-001
    assert rows[2][2] == ("已办结" if lang == "zh-CN" else "Closed")


def test_kpi_report_xlsx_and_print_page(client: TestClient, runtime: FakeRuntime) -> None:
    _history(runtime)
    r = client.get("/api/reports/kpis.xlsx", params={"period": "week", "date": DAY}, headers=auth("operator"))
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    assert wb.sheetnames == ["总体", "按街道", "按网格", "按人员"]
    overall = list(wb["总体"].iter_rows(values_only=True))
    assert "周报 2023-11-13" in overall[0][0]  # the ISO week, Monday first
    assert overall[1][:2] == ("范围", "事件数") and overall[2][1] == 3
    workers = list(wb["按人员"].iter_rows(values_only=True))
    assert workers[2][0] == "王五" and workers[2][4] == 1  # one closed
    page = client.get(
        "/api/reports/kpis.html",
        params={"period": "day", "date": DAY, "lang": "en"},
        headers=auth("operator"),
    )
    assert page.status_code == 200 and "Closure rate" in page.text and "Daily 2023-11-15" in page.text
    assert "/static/css/print.css" in page.text
    zh = client.get("/api/reports/kpis.html", params={"period": "month", "date": DAY}, headers=auth("grid1"))
    assert "办结率" in zh.text and "月报 2023-11" in zh.text
    bad = client.get("/api/reports/kpis.xlsx", params={"date": "15/11/2023"}, headers=auth("operator"))
    assert bad.status_code == 422 and bad.json()["code"] == "bad_date"
