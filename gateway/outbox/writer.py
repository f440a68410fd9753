"""Outbox writer: payroll lines from the ledger, feed events, operator requeues; written in the caller's
transaction next to the results.

Payroll nets per employee (gateway/outbox/ledger.py): new lines are the difference between the latest result
and every line already asked of payroll for that NIP and period, whatever OPD or batch it went in, and they go
in the employee's current OPD batch (positive = arrears, negative = recovery).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, update

from gateway.domain import Result
from gateway.outbox import ledger
from gateway.outbox._rows import insert_row
from gateway.store.tables import outbox

PAYROLL = ledger.PAYROLL
CLOSED = ("superseded", "discarded")


def enqueue_payroll(conn: Connection, tenant: str, period: str, results: Sequence[Result],
                    now: datetime) -> list[str]:
    """Write the outbox rows that bring payroll to `results`; returns the idempotency keys written. Employees
    without a result here are left alone (a paid employee who dropped out is for `gateway reconcile`)."""
    targets = {r.nip: ledger.Target(r.opd_id, r.amount) for r in results}
    return ledger.bring_to(conn, tenant, period, targets, now)


def retry_dead(conn: Connection, tenant: str, row_id: int, now: datetime) -> bool:
    """Put a dead-lettered row back in the queue as it was (SPBE verdicts and feed events: resending the same
    content is harmless). Payroll rows are never resent as they were: `gateway.outbox.operations.retry`
    re-bases them on the ledger."""
    done = conn.execute(update(outbox).where(
        outbox.c.tenant == tenant, outbox.c.id == row_id, outbox.c.status == "dead",
        outbox.c.destination != PAYROLL).values(
        status="pending", attempts=0, next_attempt_at=now, lease_owner=None, lease_until=None))
    return done.rowcount == 1


def close_dead(conn: Connection, tenant: str, row_id: int, status: str, note: str) -> bool:
    """Close a dead row for good (`superseded` by a re-based batch, or `discarded` by the operator)."""
    assert status in CLOSED
    done = conn.execute(update(outbox).where(
        outbox.c.tenant == tenant, outbox.c.id == row_id, outbox.c.status == "dead").values(
        status=status, last_error=note[:2000], lease_owner=None, lease_until=None))
    return done.rowcount == 1


def purge_delivered(conn: Connection, now: datetime, retention_days: int) -> int:
    """Delete delivered rows older than the retention (the ledger and the audit log keep their facts)."""
    cutoff = now - timedelta(days=retention_days)
    return conn.execute(delete(outbox).where(outbox.c.status == "delivered", outbox.c.delivered_at < cutoff)).rowcount


def enqueue_events(conn: Connection, tenant: str, period: str, events: Sequence[Any], now: datetime,
                   chunk: int = 500) -> list[str]:
    """Feed events (CloudEvents) in outbox rows of up to `chunk`; a row's key is derived from its event ids."""
    written = []
    for start in range(0, len(events), chunk):
        part = [e.model_dump(mode="json") for e in events[start:start + chunk]]
        digest = hashlib.sha256("\n".join(e["id"] for e in part).encode()).hexdigest()[:20]
        key = f"{tenant}:{period}:feed:{digest}"
        if insert_row(conn, tenant, period, "feed", f"{tenant}/{period}/feed", key, {"events": part}, now) is not None:
            written.append(key)
    return written
