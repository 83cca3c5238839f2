"""A throw-away PostgreSQL database on the loopback server, for tests and benchmarks."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from alarms.storage.store import Store

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@contextmanager
def fresh_database(prefix: str = "sharpeyes_x", migrate: bool = True) -> Iterator[str]:
    """Yields the URL of a new database (migrated unless told not to); dropped afterwards, even in use.
    Raises psycopg.OperationalError when PostgreSQL is unreachable."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        if migrate:
            store = Store(url)
            store.migrate()
            store.close()
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
