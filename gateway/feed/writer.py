"""Writing feed events: sequence numbers per aggregate, the exchange's outbox rows and one outbox row per event per
webhook endpoint, all in the caller's transaction (the one that commits the facts the events report).

`sequence` is allocated here, in the transaction that writes the outbox row, so it is gap-free: a rolled-back
computation gives its numbers back with everything else. An event batch already written (same ids) is skipped
before any number is taken.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from gateway.errors import GatewayError
from gateway.feed.events import ENDPOINT_DISABLED, SEQUENCE_DIGITS, CloudEvent, validate
from gateway.outbox._rows import insert_row
from gateway.store.repository import dialect_insert
from gateway.store.tables import feed_sequences, outbox, webhook_endpoints

FEED = "feed"
WEBHOOK = "webhook"
CHUNK = 500  # events per exchange row
NOT_TO_WEBHOOKS = frozenset({ENDPOINT_DISABLED})  # operator channel only


def _allocate(conn: Connection, tenant: str, partitionkey: str, count: int) -> int:
    """Take `count` numbers for an aggregate; returns the first."""
    stmt = dialect_insert(conn, feed_sequences).values(tenant=tenant, partitionkey=partitionkey, last=count)
    stmt = stmt.on_conflict_do_update(index_elements=["tenant", "partitionkey"],
                                      set_={"last": feed_sequences.c.last + count}).returning(feed_sequences.c.last)
    last = int(conn.execute(stmt).scalar_one())
    return last - count + 1


def _endpoints(conn: Connection, tenant: str) -> list[dict[str, Any]]:
    query = select(webhook_endpoints.c.id, webhook_endpoints.c.types).where(
        webhook_endpoints.c.tenant == tenant, webhook_endpoints.c.status == "active").order_by(webhook_endpoints.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def publish(conn: Connection, tenant: str, period: str, events: Sequence[CloudEvent], now: datetime,
            chunk: int = CHUNK) -> list[str]:
    """Write `events` to the outbox: the exchange's rows (≤ `chunk` events each) and, for each active webhook
    endpoint of the tenant whose filter takes the type, one row per event. Every event gets its `sequence` and
    is validated against its schema first (InvalidEvent). Returns the exchange rows' keys written."""
    written = []
    endpoints = _endpoints(conn, tenant)
    for start in range(0, len(events), chunk):
        part = list(events[start:start + chunk])
        digest = hashlib.sha256("\n".join(e.id for e in part).encode()).hexdigest()[:20]
        key = f"{tenant}:{period}:feed:{digest}"
        if conn.execute(select(outbox.c.id).where(outbox.c.idempotency_key == key)).first() is not None:
            continue  # the same events were written before: no new numbers
        counts: dict[str, int] = defaultdict(int)
        for e in part:
            counts[e.partitionkey] += 1
        nxt = {pk: _allocate(conn, tenant, pk, n) for pk, n in sorted(counts.items())}
        envelopes = []
        for e in part:
            envelope = e.model_copy(update={"sequence": str(nxt[e.partitionkey]).zfill(SEQUENCE_DIGITS)})
            nxt[e.partitionkey] += 1
            dumped = envelope.model_dump(mode="json")
            validate(dumped)
            envelopes.append(dumped)
        if insert_row(conn, tenant, period, FEED, f"{tenant}/{period}/feed", key, {"events": envelopes},
                      now) is None:
            # Written by a concurrent run since the check: fail this transaction so no number is lost.
            raise GatewayError(f"feed row {key} was written concurrently; the computation is run again next tick")
        written.append(key)
        for endpoint in endpoints:
            for item in envelopes:
                if item["type"] in NOT_TO_WEBHOOKS or (endpoint["types"] and item["type"] not in endpoint["types"]):
                    continue
                enqueue_webhook(conn, tenant, period, endpoint["id"], item, now)
    return written


def enqueue_webhook(conn: Connection, tenant: str, period: str, endpoint_id: int, item: dict[str, Any],
                    now: datetime, replay: str | None = None) -> int | None:
    """One event for one endpoint. Ordered per endpoint and aggregate (a failing event holds back the later ones
    of its aggregate for that endpoint only). A replay is a new row with the same event (same id)."""
    key = f"{tenant}:webhook:{endpoint_id}:{item['id']}" + (f":replay:{replay}" if replay else "")
    return insert_row(conn, tenant, period, WEBHOOK, f"webhook/{endpoint_id}/{item['partitionkey']}"[:128], key,
                      {"endpoint_id": endpoint_id, "event": item}, now)
