"""payroll ledger, outbox fencing generation and index, withdrawn results

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Existing payroll outbox rows are carried into the ledger: a delivered row's lines take the fate payroll answered
(accepted -> acknowledged, rejected -> rejected with the reason, still pending -> pending); a dead row's lines are
"unknown" (it may have reached payroll: `gateway reconcile` asks payroll); pending and submitted rows' lines are
pending.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ledger = op.create_table(
        "payroll_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("nip", sa.String(length=18), nullable=False),
        sa.Column("opd_id", sa.String(length=64), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("fate", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payroll_ledger")),
        sa.UniqueConstraint("line_id", name=op.f("uq_payroll_ledger_line_id")),
    )
    op.create_index("ix_payroll_ledger_tenant_period_nip", "payroll_ledger", ["tenant", "period", "nip"])
    op.create_index("ix_payroll_ledger_outbox_id", "payroll_ledger", ["outbox_id"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
        batch.alter_column("idempotency_key", type_=sa.String(length=200), existing_type=sa.String(length=128),
                           existing_nullable=False)
        batch.create_index("ix_outbox_aggregate_status_id", ["aggregate", "status", "id"])
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("withdrawn_at", gateway.store.tables.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("withdrawn_reason", sa.Text(), nullable=True))
    _backfill(ledger)


def _backfill(ledger: sa.Table) -> None:
    conn = op.get_bind()
    outbox = sa.table("outbox", sa.column("id"), sa.column("tenant"), sa.column("period"), sa.column("destination"),
                      sa.column("payload", sa.JSON()), sa.column("status"), sa.column("answer", sa.JSON()))
    now = datetime.now(UTC)
    rows = []
    for row in conn.execute(sa.select(outbox).where(outbox.c.destination == "payroll").order_by(outbox.c.id)):
        answered = {ln.get("line_id"): ln for ln in (row.answer or {}).get("lines", []) if isinstance(ln, dict)}
        for line in row.payload.get("lines", []):
            fate, reason = {"dead": ("unknown", None)}.get(row.status, ("pending", None))
            if row.status == "delivered":
                seen = answered.get(line["line_id"], {})
                fate = {"accepted": "acknowledged", "rejected": "rejected"}.get(str(seen.get("status")), "pending")
                reason = seen.get("reason")
            rows.append({"tenant": row.tenant, "period": row.period, "nip": line["nip"],
                         "opd_id": row.payload.get("opd_id", ""), "outbox_id": row.id, "line_id": line["line_id"],
                         "amount": line["amount"], "kind": line.get("kind", "tpp"), "fate": fate, "reason": reason,
                         "created_at": now, "updated_at": now})
    if rows:
        op.bulk_insert(ledger, rows)


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_column("withdrawn_reason")
        batch.drop_column("withdrawn_at")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_aggregate_status_id")
        batch.alter_column("idempotency_key", type_=sa.String(length=128), existing_type=sa.String(length=200),
                           existing_nullable=False)
        batch.drop_column("generation")
    op.drop_index("ix_payroll_ledger_outbox_id", table_name="payroll_ledger")
    op.drop_index("ix_payroll_ledger_tenant_period_nip", table_name="payroll_ledger")
    op.drop_table("payroll_ledger")
