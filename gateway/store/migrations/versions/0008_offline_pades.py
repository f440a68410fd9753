"""the gateway's own PAdES check, beside BSrE's verdict: its conclusion, the signer and the chain

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_checks") as batch:
        batch.add_column(sa.Column("offline_tte", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("offline_signer", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("offline_chain", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence_checks") as batch:
        batch.drop_column("offline_chain")
        batch.drop_column("offline_signer")
        batch.drop_column("offline_tte")
