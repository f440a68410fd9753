"""The audit log: append-only, one hash chain per tenant, verifiable.

Each entry's hash is sha256(previous hash + the canonical JSON of the entry), so changing, removing or
re-ordering any entry breaks every hash after it. Appends take a per-tenant lock (an advisory transaction
lock on PostgreSQL; SQLite has a single writer) so two writers never fork the chain.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text

from gateway.store.tables import audit_log

GENESIS = "0" * 64


def _digest(prev: str, tenant: str, at: datetime, actor: str, action: str, subject: str,
            details: dict[str, Any]) -> str:
    body = json.dumps({"tenant": tenant, "at": at.isoformat(), "actor": actor, "action": action,
                       "subject": subject, "details": details}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev + body).encode()).hexdigest()


def _lock(conn: Connection, tenant: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(f"audit:{tenant}".encode())})


def append(conn: Connection, tenant: str, actor: str, action: str, entries: list[tuple[str, dict[str, Any]]],
           at: datetime) -> int:
    """Append entries (subject, details) for one action, in the caller's transaction; returns how many."""
    if not entries:
        return 0
    _lock(conn, tenant)
    prev = conn.execute(select(audit_log.c.hash).where(audit_log.c.tenant == tenant)
                        .order_by(audit_log.c.id.desc()).limit(1)).scalar_one_or_none() or GENESIS
    rows = []
    for subject, details in entries:
        digest = _digest(prev, tenant, at, actor, action, subject, details)
        rows.append({"tenant": tenant, "at": at, "actor": actor, "action": action, "subject": subject,
                     "details": details, "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(audit_log.insert(), rows)
    return len(rows)


@dataclass
class ChainCheck:
    entries: int
    ok: bool
    first_bad_id: int | None = None
    reason: str = ""


def verify(conn: Connection, tenant: str) -> ChainCheck:
    prev, count = GENESIS, 0
    query = select(audit_log).where(audit_log.c.tenant == tenant).order_by(audit_log.c.id)
    for row in conn.execute(query).mappings():
        count += 1
        if row["prev_hash"] != prev:
            return ChainCheck(count, False, row["id"], "entry does not follow the one before it")
        expected = _digest(prev, tenant, row["at"], row["actor"], row["action"], row["subject"], row["details"])
        if expected != row["hash"]:
            return ChainCheck(count, False, row["id"], "entry was changed after it was written")
        prev = row["hash"]
    return ChainCheck(count, True)
