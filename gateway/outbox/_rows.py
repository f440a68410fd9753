"""The one outbox insert, shared by the writers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from gateway.store.repository import dialect_insert
from gateway.store.tables import outbox


def insert_row(conn: Connection, tenant: str, period: str, destination: str, aggregate: str, key: str,
               payload: dict[str, Any], now: datetime) -> int | None:
    """Add one outbox row and return its id; None when a row with this idempotency key exists already (nothing is
    written)."""
    stmt = (dialect_insert(conn, outbox).on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(outbox.c.id))
    inserted = conn.execute(stmt, {
        "tenant": tenant, "period": period, "destination": destination, "aggregate": aggregate,
        "idempotency_key": key, "payload": payload, "status": "pending", "attempts": 0,
        "next_attempt_at": now, "created_at": now, "generation": 0})
    return inserted.scalar_one_or_none()
