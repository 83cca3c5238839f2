"""Real engines for the distributed runtime: a private JetStream nats-server, a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.nats_server import NatsServer, start_nats
from tests.support.postgres import PG_ADMIN, fresh_database


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
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for these tests: {exc}")
    with fresh_database("sharpeyes_d") as url:
        yield url


def incident_rows(url: str) -> list[tuple[str, str, int]]:
    """(category, source_id, trigger_count) of every incident."""
    with psycopg.connect(url.replace("postgresql://", "postgresql://", 1)) as conn:
        return conn.execute("SELECT category, source_id, trigger_count FROM incidents ORDER BY id").fetchall()
