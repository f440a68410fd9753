"""The audit log: append-only, one hash chain per tenant, verifiable.

Each entry's hash is sha256(previous hash + the canonical JSON of the entry), so changing, removing or
re-ordering any entry breaks every hash after it. Appends take a per-tenant lock (an advisory transaction
lock on PostgreSQL; SQLite has a single writer) so two writers never fork the chain.

What the chain alone cannot show is its newest entries removed: what is left is still a valid chain. So its head
(`head`: the latest hash) is kept outside the table, in every report, in `gateway status` and with the verdicts
sent to SPBE, and `verify(..., head=HASH)` checks that the anchored head is still in the chain.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text

from gateway.errors import GatewayError
from gateway.store.tables import audit_log

GENESIS = "0" * 64
HASH_FORMAT = re.compile(r"^[0-9a-f]{64}$")


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
    return len(append_hashed(conn, tenant, actor, action, entries, at))


def append_hashed(conn: Connection, tenant: str, actor: str, action: str, entries: list[tuple[str, dict[str, Any]]],
                  at: datetime) -> list[str]:
    """`append`, returning each entry's hash in order (the feed names the entry an event corresponds to)."""
    if not entries:
        return []
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
    return [str(r["hash"]) for r in rows]


@dataclass(frozen=True)
class ChainHead:
    """The newest entry's hash (GENESIS for an empty chain) and how many entries the chain holds."""

    entries: int
    hash: str
    at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {"entries": self.entries, "hash": self.hash, "at": None if self.at is None else self.at.isoformat()}


def head(conn: Connection, tenant: str) -> ChainHead:
    """The tenant's chain head as stored (not verified: `verify` walks the chain)."""
    last = conn.execute(select(audit_log.c.hash, audit_log.c.at).where(audit_log.c.tenant == tenant)
                        .order_by(audit_log.c.id.desc()).limit(1)).first()
    if last is None:
        return ChainHead(0, GENESIS)
    count = conn.execute(select(func.count()).select_from(audit_log)
                         .where(audit_log.c.tenant == tenant)).scalar_one()
    return ChainHead(count, last.hash, last.at)


@dataclass
class ChainCheck:
    entries: int
    ok: bool
    first_bad_id: int | None = None
    reason: str = ""
    head: str = GENESIS  # the last hash walked
    anchored_at: int | None = None  # with `head=`: the entry (1-based) whose hash is the anchored head


def verify(conn: Connection, tenant: str, head: str | None = None) -> ChainCheck:
    """Walk the chain in order; the first entry that does not follow, was changed or cannot be read is named.

    With `head` (a hash recorded outside the table earlier), the chain must also contain it: entries written after
    it are fine, but if it is missing, entries at the end were removed (or the head is not this tenant's)."""
    if head is not None and not HASH_FORMAT.match(head):
        raise GatewayError(f"an audit head is 64 lowercase hex digits, not {head!r}")
    check = _walk(conn, tenant, head)
    if not check.ok or head is None or check.anchored_at is not None:
        return check
    check.ok = False
    check.reason = (f"the anchored head {head} is not in the chain, which ends after {check.entries} entries "
                    f"at {check.head}: its newest entries were removed (or the head is another tenant's)")
    return check


def _walk(conn: Connection, tenant: str, anchor: str | None) -> ChainCheck:
    prev, count, last_id = GENESIS, 0, 0
    found: int | None = 0 if anchor == GENESIS else None
    query = select(audit_log).where(audit_log.c.tenant == tenant).order_by(audit_log.c.id)
    rows = conn.execute(query).mappings()
    while True:
        try:
            row = next(rows, None)
        except (ValueError, TypeError) as exc:  # a stored `at` or `details` the column type cannot read
            return _unreadable(conn, tenant, last_id, count + 1, exc)
        if row is None:
            return ChainCheck(count, True, head=prev, anchored_at=found)
        count, last_id = count + 1, row["id"]
        if row["prev_hash"] != prev:
            return ChainCheck(count, False, row["id"], "entry does not follow the one before it")
        expected = _digest(prev, tenant, row["at"], row["actor"], row["action"], row["subject"], row["details"])
        if expected != row["hash"]:
            return ChainCheck(count, False, row["id"], "entry was changed after it was written")
        prev = row["hash"]
        if found is None and prev == anchor:
            found = count


def _unreadable(conn: Connection, tenant: str, after_id: int, count: int, exc: Exception) -> ChainCheck:
    """Name the entry after `after_id` that the database returned but the store cannot read."""
    bad = conn.execute(select(audit_log.c.id).where(audit_log.c.tenant == tenant, audit_log.c.id > after_id)
                       .order_by(audit_log.c.id).limit(1)).scalar_one_or_none()
    field = "details" if isinstance(exc, json.JSONDecodeError) else "at or details"
    return ChainCheck(count, False, bad, f"entry cannot be read ({field} malformed: {type(exc).__name__})")
