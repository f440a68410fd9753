"""Outbox relay: claim a batch of rows under a lease, deliver them, record the outcomes in one transaction.

On PostgreSQL rows are claimed with `FOR UPDATE SKIP LOCKED`, so several relays can run; on SQLite run one.
A crashed relay's lease expires and another takes the row over; the idempotency key makes the re-delivery
harmless. Within one aggregate (tenant/period/OPD) rows go out in order: a row waits while an earlier one
of its aggregate is unfinished.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import Engine, and_, exists, select, update
from sqlalchemy.sql import Select

from gateway.errors import DeliveryError
from gateway.store.tables import outbox

log = structlog.get_logger(__name__)

UNFINISHED = ("pending", "submitted")


@dataclass
class Delivery:
    """What a destination made of one row: `delivered` (acknowledged) or `submitted` (ask again later)."""

    status: str
    answer: dict[str, Any]
    poll_after: timedelta = timedelta(minutes=1)


class Destination(Protocol):
    def deliver(self, row: dict[str, Any]) -> Delivery: ...


@dataclass
class RelayReport:
    claimed: int = 0
    delivered: int = 0
    submitted: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


class Relay:
    def __init__(self, engine: Engine, destinations: dict[str, Destination], *,
                 clock: Callable[[], datetime], owner: str | None = None, lease_seconds: int = 300,
                 batch_size: int = 100, max_attempts: int = 8, backoff_base_seconds: float = 30.0,
                 rng: random.Random | None = None) -> None:
        self.engine, self.destinations, self.clock = engine, destinations, clock
        self.owner = owner or f"relay-{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size, self.max_attempts, self.backoff_base = batch_size, max_attempts, backoff_base_seconds
        self.rng = rng or random.Random()

    def _claimable(self, now: datetime) -> Select[Any]:
        earlier = outbox.alias("earlier")
        blocked = exists().where(and_(earlier.c.aggregate == outbox.c.aggregate, earlier.c.id < outbox.c.id,
                                      earlier.c.status.in_(UNFINISHED)))
        query = (select(outbox.c.id).where(
            outbox.c.status.in_(UNFINISHED), outbox.c.next_attempt_at <= now,
            (outbox.c.lease_until.is_(None)) | (outbox.c.lease_until < now), ~blocked)
            .order_by(outbox.c.id).limit(self.batch_size))
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=outbox)
        return query

    def claim(self) -> list[dict[str, Any]]:
        now = self.clock()
        with self.engine.begin() as conn:
            ids = [i for (i,) in conn.execute(self._claimable(now))]
            if not ids:
                return []
            conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(
                lease_owner=self.owner, lease_until=now + self.lease))
            rows = conn.execute(select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id)).mappings()
            return [dict(r) for r in rows]

    def run_once(self) -> RelayReport:
        report = RelayReport()
        rows = self.claim()
        report.claimed = len(rows)
        outcomes: list[tuple[int, dict[str, Any]]] = []
        failed_aggregates: set[str] = set()
        for row in rows:
            if row["aggregate"] in failed_aggregates:  # keep order: an earlier row of it failed just now
                outcomes.append((row["id"], {}))
                continue
            values = self._deliver(row, report)
            if values.get("status") != "delivered":
                failed_aggregates.add(row["aggregate"])
            outcomes.append((row["id"], values))
        with self.engine.begin() as conn:
            for row_id, values in outcomes:
                conn.execute(update(outbox).where(outbox.c.id == row_id, outbox.c.lease_owner == self.owner)
                             .values(lease_owner=None, lease_until=None, **values))
        return report

    def run_until_idle(self, max_passes: int = 100) -> RelayReport:
        """Relay until nothing is claimable now (rows waiting for a later attempt stay for the daemon)."""
        total = RelayReport()
        for _ in range(max_passes):
            report = self.run_once()
            if not report.claimed:
                break
            for name in ("claimed", "delivered", "submitted", "retrying", "dead"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            total.errors.extend(report.errors)
        return total

    def _deliver(self, row: dict[str, Any], report: RelayReport) -> dict[str, Any]:
        now = self.clock()
        destination = self.destinations.get(row["destination"])
        attempts = row["attempts"] + 1
        try:
            if destination is None:
                raise DeliveryError(f"outbox row {row['id']}: no destination {row['destination']!r} configured",
                                    retryable=False)
            delivery = destination.deliver(row)
        except DeliveryError as exc:
            report.errors.append(str(exc))
            if exc.retryable and attempts < self.max_attempts:
                report.retrying += 1
                delay = self.rng.uniform(0, self.backoff_base * 2 ** (attempts - 1))
                log.warning("outbox.retry", row=row["id"], aggregate=row["aggregate"], attempts=attempts,
                            error=str(exc))
                return {"attempts": attempts, "last_error": str(exc),
                        "next_attempt_at": now + timedelta(seconds=delay)}
            report.dead += 1
            log.error("outbox.dead", row=row["id"], aggregate=row["aggregate"], attempts=attempts, error=str(exc))
            return {"attempts": attempts, "status": "dead", "last_error": str(exc),
                    "answer": {"error": exc.answer} if exc.answer else row["answer"]}
        if delivery.status == "delivered":
            report.delivered += 1
            log.info("outbox.delivered", row=row["id"], aggregate=row["aggregate"])
            return {"attempts": attempts, "status": "delivered", "answer": delivery.answer, "delivered_at": now,
                    "last_error": None}
        report.submitted += 1
        return {"attempts": attempts, "status": "submitted", "answer": delivery.answer,
                "next_attempt_at": now + delivery.poll_after}
