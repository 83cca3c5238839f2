"""silences: a camera's rule silenced for a while after a false alarm

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.String(length=64), nullable=False),
        sa.Column("street_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("ended_by", sa.String(length=128), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_silences_incident_id", "silences", ["incident_id"])
    op.create_index("ix_silences_source", "silences", ["camera_id", "category", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_silences_source", table_name="silences")
    op.drop_index("ix_silences_incident_id", table_name="silences")
    op.drop_table("silences")
