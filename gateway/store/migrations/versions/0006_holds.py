"""an outage holds, never underpays: held employees and released periods

An employee whose evidence could not be checked because BKN or BSrE did not answer is held (not computed as
refused, not sent to payroll) until a later check concludes or an operator releases the period.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("tenant", sa.String(32), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("nip", sa.String(18), primary_key=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "releases",
        sa.Column("tenant", sa.String(32), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("released_at", gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("releases")
    op.drop_table("holds")
