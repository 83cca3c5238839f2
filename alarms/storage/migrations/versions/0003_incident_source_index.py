"""index incidents by source, for the "previous incident of this source" lookup on every new incident

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_source", "incidents", ["source_id", "category", "id"])


def downgrade() -> None:
    op.drop_index("ix_incidents_source", table_name="incidents")
