"""Exports for the weekly meeting: the searched list as CSV or XLSX, KPI reports by street, grid and worker
as XLSX, and the same report as a print-friendly page. Every route takes the caller's scope; the XLSX is
built in a temporary folder (constant memory) that goes once it is sent. The names in them are served to
the pages too (``/api/labels.js``)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from html import escape
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from alarms.kpi_report import Period, Window, report, report_rows, window
from alarms.search import iter_matches
from dashboard.auth import CurrentPrincipal, Principal
from dashboard.errors import CodedError
from dashboard.exports import (
    KPI_COLUMNS,
    NAME_HEADERS,
    SHEETS,
    Lang,
    Namer,
    csv_chunks,
    kpi_value,
    pick,
    report_title,
    write_incidents_xlsx,
    write_kpi_xlsx,
)
from dashboard.labels import js_module
from dashboard.responses import media
from dashboard.search_api import Filters
from dashboard.services import Services
from dashboard.ui import SECURITY_HEADERS

router = APIRouter(prefix="/api", tags=["export"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LangQ = Annotated[Lang, Query(description="language of headers and names")]


_LABELS_JS = js_module()


@router.get("/labels.js", include_in_schema=False)
def labels_module() -> Response:
    """The names of categories, states and verdicts as a module the pages import (static/js/i18n.js): the
    exports' own, so a list and its export agree. Public like the page scripts: words, no data."""
    headers = {"cache-control": "no-cache", "x-content-type-options": "nosniff"}
    return Response(_LABELS_JS, media_type="text/javascript; charset=utf-8", headers=headers)


def _names(request: Request) -> dict[str, str]:
    """Who was sent, by the name people know them by (users added with --display-name)."""
    signin = getattr(request.app.state, "signin", None)
    return signin.users.display_names() if signin is not None else {}


def _namer(request: Request, lang: Lang) -> Namer:
    svc: Services = request.app.state.services
    names = _names(request)
    return Namer(lang, svc.timezone, lambda who: names.get(who, who))


def _stamp(svc: Services) -> str:
    return Namer("en", svc.timezone).time(svc.clock())[:10].replace("-", "")


def _attachment(name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{name}"'}


def _xlsx(path: Path, name: str) -> FileResponse:
    return FileResponse(
        path,
        media_type=XLSX,
        headers=_attachment(name),
        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
    )


@router.get("/search/export.csv", response_class=StreamingResponse, responses=media("text/csv", "The list."))
def export_csv(request: Request, principal: CurrentPrincipal, f: Filters, lang: LangQ = "zh-CN") -> Any:
    """Every match of the search (no page limit), newest first, streamed as it is read."""
    svc: Services = request.app.state.services
    rows = iter_matches(svc.store.read, f, principal.scope)
    return StreamingResponse(
        csv_chunks(rows, _namer(request, lang)),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(f"incidents-{_stamp(svc)}.csv"),
    )


@router.get("/search/export.xlsx", response_class=FileResponse, responses=media(XLSX, "The list."))
async def export_xlsx(
    request: Request, principal: CurrentPrincipal, f: Filters, lang: LangQ = "zh-CN"
) -> FileResponse:
    svc: Services = request.app.state.services
    path = Path(tempfile.mkdtemp(prefix="sharpeyes-export-")) / "incidents.xlsx"
    rows = iter_matches(svc.store.read, f, principal.scope)
    await run_in_threadpool(write_incidents_xlsx, path, rows, _namer(request, lang))
    return _xlsx(path, f"incidents-{_stamp(svc)}.xlsx")


def _report(
    request: Request, principal: Principal, period: Period, day: str | None
) -> tuple[Window, dict[str, Any]]:
    svc: Services = request.app.state.services
    today = Namer("en", svc.timezone).time(svc.clock())[:10]  # no date: the period that holds today
    try:
        w = window(period, date.fromisoformat(day or today), svc.timezone)
    except ValueError:
        raise CodedError(422, "bad_date", "date: a date as YYYY-MM-DD", field="date") from None
    with svc.store.read() as conn:
        rows = report_rows(conn, principal.scope, w)
    names = _names(request)
    directory = svc.engine.directory
    grid_names = {g.id: g.name or g.id for g in directory.grids.values()}
    rep = report(rows, svc.clock(), lambda who: names.get(who, who), directory.street_names, grid_names)
    return w, rep


PeriodQ = Annotated[Period, Query(description="day, ISO week (Monday first) or month holding `date`")]
DayQ = Annotated[
    str | None, Query(max_length=10, description="YYYY-MM-DD in locale.timezone (default today)")
]


@router.get("/reports/kpis.xlsx", response_class=FileResponse, responses=media(XLSX, "The report."))
async def kpi_xlsx(
    request: Request,
    principal: CurrentPrincipal,
    period: PeriodQ = "month",
    date: DayQ = None,
    lang: LangQ = "zh-CN",
) -> FileResponse:
    """办结率, 限时办结率 and 满意率 overall and by street, grid and worker."""
    svc: Services = request.app.state.services
    w, rep = await run_in_threadpool(_report, request, principal, period, date)
    path = Path(tempfile.mkdtemp(prefix="sharpeyes-report-")) / "kpis.xlsx"
    await run_in_threadpool(write_kpi_xlsx, path, rep, w, lang, svc.timezone)
    return _xlsx(path, f"kpis-{period}-{w.first_day.isoformat()}.xlsx")


def _cell(line: dict[str, Any], key: str, kind: str) -> str:
    v = kpi_value(line, key, kind)
    return f"{v * 100:.1f}%" if kind == "%" and v != "" else escape(str(v))


def _table(caption: str, name_header: str, lines: list[dict[str, Any]], lang: Lang) -> str:
    head = "".join(f"<th>{escape(pick(h, lang))}</th>" for _, h, _ in KPI_COLUMNS)
    body = "".join(
        f"<tr><th>{escape(line['name'] or pick(('全部', 'All'), lang))}</th>"
        + "".join(f"<td>{_cell(line, k, kind)}</td>" for k, _, kind in KPI_COLUMNS)
        + "</tr>"
        for line in lines
    )
    empty = f"<tr><td colspan='{len(KPI_COLUMNS) + 1}'>{pick(('无', 'None'), lang)}</td></tr>"
    return (
        f"<table><caption>{escape(caption)}</caption><thead><tr><th>{escape(name_header)}</th>{head}"
        f"</tr></thead><tbody>{body or empty}</tbody></table>"
    )


@router.get("/reports/kpis.html", response_class=HTMLResponse, include_in_schema=False)
def kpi_print_page(
    request: Request,
    principal: CurrentPrincipal,
    period: PeriodQ = "month",
    date: DayQ = None,
    lang: LangQ = "zh-CN",
) -> HTMLResponse:
    """The report as a page made for paper (A4, no navigation; css/print.css)."""
    svc: Services = request.app.state.services
    w, rep = _report(request, principal, period, date)
    title = report_title(w, lang, svc.timezone)
    tables = [_table(pick(("总体", "Overall"), lang), pick(("范围", "Scope"), lang), [rep["overall"]], lang)]
    tables += [_table(pick(SHEETS[g], lang), pick(NAME_HEADERS[g], lang), rep[g], lang) for g in SHEETS]
    printed = pick(("打印时间", "Printed"), lang) + " " + Namer(lang, svc.timezone).time(svc.clock())
    button = pick(("打印", "Print"), lang)
    html = (
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{escape(title)}</title>"
        "<link rel='stylesheet' href='/static/css/print.css'>"
        "<script type='module' src='/static/js/print_page.js'></script></head>"
        f"<body class='report'><header><h1>{escape(title)}</h1><p>{escape(printed)}</p>"
        f"<button type='button' id='print' class='no-print'>{escape(button)}</button></header>"
        f"<main>{''.join(tables)}</main></body></html>"
    )
    return HTMLResponse(html, headers=SECURITY_HEADERS)
