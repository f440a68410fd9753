"""per-employee streams (SIASN rw-jabatan): when each employee was last asked, and their record's hash then

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookups",
        sa.Column("tenant", sa.String(length=32), primary_key=True),
        sa.Column("stream", sa.String(length=64), primary_key=True),
        sa.Column("nip", sa.String(length=18), primary_key=True),
        sa.Column("employee_hash", sa.String(length=64), nullable=False),
        sa.Column("fetched_at", UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lookups")
