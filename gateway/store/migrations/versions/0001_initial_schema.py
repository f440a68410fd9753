"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evidence_checks',
    sa.Column('tenant', sa.String(length=32), nullable=False),
    sa.Column('evidence_id', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('actual_sha256', sa.String(length=64), nullable=True),
    sa.Column('tte', sa.String(length=16), nullable=False),
    sa.Column('tte_description', sa.Text(), nullable=False),
    sa.Column('checked_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'evidence_id', name=op.f('pk_evidence_checks'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('destination', sa.String(length=32), nullable=False),
    sa.Column('aggregate', sa.String(length=128), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', gateway.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('answer', sa.JSON(), nullable=True),
    sa.Column('created_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_idempotency_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_status_next', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_outbox_tenant_period', ['tenant', 'period'], unique=False)

    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=True),
    sa.Column('record_kind', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.String(length=128), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('created_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine')),
    sa.UniqueConstraint('tenant', 'period', 'record_kind', 'record_id', 'rule', name='uq_quarantine_record_rule')
    )
    op.create_table('records',
    sa.Column('tenant', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=True),
    sa.Column('nip', sa.String(length=18), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('staged_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'kind', 'id', name=op.f('pk_records'))
    )
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_tenant_kind_period', ['tenant', 'kind', 'period'], unique=False)

    op.create_table('results',
    sa.Column('tenant', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('nip', sa.String(length=18), nullable=False),
    sa.Column('opd_id', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('ceiling', sa.BigInteger(), nullable=False),
    sa.Column('score', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('scheme', sa.String(length=32), nullable=False),
    sa.Column('settings_version', sa.String(length=32), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('input_ids', sa.JSON(), nullable=False),
    sa.Column('computed_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'period', 'nip', name=op.f('pk_results'))
    )
    op.create_table('sync_cursors',
    sa.Column('tenant', sa.String(length=32), nullable=False),
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('cursor', sa.String(length=128), nullable=False),
    sa.Column('updated_at', gateway.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'stream', name=op.f('pk_sync_cursors'))
    )


def downgrade() -> None:
    op.drop_table('sync_cursors')
    op.drop_table('results')
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_tenant_kind_period')

    op.drop_table('records')
    op.drop_table('quarantine')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_tenant_period')
        batch_op.drop_index('ix_outbox_status_next')

    op.drop_table('outbox')
    op.drop_table('evidence_checks')
