"""quarantine with a lifecycle: how an entry was resolved, by whom and why

An entry resolves itself when its record comes back clean (`resolution` = "clean"), or an operator retries it (the
listing is read again; "retry") or discards it ("discarded": it stays closed if the same record fails again).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("resolution", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("resolution_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("resolution_reason")
        batch.drop_column("resolved_by")
        batch.drop_column("resolution")
