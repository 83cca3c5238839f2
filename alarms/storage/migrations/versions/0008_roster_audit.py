"""roster edited on the page: who edited a person or unit (config no longer overwrites them), units that
can be deactivated, and the audit trail of every page edit

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("people", sa.Column("edited_at", sa.Float(), nullable=True))
    op.add_column("people", sa.Column("edited_by", sa.String(length=128), nullable=True))
    op.add_column("units", sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column("units", sa.Column("edited_at", sa.Float(), nullable=True))
    op.add_column("units", sa.Column("edited_by", sa.String(length=128), nullable=True))
    op.create_table(
        "roster_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_roster_audit_target", "roster_audit", ["kind", "target_id", "id"])
    op.create_index("ix_roster_audit_ts", "roster_audit", ["ts"])


def downgrade() -> None:
    op.drop_index("ix_roster_audit_ts", table_name="roster_audit")
    op.drop_index("ix_roster_audit_target", table_name="roster_audit")
    op.drop_table("roster_audit")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("edited_by")
        batch.drop_column("edited_at")
        batch.drop_column("active")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("edited_by")
        batch.drop_column("edited_at")
