"""What the exports write: the incident list as CSV and XLSX and KPI reports as XLSX, with headers in the
reader's language (Chinese by default), names instead of ids (dashboard/labels.py's, the page's own) and
times in ``locale.timezone``.

Rows arrive from an iterator (alarms/search.py reads a batch at a time) and leave at once: the CSV is
yielded chunk by chunk; XlsxWriter's constant_memory mode writes each row to a temporary file, so a
100,000-row export holds one row, not the sheet (benchmarks/search_history.py measures it)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter

from alarms.incidents import Incident
from alarms.kpi_report import GROUPINGS, Window
from alarms.locale import local_time
from dashboard.labels import CATEGORY_NAMES, DISPOSITIONS, STATES, Lang, pick

YES_NO = {True: ("是", "Yes"), False: ("否", "No")}


@dataclass(frozen=True, slots=True)
class Namer:
    """Names for people: categories, states, workers; times in the zone."""

    lang: Lang
    timezone: str
    worker: Callable[[str], str] = str

    def category(self, name: str) -> str:
        return pick(CATEGORY_NAMES[name], self.lang) if name in CATEGORY_NAMES else name

    def state(self, name: str) -> str:
        return pick(STATES[name], self.lang) if name in STATES else name

    def time(self, ts: float | None) -> str:
        return local_time(ts, self.timezone) if ts is not None else ""


def _place(inc: Incident, key: str) -> str:
    return str((inc.place or {}).get(key) or "")


def _on_time(inc: Incident, n: Namer) -> str:
    if inc.closed_at is None:
        return ""
    return pick(YES_NO[inc.closed_at <= inc.close_deadline], n.lang)


def _score(inc: Incident) -> str:
    score = (inc.evaluation or {}).get("score")
    return "" if score is None else str(score)


INCIDENT_COLUMNS: list[tuple[tuple[str, str], Callable[[Incident, Namer], Any]]] = [
    (("编号", "ID"), lambda i, n: i.id),
    (("类别", "Category"), lambda i, n: n.category(i.category)),
    (("状态", "State"), lambda i, n: n.state(i.state)),
    (("标题", "Title"), lambda i, n: i.title),
    (("街道", "Street"), lambda i, n: _place(i, "street_name") or i.street_id),
    (("社区", "Community"), lambda i, n: _place(i, "community_name") or i.community_id),
    (("网格", "Grid"), lambda i, n: _place(i, "grid_name") or i.grid_id),
    (("地址", "Address"), lambda i, n: _place(i, "address")),
    (("地标", "Landmark"), lambda i, n: _place(i, "landmark")),
    (("来源", "Source"), lambda i, n: _place(i, "source_name") or i.source_id),
    (("处置人", "Assignee"), lambda i, n: n.worker(i.assignee) if i.assignee else ""),
    (("上报时间", "Reported"), lambda i, n: n.time(i.created_at)),
    (("受理时间", "Acknowledged"), lambda i, n: n.time(i.acknowledged_at)),
    (("办结时间", "Closed"), lambda i, n: n.time(i.closed_at)),
    (("限时办结", "Closed on time"), _on_time),
    (("结论", "Verdict"), lambda i, n: pick(DISPOSITIONS[i.disposition], n.lang) if i.disposition else ""),
    (("办结说明", "Resolution"), lambda i, n: i.resolution_note or ""),
    (("评价", "Score"), lambda i, n: _score(i)),
]


def incident_headers(lang: Lang) -> list[str]:
    return [pick(h, lang) for h, _ in INCIDENT_COLUMNS]


def incident_row(inc: Incident, n: Namer) -> list[Any]:
    return [get(inc, n) for _, get in INCIDENT_COLUMNS]


def csv_chunks(rows: Iterable[Incident], n: Namer, every: int = 500) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark (so Excel reads the Chinese), a chunk per ``every`` rows."""
    buf = io.StringIO()
    out = csv.writer(buf)
    buf.write("\ufeff")
    out.writerow(incident_headers(n.lang))
    for count, inc in enumerate(rows, 1):
        out.writerow(incident_row(inc, n))
        if count % every == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


def _workbook(path: Path) -> xlsxwriter.Workbook:
    return xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": str(path.parent)})


def write_incidents_xlsx(path: Path, rows: Iterable[Incident], n: Namer) -> int:
    """The list as one sheet; returns the number of rows written."""
    wb = _workbook(path)
    ws = wb.add_worksheet("事件" if n.lang == "zh-CN" else "Incidents")
    bold = wb.add_format({"bold": True})
    ws.write_row(0, 0, incident_headers(n.lang), bold)
    ws.freeze_panes(1, 0)
    count = 0
    for count, inc in enumerate(rows, 1):
        ws.write_row(count, 0, incident_row(inc, n))
    wb.close()
    return count


PERIODS = {"day": ("日报", "Daily"), "week": ("周报", "Weekly"), "month": ("月报", "Monthly")}
SHEETS = {"street": ("按街道", "By street"), "grid": ("按网格", "By grid"), "worker": ("按人员", "By worker")}
NAME_HEADERS = {"street": ("街道", "Street"), "grid": ("网格", "Grid"), "worker": ("处置人", "Worker")}
KPI_COLUMNS: list[tuple[str, tuple[str, str], str]] = [  # key, header, kind
    ("total", ("事件数", "Incidents"), "n"),
    ("open", ("未办结", "Open"), "n"),
    ("overdue", ("超时未办结", "Overdue"), "n"),
    ("closed", ("已办结", "Closed"), "n"),
    ("withdrawn", ("撤销/合并", "Withdrawn"), "n"),
    ("closure_rate", ("办结率", "Closure rate"), "%"),
    ("closed_within_deadline_rate", ("限时办结率", "Closed on time"), "%"),
    ("evaluated", ("已评价", "Evaluated"), "n"),
    ("satisfaction_rate", ("满意率", "Satisfaction"), "%"),
    ("time_to_acknowledge_p50_s", ("受理用时中位数（分钟）", "Median time to acknowledge (min)"), "min"),
]


def kpi_value(line: Mapping[str, Any], key: str, kind: str) -> Any:
    v = line.get(key)
    if v is None:
        return ""
    return round(v / 60, 1) if kind == "min" else v


def report_title(w: Window, lang: Lang, timezone: str) -> str:
    span = w.first_day.strftime("%Y-%m") if w.period == "month" else w.first_day.isoformat()
    kind = pick(PERIODS[w.period], lang)
    return f"{'考核报表' if lang == 'zh-CN' else 'KPI report'} · {kind} {span} · {timezone}"


def write_kpi_xlsx(path: Path, rep: Mapping[str, Any], w: Window, lang: Lang, timezone: str) -> None:
    """Overall on the first sheet, then one sheet per street, grid and worker."""
    wb = _workbook(path)
    bold = wb.add_format({"bold": True})
    pct = wb.add_format({"num_format": "0.0%"})
    sheets: list[tuple[str, str, list[Mapping[str, Any]]]] = [
        (pick(("总体", "Overall"), lang), pick(("范围", "Scope"), lang), [rep["overall"]])
    ]
    for g in GROUPINGS:
        sheets.append((pick(SHEETS[g], lang), pick(NAME_HEADERS[g], lang), rep[g]))
    for title, name_header, lines in sheets:
        ws = wb.add_worksheet(title)
        ws.write(0, 0, report_title(w, lang, timezone), bold)
        ws.write_row(1, 0, [name_header, *(pick(h, lang) for _, h, _ in KPI_COLUMNS)], bold)
        for r, line in enumerate(lines, 2):
            ws.write(r, 0, line["name"] or pick(("全部", "All"), lang))
            for c, (key, _, kind) in enumerate(KPI_COLUMNS, 1):
                ws.write(r, c, kpi_value(line, key, kind), pct if kind == "%" else None)
        ws.set_column(0, 0, 18)
    wb.close()
