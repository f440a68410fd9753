"""webhook endpoints, their delivery log, and the feed's sequence per aggregate

Revision ID: 0010_webhooks
Revises: 0009
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UTCDateTime

revision = "0010_webhooks"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(32), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("types", sa.JSON, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("previous_secret", sa.Text, nullable=True),
        sa.Column("previous_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("disabled_reason", sa.Text, nullable=True),
        sa.Column("failing_since", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_webhook_endpoints_tenant", "webhook_endpoints", ["tenant"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(32), nullable=False),
        sa.Column("endpoint_id", sa.Integer, nullable=False),
        sa.Column("outbox_id", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_webhook_attempts_tenant_endpoint", "webhook_attempts", ["tenant", "endpoint_id", "id"])
    op.create_table(
        "feed_sequences",
        sa.Column("tenant", sa.String(32), primary_key=True),
        sa.Column("partitionkey", sa.String(128), primary_key=True),
        sa.Column("last", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feed_sequences")
    op.drop_index("ix_webhook_attempts_tenant_endpoint", "webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_endpoints_tenant", "webhook_endpoints")
    op.drop_table("webhook_endpoints")
