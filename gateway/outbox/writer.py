"""Outbox writer: payroll batches per OPD, written in the caller's transaction next to the results.

A batch that payroll may already have booked is never sent again with other amounts: a later recomputation
that changes amounts goes out as an adjustment batch carrying only the differences (positive = arrears,
negative = recovery), so the net of everything sent always equals the latest results.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from gateway.domain import Result
from gateway.store.repository import dialect_insert
from gateway.store.tables import outbox

PAYROLL = "payroll"


def _key(tenant: str, period: str, opd: str, kind: str, lines: list[dict[str, Any]]) -> str:
    digest = hashlib.sha256(json.dumps(lines, sort_keys=True).encode()).hexdigest()[:16]
    return f"{tenant}:{period}:{opd}:{kind}:{digest}"


def _net_sent(rows: Sequence[Any]) -> dict[str, int]:
    """What earlier rows asked payroll to pay per NIP. Dead rows never reached payroll and do not count;
    lines payroll rejected do count: they wait for the operator's reconciliation, not for an automatic resend."""
    net: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.status == "dead":
            continue
        for line in row.payload["lines"]:
            net[line["nip"]] += line["amount"]
    return net


def enqueue_payroll(conn: Connection, tenant: str, period: str, results: Sequence[Result],
                    now: datetime) -> list[str]:
    """Write the outbox rows that bring payroll to `results`; returns the idempotency keys written."""
    by_opd: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_opd[r.opd_id].append(r)
    written = []
    for opd, items in sorted(by_opd.items()):
        aggregate = f"{tenant}/{period}/{opd}"
        earlier = conn.execute(select(outbox.c.status, outbox.c.payload).where(
            outbox.c.tenant == tenant, outbox.c.aggregate == aggregate, outbox.c.destination == PAYROLL)
            .order_by(outbox.c.id)).all()
        sent = _net_sent(earlier)
        lines = []
        for r in sorted(items, key=lambda x: x.nip):
            delta = r.amount - sent.get(r.nip, 0)
            if delta:
                lines.append({"nip": r.nip, "amount": delta})
        if not lines:
            continue
        kind = "adjustment" if any(row.status != "dead" for row in earlier) else "tpp"
        key = _key(tenant, period, opd, kind, lines)
        payload = {"tenant": tenant, "period": period, "opd_id": opd, "lines": [
            {"line_id": f"{key}:{ln['nip']}", "nip": ln["nip"], "amount": ln["amount"], "kind": kind}
            for ln in lines]}
        if insert_row(conn, tenant, period, PAYROLL, aggregate, key, payload, now):
            written.append(key)
    return written


def insert_row(conn: Connection, tenant: str, period: str, destination: str, aggregate: str, key: str,
               payload: dict[str, Any], now: datetime) -> bool:
    """Add one outbox row; False when a row with this idempotency key exists already (nothing is written)."""
    stmt = (dialect_insert(conn, outbox).on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(outbox.c.id))
    inserted = conn.execute(stmt, {
        "tenant": tenant, "period": period, "destination": destination, "aggregate": aggregate,
        "idempotency_key": key, "payload": payload, "status": "pending", "attempts": 0,
        "next_attempt_at": now, "created_at": now})
    # No row back: the identical batch is already there (a dead one waits for the operator).
    return inserted.first() is not None


def retry_dead(conn: Connection, tenant: str, row_id: int, now: datetime) -> bool:
    """Operator action: put a dead-lettered row back in the queue with a fresh attempt count (in the caller's
    transaction, so that its audit entry commits with it)."""
    done = conn.execute(update(outbox).where(
        outbox.c.tenant == tenant, outbox.c.id == row_id, outbox.c.status == "dead").values(
        status="pending", attempts=0, next_attempt_at=now, lease_owner=None, lease_until=None))
    return done.rowcount == 1


def enqueue_events(conn: Connection, tenant: str, period: str, events: Sequence[Any], now: datetime,
                   chunk: int = 500) -> list[str]:
    """Feed events (CloudEvents) in outbox rows of up to `chunk`; a row's key is derived from its event ids."""
    written = []
    for start in range(0, len(events), chunk):
        part = [e.model_dump(mode="json") for e in events[start:start + chunk]]
        digest = hashlib.sha256("\n".join(e["id"] for e in part).encode()).hexdigest()[:20]
        key = f"{tenant}:{period}:feed:{digest}"
        if insert_row(conn, tenant, period, "feed", f"{tenant}/{period}/feed", key, {"events": part}, now):
            written.append(key)
    return written
