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


def test_bookkeeping_writes_skip_the_fsync_and_presses_keep_it(tmp_path: Path) -> None:
    """Delivery outcomes commit on a synchronous=NORMAL connection (their loss is a deduped resend); the
    same store's durable writes stay FULL, and both see one database."""
    store = Store(f"sqlite:///{tmp_path / 'se.db'}")
    try:
        store.migrate()
        with store.write(durable=False) as conn:
            relaxed = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            conn.exec_driver_sql("CREATE TABLE probe (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO probe VALUES (1)")
        with store.write() as conn:
            durable = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            seen = conn.exec_driver_sql("SELECT x FROM probe").scalar()
        assert (relaxed, durable, seen) == (SYNCHRONOUS["normal"], SYNCHRONOUS["full"], 1)
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_bookkeeping_turns_synchronous_commit_off_for_its_transaction_only() -> None:
    with fresh_database("sharpeyes_relaxed", migrate=False) as url:
        store = Store(url)
        try:
            with store.write(durable=False) as conn:
                inside = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
            with store.write() as conn:
                after = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
            assert (inside, after) == ("off", "on")
        finally:
            store.close()
