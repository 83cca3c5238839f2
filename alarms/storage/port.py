"""What the incident side needs of storage, as a seam: a read connection, one serialized write transaction
at a time, and the SQL dialect (for upserts). :class:`alarms.storage.store.Store` (SQLite or PostgreSQL via
SQLAlchemy) implements it; the runtime alone owns its lifecycle (migrate, close)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from sqlalchemy import Connection


class Database(Protocol):
    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        ...

    def read(self) -> AbstractContextManager[Connection]: ...

    def write(self, durable: bool = True) -> AbstractContextManager[Connection]:
        """A transaction under the write lock: committed on exit, rolled back on an exception. ``durable``
        False: bookkeeping whose loss a crash only turns into a resend, committed without its own fsync."""
        ...
