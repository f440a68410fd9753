"""stages worked by `gateway worker`: one row per attempt (tick, tenant, period, stage, worker, times, outcome)

Revision ID: 0011_celery
Revises: 0009
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UTCDateTime

revision = "0011_celery"
down_revision = "0010_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tick", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("worker", sa.String(length=128), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_work_runs_tick", "work_runs", ["tenant", "period", "tick", "stage"])


def downgrade() -> None:
    op.drop_index("ix_work_runs_tick", table_name="work_runs")
    op.drop_table("work_runs")
