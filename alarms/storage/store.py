"""Database access: engine set-up for SQLite (WAL) or PostgreSQL, migrations, and one write lock."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


class StorageError(RuntimeError):
    """The store could not write; callers must not acknowledge what they could not store."""


def normalise_url(url: str) -> str:
    """Accept the plain `postgresql://` scheme and route it to psycopg 3."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


SqliteSynchronous = Literal["full", "normal"]


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, synchronous: SqliteSynchronous) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: the WAL is fsynced at each commit (one per group commit), so what the broker was PUBACKed is on
    # disk; NORMAL survives a process crash but leaves the last commits to the next checkpoint's fsync.
    cur.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA foreign_keys=ON")
    # No checkpoint inside a commit: it stalled the press path for tens of ms several times a second.
    # The Checkpointer thread does it beside the writers instead.
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


class Checkpointer:
    """Copies the SQLite WAL back into the database from its own thread and connection (PASSIVE: it never
    waits for, or blocks, a writer), so commits on the hot path stay small and steady. Often and small:
    a checkpoint's fsync delays concurrent WAL writes, by ~50 ms once a second's worth had piled up, by a
    few ms at 0.2 s (benchmarks/README.md)."""

    def __init__(self, engine: Engine, every_s: float = 0.2) -> None:
        self.engine = engine
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def checkpoint(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.checkpoint()
            except Exception as exc:  # a locked or vanished file must not kill the thread
                log.warning("SQLite checkpoint failed: %s", exc)


def make_engine(url: str, sqlite_synchronous: SqliteSynchronous = "full") -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, poolclass=NullPool if not path else None, connect_args={"timeout": 5})
        event.listen(engine, "connect", lambda conn, _record: _sqlite_pragmas(conn, sqlite_synchronous))
        # SQLite: let SQLAlchemy's BEGIN take the write lock up front, so readers never deadlock a writer.
        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def alembic_config(conn: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


class Store:
    """Owns the engine. Writes are serialised by one lock: SQLite allows one writer, and the engine's
    read-modify-write of an incident must not interleave with another on the same row."""

    def __init__(
        self, url: str, checkpoint_every_s: float = 0.2, sqlite_synchronous: SqliteSynchronous = "full"
    ) -> None:
        self.url = normalise_url(url)
        self.checkpoint_every_s = checkpoint_every_s
        self.engine = make_engine(self.url, sqlite_synchronous)
        self._relaxed: Engine | None = None  # SQLite: connections with synchronous=NORMAL, for bookkeeping
        self.write_lock = threading.RLock()
        self._checkpointer: Checkpointer | None = None
        self._checkpointer_lock = threading.Lock()

    def _ensure_checkpointer(self) -> None:
        if self._checkpointer is not None or self.dialect != "sqlite":
            return
        path = self.url.split("///", 1)[1] if "///" in self.url else ""
        if not path or path.startswith(":memory:"):
            return
        with self._checkpointer_lock:
            if self._checkpointer is None:
                self._checkpointer = Checkpointer(self.engine, self.checkpoint_every_s)
                self._checkpointer.start()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to head, then say loudly if commits are not durable on this server."""
        with self.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        self.check_durability()

    def check_durability(self) -> bool:
        """PostgreSQL with `synchronous_commit` off acknowledges a commit before it is on disk: a press
        acked to its button could be lost to a server crash. Logged as an error (once, at start)."""
        if self.dialect != "postgresql":
            return True
        with self.engine.connect() as conn:
            setting = str(conn.exec_driver_sql("SHOW synchronous_commit").scalar())
        if setting == "off":
            log.error(
                "PostgreSQL synchronous_commit is off: a committed press can be lost to a server crash "
                "after its button was acknowledged; turn it on for the sharpeyes database"
            )
            return False
        return True

    @contextmanager
    def write(self, durable: bool = True) -> Iterator[Connection]:
        """One transaction under the write lock; any database failure surfaces as StorageError.

        ``durable=False`` is for bookkeeping such as delivery outcomes: losing it to a power cut means a
        resend, which receivers dedupe. Its commit skips the fsync (SQLite: a connection with
        synchronous=NORMAL, whose WAL frames the next durable commit syncs; PostgreSQL: synchronous_commit
        off for that transaction), so it holds the write lock, and the presses queued behind it, for less."""
        self._ensure_checkpointer()
        engine = self.engine if durable or self.dialect != "sqlite" else self._relaxed_engine()
        with self.write_lock:
            try:
                with engine.begin() as conn:
                    if not durable and self.dialect == "postgresql":
                        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    yield conn
            except OperationalError as exc:
                raise StorageError(f"database write failed: {exc.orig}") from exc

    def _relaxed_engine(self) -> Engine:
        if ":memory:" in self.url or self.url.rstrip("/").endswith("sqlite:"):
            return self.engine  # one database per connection: no second engine can see it
        if self._relaxed is None:
            self._relaxed = make_engine(self.url, "normal")
        return self._relaxed

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            with contextlib.suppress(Exception):
                self._checkpointer.checkpoint()
            self._checkpointer = None
        if self._relaxed is not None:
            self._relaxed.dispose()
        self.engine.dispose()
