"""SQLite WAL checkpoints run beside the writers, never inside a commit on the press path."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from alarms.storage.store import Store


def _wal_pages(store: Store) -> tuple[int, int, int]:
    with store.engine.connect() as conn:
        busy, log_pages, done = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    return busy, log_pages, done


def test_commits_do_not_checkpoint_and_the_checkpointer_does(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'wal.db'}", checkpoint_every_s=3600)
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        with store.write() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
        for i in range(600):  # well past SQLite's default auto-checkpoint of 1000 pages
            with store.write() as conn:
                conn.execute(text("INSERT INTO t (body) VALUES (:b)"), {"b": "x" * 4000 + str(i)})
        wal = tmp_path / "wal.db-wal"
        assert wal.stat().st_size > 1000 * 4096  # nothing was copied back inside a commit
        assert store._checkpointer is not None and store._checkpointer._thread.is_alive()
        store._checkpointer.checkpoint()
        busy, log_pages, done = _wal_pages(store)
        assert busy == 0 and log_pages == done  # every frame is in the database file now
        with store.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 600
    finally:
        store.close()
    assert store._checkpointer is None


def test_memory_database_has_no_checkpointer() -> None:
    store = Store("sqlite://")
    try:
        with store.write() as conn:
            conn.execute(text("SELECT 1"))
        assert store._checkpointer is None
    finally:
        store.close()
