"""Fixtures for the alarm-layer tests: a settable clock, a migrated store on SQLite and PostgreSQL, and an
incident engine factory wired like the local runtime (without MQTT or HTTP)."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select, text

from alarms.config import GridConfig, SlaConfig, WebhookConfig
from alarms.delivery.outbox import Routing
from alarms.devices import ensure_devices
from alarms.engine import IncidentEngine
from alarms.grids import GridDirectory
from alarms.metrics import AlarmMetrics
from alarms.storage.schema import incidents, outbox, timeline
from alarms.storage.store import Store
from ingest.types import PanicSignal, SignalKind

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PREFIX = "se-test"
T0 = 1_700_000_000.0

GRIDS = [
    GridConfig(id="G-001", name="one", community="C-1", street="S-1"),
    GridConfig(id="G-002", name="two", community="C-1", street="S-1"),
    GridConfig(id="G-003", name="three", community="C-2", street="S-2"),
]
BUTTONS = {"B-001": "G-001", "B-002": "G-002", "B-003": "G-003"}


class Clock:
    """A clock the test moves by hand: pass `clock=lambda: c.now`."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


# ----- storage ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the module. Unreachable PostgreSQL is an error, never a skip."""
    name = f"sharpeyes_t_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for these tests: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once; each test gets a copy, so no test pays for the migrations."""
    path = tmp_path_factory.mktemp("template") / "sharpeyes.db"
    s = Store(f"sqlite:///{path}")
    s.migrate()
    s.close()
    return path


@pytest.fixture(scope="module")
def pg_store_url(pg_url: str) -> str:
    s = Store(pg_url)
    s.migrate()
    s.close()
    return pg_url


def fresh_sqlite(template: Path, tmp_path: Path) -> Store:
    path = tmp_path / "sharpeyes.db"
    shutil.copyfile(template, path)
    return Store(f"sqlite:///{path}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = fresh_sqlite(sqlite_template, tmp_path)
    else:
        s = Store(request.getfixturevalue("pg_store_url"))
        with s.engine.begin() as conn:
            for table in ("timeline", "outbox", "silences", "incidents", "seen_events", "devices"):
                conn.execute(text(f"DELETE FROM {table}"))  # much faster than TRUNCATE on tiny tables
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path, sqlite_template: Path) -> Iterator[Store]:
    s = fresh_sqlite(sqlite_template, tmp_path)
    try:
        yield s
    finally:
        s.close()


# ----- engine -------------------------------------------------------------------------------------------
def directory() -> GridDirectory:
    d = GridDirectory.build(GRIDS)
    for button, grid in BUTTONS.items():
        d.place(button, grid)
    return d


def hook(name: str = "police", **kw: Any) -> WebhookConfig:
    return WebhookConfig(name=name, url=kw.pop("url", f"http://127.0.0.1:9/{name}"), secret_env="X", **kw)


@dataclass
class Rig:
    engine: IncidentEngine
    store: Store
    clock: Clock
    registry: CollectorRegistry

    def press(self, button: str = "B-001", seq: int = 1, kind: str = "press", boot: int = 0, **extra: Any):
        return self.engine.ingest_signal(signal(button, seq, kind, self.clock.now, boot, **extra))

    def outbox_rows(self, incident_id: int | None = None) -> list[dict[str, Any]]:
        stmt = select(outbox).order_by(outbox.c.id)
        if incident_id is not None:
            stmt = stmt.where(outbox.c.incident_id == incident_id)
        with self.store.read() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def timeline(self, incident_id: int) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute(
                select(timeline).where(timeline.c.incident_id == incident_id).order_by(timeline.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    def incident_rows(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return [dict(r) for r in conn.execute(select(incidents).order_by(incidents.c.id)).mappings()]


def signal(
    button: str, seq: int, kind: str, at: float, boot: int = 0, device_ts: float | None = None, **extra: Any
) -> PanicSignal:
    return PanicSignal(
        button, SignalKind(kind), at - 0.05 if device_ts is None else device_ts, at, seq, boot, extra
    )


def payload(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["payload"])


@pytest.fixture
def make_rig(store: Store, clock: Clock) -> Callable[..., Rig]:
    def build(
        webhooks: list[WebhookConfig] | None = None, sla: SlaConfig | None = None, register: bool = True
    ) -> Rig:
        registry = CollectorRegistry()
        d = directory()
        engine = IncidentEngine(
            store,
            d,
            sla or SlaConfig(),
            Routing([hook()] if webhooks is None else webhooks, PREFIX),
            AlarmMetrics(registry),
            clock=lambda: clock.now,
        )
        if register:
            with store.write() as conn:
                ensure_devices(conn, dict(d.devices))
        return Rig(engine, store, clock, registry)

    return build


@pytest.fixture
def se() -> SimpleNamespace:
    """The helpers above for test modules (conftest is not imported by name: several may exist)."""
    return SimpleNamespace(
        T0=T0, PREFIX=PREFIX, Clock=Clock, hook=hook, signal=signal, payload=payload, directory=directory
    )


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()
