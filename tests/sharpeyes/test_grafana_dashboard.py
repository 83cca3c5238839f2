"""The Grafana board under deploy/ (issue 16.5), checked offline: the committed JSON is what the generator
writes, every query is well formed and asks for a metric the service really exports, and the compose file's
Prometheus and Grafana find the files they are given."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BOARD = DEPLOY / "grafana" / "dashboards" / "sharpeyes.json"
SOURCE_PACKAGES = ("alarms", "dashboard", "detectors", "ingest", "jetstream", "sharpeyes", "video")
SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_grafana_dashboard", REPO / "scripts" / "make_grafana_dashboard.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exported_metrics() -> set[str]:
    """Names passed to prometheus_client in the source (a Counter "x" is scraped as x_total)."""
    names: set[str] = set()
    for package in SOURCE_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            names |= set(re.findall(r'"(sharpeyes_[a-z0-9_]+)"', path.read_text(encoding="utf-8")))
    return names


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _exprs(board: dict) -> list[str]:
    return [t["expr"] for p in board["panels"] for t in p["targets"]]


def test_committed_board_is_what_the_generator_writes() -> None:
    assert BOARD.read_text(encoding="utf-8") == _generator().render(), (
        "deploy/grafana/dashboards/sharpeyes.json is stale: run scripts/make_grafana_dashboard.py"
    )


def test_every_query_asks_for_an_exported_metric() -> None:
    board = json.loads(BOARD.read_text(encoding="utf-8"))
    exported = {_base(n) for n in _exported_metrics()}
    used = {m for e in _exprs(board) for m in re.findall(r"sharpeyes_[a-z0-9_]+", e)}
    assert used, "the board queries nothing"
    unknown = sorted(m for m in used if _base(m) not in exported)
    assert unknown == [], f"metrics the service does not export: {unknown}"


def test_queries_are_well_formed() -> None:
    board = json.loads(BOARD.read_text(encoding="utf-8"))
    for expr in _exprs(board):
        depth = 0
        for ch in expr:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            assert depth >= 0, expr
        assert depth == 0 and expr.count("{") == expr.count("}") and expr.count("[") == expr.count("]"), expr
        for inner in re.findall(r"histogram_quantile\(([^,]+),\s*sum by \(([^)]*)\)\s*\(rate\((\w+)\[", expr):
            q, by, metric = inner
            assert (
                0 < float(q) < 1 and "le" in [b.strip() for b in by.split(",")] and metric.endswith("_bucket")
            )


def test_panels_are_complete_and_do_not_overlap() -> None:
    board = json.loads(BOARD.read_text(encoding="utf-8"))
    datasources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    uid = datasources["datasources"][0]["uid"]
    titles = [p["title"] for p in board["panels"]]
    assert len(titles) == len(set(titles))
    cells: set[tuple[int, int]] = set()
    for p in board["panels"]:
        assert re.search(r"[\u4e00-\u9fff]", p["title"]) and re.search(r"[A-Za-z]{3}", p["title"]), p["title"]
        assert p["datasource"]["uid"] == uid and all(t["datasource"]["uid"] == uid for t in p["targets"])
        g = p["gridPos"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine


def test_compose_runs_prometheus_and_grafana_on_these_files() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    mounts = {
        m.split(":")[0]
        for name in ("prometheus", "grafana")
        for m in compose["services"][name]["volumes"]
        if m.startswith("./")
    }
    for mount in mounts:
        assert (DEPLOY / mount).exists(), f"compose mounts {mount}, which is not in deploy/"
    prom = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    ports = {c["port"] for job in prom["scrape_configs"] for c in job.get("dns_sd_configs", [])}
    cfg = yaml.safe_load((DEPLOY / "sharpeyes.yaml").read_text())
    assert ports == {int(cfg["distributed"]["metrics_listen"].rsplit(":", 1)[1])}
