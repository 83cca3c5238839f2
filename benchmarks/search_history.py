"""Search and history at district scale (issue 16): N incidents (default 1,000,000) over two years, with
their timelines, bulk-loaded into SQLite and PostgreSQL (executemany in big transactions / COPY, indexes
built after the load), then: a page (50 rows) for each filter kind, first and deep (via the cursor), p50/p99
over random parameters; a month's KPIs (the page's /api/kpis and the XLSX report); and exports of 100,000
rows to CSV and XLSX with the process's resident memory sampled while they run.

    nice -n 10 .venv/bin/python benchmarks/search_history.py --size 1000000 --db sqlite postgresql \\
        --pg-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alarms.kpi_report import report, report_rows, window  # noqa: E402
from alarms.kpis import kpis  # noqa: E402
from alarms.queries import Scope, kpi_rows  # noqa: E402
from alarms.search import SearchFilter, iter_matches, search_page  # noqa: E402
from alarms.storage.schema import incidents, timeline  # noqa: E402
from alarms.storage.search_terms import document_terms, incident_fields  # noqa: E402
from alarms.storage.store import Store  # noqa: E402
from dashboard.exports import Namer, csv_chunks, write_incidents_xlsx  # noqa: E402

_MIGRATION = REPO / "alarms/storage/migrations/versions/0006_search_indexes.py"
_spec = importlib.util.spec_from_file_location("m0006", _MIGRATION)
assert _spec and _spec.loader
m0006 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(m0006)

DAY = 86400.0
END = 1_767_196_800.0  # 2026-01-01 00:00 +08:00 … the data covers the two years before
SPAN = 730 * DAY
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
ROADS = [f"{a}{b}路" for a in "人民解放建设和平胜利中山文化新华团结光明" for b in "东西南北"][:60]
LANDMARKS = [
    f"{a}{b}"
    for a in ("农贸市场", "小学", "卫生院", "公交站", "便利店", "加油站", "广场", "银行")
    for b in ("门口", "对面", "旁", "后门", "路口")
]
NOTES = [
    "现场有积水",
    "群众围观",
    "已联系网格员",
    "烟雾较大",
    "门口堆放杂物",
    "电动车起火",
    "老人摔倒",
    "设备恢复在线",
    "误触报警",
    "已通知消防",
    "摊贩占道经营",
    "噪音扰民",
    "路灯损坏",
    "井盖缺失",
]
CATS = (
    ["sos"] * 10
    + ["fire"] * 5
    + ["smoke"] * 10
    + ["crowd"] * 20
    + ["gathering"] * 10
    + ["tamper"] * 5
    + ["video_loss"] * 20
    + ["device_offline"] * 15
    + ["low_battery"] * 5
)
FINAL = ["closed"] * 5 + ["evaluated"] * 3 + ["cancelled"] * 2
OPEN = ["reported", "acknowledged", "dispatched", "in_progress", "resolved"]


def districts() -> tuple[list[tuple[str, str, str, str, str]], list[str]]:
    """160 grids in 32 communities in 8 streets (about 阎良's shape); 400 workers."""
    grids = []
    for s in range(8):
        for c in range(4):
            for g in range(5):
                n = s * 20 + c * 5 + g + 1
                grids.append(
                    (
                        f"G-{n:03d}",
                        f"第{n}网格",
                        f"C-{s * 4 + c + 1}",
                        f"{'新华凤凰振兴武屯关山北屯'[s % 8]}{c + 1}社区",
                        f"S-{s + 1}",
                    )
                )
    workers = [f"{a}{b}{c}" for a in SURNAMES for b in GIVEN for c in "一二"][:400]
    return grids, workers


STREET_NAMES = {
    f"S-{s + 1}": f"{n}街道"
    for s, n in enumerate(["凤凰路", "新华路", "振兴", "武屯", "关山", "北屯", "西关", "东关"])
}


def generate(size: int, seed: int = 16) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Incidents in creation order (ids ascending with time) and their timelines."""
    rnd = random.Random(seed)
    grids, workers = districts()
    tl_id = 0
    for i in range(1, size + 1):
        created = END - SPAN + SPAN * (i - 1) / size + rnd.random() * 10
        gid, gname, cid, cname, sid = grids[rnd.randrange(len(grids))]
        cat = rnd.choice(CATS)
        age = END - created
        state = rnd.choice(FINAL) if age > 3 * DAY or rnd.random() < 0.7 else rnd.choice(OPEN)
        ack = created + rnd.uniform(20, 1800) if state != "reported" else None
        closed = (
            ack + rnd.uniform(600, 3 * DAY) if state in ("closed", "evaluated", "cancelled") and ack else None
        )
        assignee = (
            rnd.choice(workers)
            if state not in ("reported", "acknowledged") and state != "cancelled"
            else None
        )
        place = {
            "address": f"{rnd.choice(ROADS)}{rnd.randint(1, 300)}号",
            "landmark": rnd.choice(LANDMARKS),
            "lat": None,
            "lon": None,
            "grid_name": gname,
            "community_name": cname,
            "street_name": STREET_NAMES[sid],
            "source_name": None,
            "cameras": [],
        }
        note = rnd.choice(NOTES) if ack else None
        resolution = f"案卷 A{i:07d} {rnd.choice(NOTES)}" if closed else None
        evaluation = {"score": rnd.choice([5, 5, 4, 4, 3, 2])} if state == "evaluated" else None
        row = {
            "id": i,
            "category": cat,
            "priority": 2,
            "state": state,
            "status": "Actual",
            "urgency": "Expected",
            "severity": "Moderate",
            "certainty": "Observed",
            "title": f"{cat} at {gname}",
            "grid_id": gid,
            "community_id": cid,
            "street_id": sid,
            "source_kind": "button",
            "source_id": f"B-{i % 5000:04d}",
            "created_at": created,
            "updated_at": closed or ack or created,
            "ack_deadline": created + 900,
            "close_deadline": created + DAY,
            "acknowledged_at": ack,
            "dispatched_at": None,
            "started_at": None,
            "resolved_at": None,
            "closed_at": closed,
            "evaluated_at": closed if evaluation else None,
            "escalation_level": 0,
            "trigger_count": 1,
            "last_trigger_at": created,
            "evidence": {},
            "assignee": assignee,
            "disposition": "handled" if closed and state != "cancelled" else None,
            "resolution_note": resolution,
            "evaluation": evaluation,
            "linked_incident_id": None,
            "merged_into": None,
            "dispatch_status": "none",
            "open_key": None,
            "version": 1,
            "place": place,
        }
        steps = [("created", None, "reported", None, created)]
        if ack:
            steps.append(("acknowledge", "reported", "acknowledged", note, ack))
        if closed:
            steps.append(("close", "acknowledged", state, None, closed))
        tl = []
        for action, frm, to, n, ts in steps:
            tl_id += 1
            tl.append(
                {
                    "id": tl_id,
                    "incident_id": i,
                    "ts": ts,
                    "actor": "op" if action != "created" else "B",
                    "action": action,
                    "from_state": frm,
                    "to_state": to,
                    "note": n,
                    "version": 1,
                    "data": None,
                }
            )
        row["search_terms"] = document_terms(incident_fields(row, [note] if note else []))
        yield row, tl


INC_COLS = [c.name for c in incidents.c]
TL_COLS = [c.name for c in timeline.c]
JSON_COLS = {"evidence", "evaluation", "place", "data"}


def _values(row: dict[str, Any], cols: list[str]) -> tuple[Any, ...]:
    return tuple(
        json.dumps(row[c], ensure_ascii=False) if c in JSON_COLS and row[c] is not None else row[c]
        for c in cols
    )


def _secondary_indexes(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [
            i["name"] for i in inspect(conn).get_indexes("incidents") if i["name"] and not i.get("unique")
        ]


def load(store: Store, size: int, batch: int = 50_000) -> float:
    """Drop the secondary indexes (and SQLite's FTS triggers), load, rebuild: a bulk load's fast path."""
    t0 = time.perf_counter()
    names = _secondary_indexes(store)
    sqlite = store.dialect == "sqlite"
    with store.engine.begin() as conn:
        for name in names:
            conn.execute(text(f"DROP INDEX {name}"))
        if sqlite:
            for trig in ("ai", "ad", "au"):
                conn.execute(text(f"DROP TRIGGER incident_fts_{trig}"))
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        gen = generate(size)
        while True:
            chunk = [next(gen, None) for _ in range(batch)]
            chunk = [c for c in chunk if c is not None]
            if not chunk:
                break
            if sqlite:
                cur.executemany(
                    f"INSERT INTO incidents ({','.join(INC_COLS)}) VALUES ({','.join('?' * len(INC_COLS))})",
                    [_values(r, INC_COLS) for r, _ in chunk],
                )
                cur.executemany(
                    f"INSERT INTO timeline ({','.join(TL_COLS)}) VALUES ({','.join('?' * len(TL_COLS))})",
                    [_values(t, TL_COLS) for _, tl in chunk for t in tl],
                )
            else:
                with cur.copy(f"COPY incidents ({','.join(INC_COLS)}) FROM STDIN") as cp:
                    for r, _ in chunk:
                        cp.write_row(_values(r, INC_COLS))
                with cur.copy(f"COPY timeline ({','.join(TL_COLS)}) FROM STDIN") as cp:
                    for _, tl in chunk:
                        for t in tl:
                            cp.write_row(_values(t, TL_COLS))
            raw.commit()
            print(f"  loaded {chunk[-1][0]['id']:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
        if not sqlite:
            cur.execute("SELECT setval('incidents_id_seq', %s)", (size,))
            cur.execute("SELECT setval('timeline_id_seq', (SELECT max(id) FROM timeline))")
            raw.commit()
    finally:
        raw.close()
    t_load = time.perf_counter() - t0
    with store.engine.begin() as conn:
        for index in incidents.indexes:
            if index.name in names and index.name != "ix_incidents_search":
                index.create(conn)
        if sqlite:
            for stmt in m0006._SQLITE_FTS[1:]:
                conn.execute(text(stmt))
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text(m0006.PG_SEARCH_INDEX))
    if not sqlite:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE incidents"))
            conn.execute(text("VACUUM ANALYZE timeline"))
    print(f"  load {t_load:.0f} s, indexes {time.perf_counter() - t0 - t_load:.0f} s", flush=True)
    return time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def month_range(rnd: random.Random) -> tuple[float, float]:
    start = END - SPAN + rnd.randrange(23) * 30 * DAY
    return start, start + 30 * DAY


def filter_kinds(size: int) -> dict[str, Callable[[random.Random], SearchFilter]]:
    grids, workers = districts()
    return {
        "all (newest first)": lambda r: SearchFilter(),
        "id": lambda r: SearchFilter(incident_id=r.randint(1, size)),
        "keyword: road (~1/60)": lambda r: SearchFilter(keyword=r.choice(ROADS)),
        "keyword: note (~1/14)": lambda r: SearchFilter(keyword=r.choice(NOTES)),
        "keyword: case no. (1 row)": lambda r: SearchFilter(keyword=f"A{r.randint(1, size):07d}"),
        "keyword: worker name": lambda r: SearchFilter(keyword=r.choice(workers)),
        "category": lambda r: SearchFilter(categories=[r.choice(CATS)]),
        "state (open, rare)": lambda r: SearchFilter(states=[r.choice(OPEN)]),
        "street": lambda r: SearchFilter(streets=[f"S-{r.randint(1, 8)}"]),
        "grid": lambda r: SearchFilter(grids=[r.choice(grids)[0]]),
        "assignee": lambda r: SearchFilter(assignees=[r.choice(workers)]),
        "date: a month": lambda r: SearchFilter(since=month_range(r)[0], until=month_range(r)[1]),
        "grid + state + month": lambda r: SearchFilter(
            grids=[r.choice(grids)[0]], states=["closed"], since=month_range(r)[0], until=month_range(r)[1]
        ),
        "keyword + month": lambda r: SearchFilter(
            keyword=r.choice(ROADS), since=month_range(r)[0], until=month_range(r)[1]
        ),
    }


def bench_pages(store: Store, size: int, samples: int) -> list[str]:
    rnd = random.Random(7)
    lines = ["| filter | first page p50 / p99 (ms) | page 6 via cursor p50 / p99 (ms) |", "|---|---:|---:|"]
    for name, make in filter_kinds(size).items():
        first: list[float] = []
        deep: list[float] = []
        for _ in range(samples):
            f = make(rnd)
            with store.read() as conn:
                t0 = time.perf_counter()
                page = search_page(conn, f, Scope(), None, 50)
                first.append((time.perf_counter() - t0) * 1000)
                for _ in range(4):
                    if page.next_cursor:
                        page = search_page(conn, f, Scope(), page.next_cursor, 50)
                if page.next_cursor:
                    t0 = time.perf_counter()
                    search_page(conn, f, Scope(), page.next_cursor, 50)
                    deep.append((time.perf_counter() - t0) * 1000)
        d = f"{pct(deep, 0.5):.1f} / {pct(deep, 0.99):.1f}" if deep else "—"
        lines.append(f"| {name} | {pct(first, 0.5):.1f} / **{pct(first, 0.99):.1f}** | {d} |")
        print(lines[-1], flush=True)
    return lines


def bench_kpis(store: Store, samples: int = 10) -> list[str]:
    rnd = random.Random(9)
    page: list[float] = []
    rep: list[float] = []
    rows = 0
    for _ in range(samples):
        since, until = month_range(rnd)
        t0 = time.perf_counter()
        with store.read() as conn:
            got = kpi_rows(conn, Scope(), since, until)
        kpis(got, END)
        page.append(time.perf_counter() - t0)
        rows = len(got)

        day = datetime.fromtimestamp(since, UTC).date()
        t0 = time.perf_counter()
        w = window("month", day, "Asia/Shanghai")
        with store.read() as conn:
            report(report_rows(conn, Scope(), w), END)
        rep.append(time.perf_counter() - t0)
    return [
        f"| a month's KPIs (/api/kpis: rows + summary), ~{rows:,} incidents "
        f"| {pct(page, 0.5):.2f} / **{max(page):.2f}** s |",
        f"| a month's KPI report (street / grid / worker) | {pct(rep, 0.5):.2f} / **{max(rep):.2f}** s |",
    ]


def bench_export(store: Store, rows: int) -> list[str]:
    out = []
    f = SearchFilter(until=END - SPAN + SPAN * rows / max(1, size_of(store)) + 1)
    namer = Namer("zh-CN", "Asia/Shanghai")
    for kind in ("csv", "xlsx"):
        rss = RssPeak().start()
        t0 = time.perf_counter()
        it = iter_matches(store.read, f, Scope())
        if kind == "csv":
            sink = io.BytesIO()
            for chunk in csv_chunks(it, namer):
                sink.write(chunk)
                sink.seek(0)
                sink.truncate()  # sent and gone, as over HTTP
            with store.read() as conn:
                count = conn.execute(
                    text("SELECT count(*) FROM incidents WHERE created_at < :u"), {"u": f.until}
                ).scalar_one()
        else:
            with tempfile.TemporaryDirectory() as tmp:
                count = write_incidents_xlsx(Path(tmp) / "x.xlsx", it, namer)
                size_mb = (Path(tmp) / "x.xlsx").stat().st_size / 1e6
        elapsed = time.perf_counter() - t0
        grew = rss.stop()
        extra = f", file {size_mb:.1f} MB" if kind == "xlsx" else ""
        out.append(
            f"| export {kind.upper()}, {count:,} rows | {elapsed:.1f} s, "
            f"RSS growth {grew / 1e6:.1f} MB{extra} |"
        )
        print(out[-1], flush=True)
    return out


class RssPeak:
    """The process's resident memory sampled every 20 ms: how far above its start an export took it."""

    def __init__(self) -> None:
        self.base = self.peak = _rss()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while self.running:
            self.peak = max(self.peak, _rss())
            time.sleep(0.02)

    def start(self) -> RssPeak:
        self.thread.start()
        return self

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.peak - self.base


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def size_of(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(text("SELECT max(id) FROM incidents")).scalar_one() or 0)


def open_store(db: str, args: argparse.Namespace, tmp: Path) -> Store:
    if db == "sqlite":
        path = Path(args.sqlite_path) if args.sqlite_path else tmp / "search.db"
        fresh = not path.exists() or args.rebuild
        if fresh and path.exists():
            path.unlink()
        store = Store(f"sqlite:///{path}", sqlite_synchronous="normal")
    else:
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = 'sharpeyes_search_bench'")
            ).first()
            fresh = not exists or args.rebuild
            if fresh:
                conn.execute(text("DROP DATABASE IF EXISTS sharpeyes_search_bench"))
                conn.execute(text("CREATE DATABASE sharpeyes_search_bench"))
        admin.dispose()
        store = Store(args.pg_url.rsplit("/", 1)[0] + "/sharpeyes_search_bench")
    store.migrate()
    if fresh or size_of(store) != args.size:
        if not fresh:
            raise SystemExit(f"{db}: holds {size_of(store):,} incidents, not {args.size:,}: pass --rebuild")
        print(f"{db}: loading {args.size:,} incidents", flush=True)
        load(store, args.size)
    return store


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    ap.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="server to create the database sharpeyes_search_bench on",
    )
    ap.add_argument(
        "--sqlite-path", help="keep the SQLite file here (reused by a later run of the same size)"
    )
    ap.add_argument("--rebuild", action="store_true", help="load afresh even when the data is there")
    ap.add_argument("--samples", type=int, default=100, help="searches per filter kind")
    ap.add_argument("--export-rows", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        for db in args.db:
            t0 = time.perf_counter()
            store = open_store(db, args, Path(tmp))
            print(f"\n### {db}, {size_of(store):,} incidents (ready in {time.perf_counter() - t0:.0f} s)\n")
            bench_pages(store, args.size, args.samples)  # prints each line as it is measured
            print("\n| KPIs | p50 / max |\n|---|---:|")
            for line in bench_kpis(store):
                print(line)
            print("\n| export | time, memory |\n|---|---|")
            for line in bench_export(store, args.export_rows):
                print(line)
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
