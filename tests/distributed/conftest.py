"""Real engines for the distributed runtime: a private JetStream nats-server, a fresh PostgreSQL database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from alarms.store import Store
from tests.support.nats_server import NatsServer, start_nats

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = start_nats(tmp_path / "jetstream")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated database per test. Unreachable PostgreSQL is an error, never a skip."""
    name = f"sharpeyes_d_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for these tests: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    store = Store(url)
    store.migrate()
    store.close()
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def incident_rows(url: str) -> list[tuple[str, str, int]]:
    """(category, source_id, trigger_count) of every incident."""
    with psycopg.connect(url.replace("postgresql://", "postgresql://", 1)) as conn:
        return conn.execute("SELECT category, source_id, trigger_count FROM incidents ORDER BY id").fetchall()
