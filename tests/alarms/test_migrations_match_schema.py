"""The migrations create exactly the tables, columns and indexes alarms/storage/schema.py declares, on
SQLite and PostgreSQL: a schema change without its migration fails here, not in a user's database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from alarms.storage.schema import SQLITE_SEARCH_TABLES, metadata
from alarms.storage.store import Store


def test_migrated_database_matches_schema(store: Store) -> None:
    store.migrate()
    with store.engine.connect() as conn:
        undeclared = {
            "include_name": lambda name, kind, _: not (kind == "table" and name in SQLITE_SEARCH_TABLES)
        }
        diff = compare_metadata(MigrationContext.configure(conn, opts=undeclared), metadata)
        indexes = {i["name"] for i in inspect(conn).get_indexes("incidents")}
        tables = set(inspect(conn).get_table_names())
    # Type spellings differ between dialects (e.g. JSON); tables, columns and indexes must not.
    structural = [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")]
    assert structural == []
    assert "ix_incidents_source" in indexes
    if store.dialect == "sqlite":  # keyword search's index, which the metadata cannot declare
        assert tables >= SQLITE_SEARCH_TABLES
    else:
        assert "ix_incidents_search" in indexes
