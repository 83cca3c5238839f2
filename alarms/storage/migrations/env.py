"""Alembic environment: the connection is handed in by alarms.storage.store, never read from a file."""

from __future__ import annotations

from alembic import context

from alarms.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
