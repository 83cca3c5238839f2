"""search and history: keyword terms with their index, (filter, created_at, id) indexes for keyset pages

Keyword search needs a word index that works for Chinese on both databases (alarms/storage/search_terms.py
cuts the text into bigrams): PostgreSQL gets a GIN index over to_tsvector('simple', search_terms); SQLite an
FTS5 table over the same column (external content: it stores no second copy), kept in step by triggers.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_FILTERS = {"state": "state", "grid": "grid_id", "street": "street_id", "category": "category"}
_BATCH = 2000

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE incident_fts USING fts5(search_terms, content='incidents', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER incident_fts_ai AFTER INSERT ON incidents BEGIN "
    "INSERT INTO incident_fts(rowid, search_terms) VALUES (new.id, new.search_terms); END",
    "CREATE TRIGGER incident_fts_ad AFTER DELETE ON incidents BEGIN "
    "INSERT INTO incident_fts(incident_fts, rowid, search_terms) "
    "VALUES ('delete', old.id, old.search_terms); END",
    "CREATE TRIGGER incident_fts_au AFTER UPDATE OF search_terms ON incidents BEGIN "
    "INSERT INTO incident_fts(incident_fts, rowid, search_terms) "
    "VALUES ('delete', old.id, old.search_terms); "
    "INSERT INTO incident_fts(rowid, search_terms) VALUES (new.id, new.search_terms); END",
    "INSERT INTO incident_fts(incident_fts) VALUES ('rebuild')",
]
PG_SEARCH_INDEX = (
    "CREATE INDEX ix_incidents_search ON incidents USING gin (to_tsvector('simple', search_terms))"
)


def _backfill(conn: sa.Connection) -> None:
    """Terms for the incidents already there, in batches (imported late: only this step needs the code)."""
    from alarms.storage.search_terms import refresh

    last = 0
    while True:
        ids = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT id FROM incidents WHERE id > :last ORDER BY id LIMIT :n"),
                {"last": last, "n": _BATCH},
            )
        ]
        if not ids:
            return
        refresh(conn, ids)
        last = ids[-1]


def upgrade() -> None:
    op.add_column("incidents", sa.Column("search_terms", sa.Text(), nullable=True))
    for name, col in _FILTERS.items():
        if name != "category":  # a (filter, created_at, id) index also answers what the old one did
            op.drop_index(f"ix_incidents_{name}", table_name="incidents")
        op.create_index(f"ix_incidents_{name}_created", "incidents", [col, "created_at", "id"])
    op.create_index("ix_incidents_assignee_created", "incidents", ["assignee", "created_at", "id"])
    conn = op.get_bind()
    _backfill(conn)
    if conn.dialect.name == "postgresql":
        op.execute(PG_SEARCH_INDEX)
    elif conn.dialect.name == "sqlite":
        for stmt in _SQLITE_FTS:
            op.execute(stmt)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP INDEX ix_incidents_search")
    elif conn.dialect.name == "sqlite":
        for trigger in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER incident_fts_{trigger}")
        op.execute("DROP TABLE incident_fts")
    op.drop_index("ix_incidents_assignee_created", table_name="incidents")
    for name, col in _FILTERS.items():
        op.drop_index(f"ix_incidents_{name}_created", table_name="incidents")
        if name != "category":
            op.create_index(f"ix_incidents_{name}", "incidents", [col])
    with op.batch_alter_table("incidents") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("search_terms")
