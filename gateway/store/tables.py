"""Tables. Every row carries its tenant and every query filters on it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
})


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware in Python, UTC in the database (SQLite keeps no zone, so it is reattached on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Staged upstream records, one generic table: kind = unit | employee | indicator | activity | evidence | approval.
records = Table(
    "records", metadata,
    Column("tenant", String(32), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("period", String(7), nullable=True),
    Column("nip", String(18), nullable=True),
    Column("content_hash", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("staged_at", UTCDateTime, nullable=False),
    Index("ix_records_tenant_kind_period", "tenant", "kind", "period"),
)

# What verification observed about each evidence item (document hash, TTE verdict).
evidence_checks = Table(
    "evidence_checks", metadata,
    Column("tenant", String(32), primary_key=True),
    Column("evidence_id", String(64), primary_key=True),
    Column("period", String(7), nullable=False),
    Column("actual_sha256", String(64), nullable=True),
    Column("tte", String(16), nullable=False),
    Column("tte_description", Text, nullable=False, default=""),
    Column("checked_at", UTCDateTime, nullable=False),
    # The gateway's own PAdES check (gateway/pades.py), where the tenant has trust roots: its conclusion (None:
    # undecided or not run), the signer's name and the chain (JSON list of names, signer first).
    Column("offline_tte", String(16), nullable=True),
    Column("offline_signer", String(256), nullable=True),
    Column("offline_chain", Text, nullable=True),
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(32), nullable=False),
    Column("period", String(7), nullable=True),
    Column("record_kind", String(32), nullable=False),
    Column("record_id", String(128), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("payload", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("resolution", String(16), nullable=True),  # clean | retry | discarded
    Column("resolved_by", String(64), nullable=True),
    Column("resolution_reason", Text, nullable=True),
    UniqueConstraint("tenant", "period", "record_kind", "record_id", "rule", name="uq_quarantine_record_rule"),
)

results = Table(
    "results", metadata,
    Column("tenant", String(32), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("nip", String(18), primary_key=True),
    Column("opd_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("ceiling", BigInteger, nullable=False),
    Column("score", Text, nullable=False),  # exact, a fraction: as long as it needs (0005)
    Column("status", String(16), nullable=False),
    Column("scheme", String(32), nullable=False),
    Column("settings_version", String(32), nullable=False),
    Column("lines", JSON, nullable=False),
    Column("input_ids", JSON, nullable=False),
    Column("metrics", JSON, nullable=True),
    Column("computed_at", UTCDateTime, nullable=False),
    # A result the latest computation no longer produces (plan quarantined, left the tenant) stops being current.
    Column("withdrawn_at", UTCDateTime, nullable=True),
    Column("withdrawn_reason", Text, nullable=True),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(32), nullable=False),
    Column("period", String(7), nullable=False),
    Column("destination", String(32), nullable=False),
    Column("aggregate", String(128), nullable=False),  # ordering key: tenant/period/opd
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("payload", JSON, nullable=False),
    # pending | submitted (awaiting acknowledgement) | delivered | dead | superseded | discarded (closed by an operator)
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("answer", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    # Fencing token: every claim increments it, and an outcome is written only under the generation it was
    # claimed with, so a relay whose lease expired cannot overwrite the outcome of the relay that took over.
    Column("generation", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_outbox_status_next", "status", "next_attempt_at"),
    Index("ix_outbox_tenant_period", "tenant", "period"),
    Index("ix_outbox_aggregate_status_id", "aggregate", "status", "id"),
)

# Every line ever asked of payroll, per tenant, period and NIP, whatever OPD or batch it went in, with its fate:
# pending (asked, no answer yet) | acknowledged (booked) | rejected (payroll refused the line; open until the
# operator acts) | unknown (the batch went dead after it may have reached payroll) | unsent (payroll refused the
# batch outright, or said it never got it) | void (a rejection the operator closed). gateway/outbox/ledger.py.
payroll_ledger = Table(
    "payroll_ledger", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(32), nullable=False),
    Column("period", String(7), nullable=False),
    Column("nip", String(18), nullable=False),
    Column("opd_id", String(64), nullable=False),
    Column("outbox_id", Integer, nullable=False),
    Column("line_id", String(200), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("fate", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_payroll_ledger_tenant_period_nip", "tenant", "period", "nip"),
    Index("ix_payroll_ledger_outbox_id", "outbox_id"),
)

sync_cursors = Table(
    "sync_cursors", metadata,
    Column("tenant", String(32), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("cursor", String(128), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Per-employee streams (SIASN has no listing): when each employee was last asked, and their e-Kinerja record's
# content hash then, so a changed or new employee is asked again and the rest only on the slow refresh (0009).
lookups = Table(
    "lookups", metadata,
    Column("tenant", String(32), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("nip", String(18), primary_key=True),
    Column("employee_hash", String(64), nullable=False),
    Column("fetched_at", UTCDateTime, nullable=False),
)

# Append-only, hash-chained per tenant (gateway/store/audit.py).
audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_tenant_id", "tenant", "id"),
)

holds = Table(  # employees held back from payroll while their evidence could not be checked (an outage)
    "holds", metadata,
    Column("tenant", String(32), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("nip", String(18), primary_key=True),
    Column("evidence", Text, nullable=False),  # the evidence ids waiting, comma-separated
    Column("reason", Text, nullable=False),
    Column("since", UTCDateTime, nullable=False),
)

releases = Table(  # an operator's decision to pay a period despite unchecked evidence (audited)
    "releases", metadata,
    Column("tenant", String(32), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("released_at", UTCDateTime, nullable=False),
)

# Webhook endpoints per tenant (gateway/feed/webhooks.py, 0010): the secret is a Fernet token (encrypted with
# GATEWAY_WEBHOOK_SECRET_KEY); `previous_secret` still signs until `previous_until` (rotation overlap).
webhook_endpoints = Table(
    "webhook_endpoints", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("types", JSON, nullable=False),  # event types sent; empty: all
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text, nullable=True),
    Column("previous_until", UTCDateTime, nullable=True),
    Column("status", String(16), nullable=False),  # active | disabled
    Column("disabled_reason", Text, nullable=True),
    Column("failing_since", UTCDateTime, nullable=True),  # first failure since the last success
    Column("last_success_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_webhook_endpoints_tenant", "tenant"),
)

# Every webhook attempt: the delivery log (`gateway feed deliveries`).
webhook_attempts = Table(
    "webhook_attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(32), nullable=False),
    Column("endpoint_id", Integer, nullable=False),
    Column("outbox_id", Integer, nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(128), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("outcome", String(16), nullable=False),  # delivered | retry | dead
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_webhook_attempts_tenant_endpoint", "tenant", "endpoint_id", "id"),
)

# The last CloudEvents `sequence` given per aggregate (partition key), allocated with the outbox row: gap-free.
feed_sequences = Table(
    "feed_sequences", metadata,
    Column("tenant", String(32), primary_key=True),
    Column("partitionkey", String(128), primary_key=True),
    Column("last", BigInteger, nullable=False),
)

# Stages worked by `gateway worker` (gateway/scale/): one row per attempt, with the scheduler's tick, the worker and
# the database's own clock, so a redelivered or duplicate task of a tick is skipped once an attempt finished (0011).
work_runs = Table(
    "work_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tick", String(64), nullable=False),
    Column("tenant", String(32), nullable=False),
    Column("period", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("worker", String(128), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("outcome", String(16), nullable=True),  # done | failed | duplicate; NULL while running (or crashed)
    Column("error", Text, nullable=True),
    Index("ix_work_runs_tick", "tenant", "period", "tick", "stage"),
)
