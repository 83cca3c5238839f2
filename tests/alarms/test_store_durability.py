"""Durable before acknowledged: by default every SQLite commit is fsynced (synchronous=FULL), so a press the
broker was PUBACKed for survives a power cut; PostgreSQL with synchronous_commit off is reported loudly."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest

from alarms.config import StorageConfig
from alarms.storage.store import Store
from tests.support.postgres import PG_ADMIN, fresh_database

SYNCHRONOUS = {"normal": 1, "full": 2}  # SQLite's PRAGMA synchronous values


@pytest.mark.parametrize("setting", [None, "full", "normal"])
def test_sqlite_synchronous_follows_the_config(tmp_path: Path, setting: str | None) -> None:
    cfg = StorageConfig() if setting is None else StorageConfig(sqlite_synchronous=setting)  # type: ignore[arg-type]
    store = Store(f"sqlite:///{tmp_path / 'se.db'}", sqlite_synchronous=cfg.sqlite_synchronous)
    try:
        with store.write() as conn:  # the write connection is the one the presses commit on
            level = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        assert level == SYNCHRONOUS[setting or "full"]
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_with_synchronous_commit_off_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    with fresh_database("sharpeyes_sync", migrate=False) as url:
        store = Store(url)
        try:
            assert store.check_durability() is True  # the server's default
            name = url.rsplit("/", 1)[1]
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            store.close()
            store = Store(url)  # new connections take the database's setting
            with caplog.at_level(logging.ERROR, logger="alarms.storage.store"):
                store.migrate()
            assert store.check_durability() is False
            assert any("synchronous_commit is off" in r.getMessage() for r in caplog.records)
        finally:
            store.close()
