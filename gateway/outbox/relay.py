"""Outbox relay: claim a batch of rows under a lease, deliver them, record the outcomes in one transaction.

On PostgreSQL rows are claimed with `FOR UPDATE SKIP LOCKED`, so several relays can run; on SQLite run one.
Within one aggregate (tenant/period/OPD) rows go out in order: a row waits while an earlier one of its aggregate
is unfinished, in this pass and across passes. Different aggregates are delivered in parallel (bounded).

Nothing a destination does loses an outcome: an unexpected exception is recorded on its row as a retryable
failure with the error text, and the other rows of the claim go on. Leases are renewed while deliveries run,
and every claim increments the row's `generation` (a fencing token): an outcome is written only under the
generation it was claimed with, so a relay whose lease expired cannot overwrite the outcome of the relay that
took the row over. A crashed relay's lease expires and another takes the row over; the idempotency key makes
the re-delivery harmless.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import Connection, Engine, and_, bindparam, exists, select, update
from sqlalchemy.sql import Select
from structlog.contextvars import bound_contextvars

from gateway.errors import DeliveryError
from gateway.metrics import DELIVERIES
from gateway.outbox import ledger
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


# A destination's books, kept in the transaction that records a claim's outcomes: (row, outcome values, error)
# for each row delivered or dead.
Settler = Callable[[Connection, list[tuple[dict[str, Any], dict[str, Any], DeliveryError | None]], datetime], None]


@dataclass
class Outcome:
    """One row's outcome: the column values to write, and the failure if there was one."""

    values: dict[str, Any]
    error: DeliveryError | None = None


def close_breakers(destinations: Any) -> None:
    """Close the circuit breaker of every destination's client (a router's routes included)."""
    for destination in destinations:
        close_breakers(getattr(destination, "routes", {}).values())
        reset = getattr(getattr(destination, "client", None), "reset_breaker", None)
        if reset is not None:
            reset()


@dataclass
class RelayReport:
    claimed: int = 0
    delivered: int = 0
    submitted: int = 0
    retrying: int = 0
    dead: int = 0
    fenced: int = 0  # outcomes not written: the lease had passed to another relay
    errors: list[str] = field(default_factory=list)

    def add(self, other: RelayReport) -> None:
        for name in ("claimed", "delivered", "submitted", "retrying", "dead", "fenced"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


class Relay:
    def __init__(self, engine: Engine, destinations: dict[str, Destination], *,
                 clock: Callable[[], datetime], owner: str | None = None, lease_seconds: int = 300,
                 batch_size: int = 100, max_attempts: int = 8, backoff_base_seconds: float = 30.0,
                 parallelism: int = 4, rng: random.Random | None = None,
                 settlers: dict[str, Settler] | None = None, pipelined: bool | None = None) -> None:
        self.engine, self.destinations, self.clock = engine, destinations, clock
        # `run_until_idle` claims and records while the previous claim is delivered; by default on PostgreSQL
        # only (SQLite serialises writers: there the steps go one after the other).
        self.pipelined = engine.dialect.name == "postgresql" if pipelined is None else pipelined
        self.owner = owner or f"relay-{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size, self.max_attempts, self.backoff_base = batch_size, max_attempts, backoff_base_seconds
        self.parallelism = max(1, parallelism)
        self.rng = rng or random.Random()
        # Books kept per destination, written in the outcome's transaction: payroll's ledger, whatever the
        # destination's implementation (the API, the workbook, a test's fake).
        self.settlers = settlers if settlers is not None else {"payroll": ledger.settle_many}
        self._lock = threading.Lock()
        # Destinations that are not thread-safe (a kombu producer) deliver one row at a time.
        self._destination_locks = {name: threading.Lock() for name, d in destinations.items()
                                   if not getattr(d, "thread_safe", False)}

    # claim ----------------------------------------------------------------------------------------------------
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
        """Lease up to `batch_size` claimable rows; each claimed row's generation is one higher than before."""
        now = self.clock()
        with self.engine.begin() as conn:
            ids = [i for (i,) in conn.execute(self._claimable(now))]
            if not ids:
                return []
            conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(
                lease_owner=self.owner, lease_until=now + self.lease, generation=outbox.c.generation + 1))
            rows = conn.execute(select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id)).mappings()
            return [dict(r) for r in rows]

    def _renew(self, rows: list[dict[str, Any]], state: dict[str, datetime]) -> None:
        """Extend the lease of every row of this claim once a third of the lease has passed: delivered rows too,
        since their outcomes are written only when the whole claim is recorded."""
        now = self.clock()
        with self._lock:
            if now - state["renewed"] < self.lease / 3:
                return
            state["renewed"] = now
        with self.engine.begin() as conn:
            for r in rows:
                conn.execute(update(outbox).where(outbox.c.id == r["id"], outbox.c.generation == r["generation"])
                             .values(lease_until=now + self.lease))
        log.info("outbox.lease_renewed", rows=len(rows), owner=self.owner)

    # deliver --------------------------------------------------------------------------------------------------
    def run_once(self) -> RelayReport:
        report = RelayReport()
        rows = self.claim()
        report.claimed = len(rows)
        if not rows:
            return report
        outcomes = self._deliver_claim(rows, report)
        self._record(rows, outcomes, report)
        return report

    def _deliver_claim(self, rows: list[dict[str, Any]], report: RelayReport) -> dict[int, Outcome]:
        """Deliver a claim's rows: in order within an aggregate, aggregates in parallel (bounded)."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(row["aggregate"], []).append(row)
        outcomes: dict[int, Outcome] = {}
        state = {"renewed": self.clock()}

        def deliver_group(group: list[dict[str, Any]]) -> None:
            stopped = False
            for row in group:
                if stopped:  # keep order: an earlier row of this aggregate failed just now
                    outcome = Outcome({})
                else:
                    self._renew(rows, state)
                    outcome = self._deliver(row, report)
                    stopped = outcome.values.get("status") != "delivered"
                with self._lock:
                    outcomes[row["id"]] = outcome

        workers = min(self.parallelism, len(groups))
        if workers == 1:
            for group in groups.values():
                deliver_group(group)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.owner) as pool:
                futures = {pool.submit(deliver_group, g) for g in groups.values()}
                while futures:
                    # Woken when all are done or to renew the leases, not on every delivery: a wake-up per row
                    # took the GIL from the delivering threads (each worker renews before each row anyway).
                    done, futures = wait(futures, timeout=max(1.0, self.lease.total_seconds() / 6),
                                         return_when=ALL_COMPLETED)
                    for f in done:
                        f.result()  # deliver_group catches every delivery error; this re-raises only our bugs
                    self._renew(rows, state)
        return outcomes

    def _record(self, rows: list[dict[str, Any]], outcomes: dict[int, Outcome], report: RelayReport) -> None:
        """Every outcome of the claim in one transaction, each under the generation it was claimed with.

        The rows still ours (same generation) are locked first; the others' outcomes are dropped (fenced). The
        outcomes are then written with one statement per shape of outcome (executemany) and settled in the
        destinations' books together, so recording a claim costs a few round trips, not several per row."""
        now = self.clock()
        with self.engine.begin() as conn:
            ours = self._still_ours(conn, rows)
            shapes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
            settled: dict[str, list[tuple[dict[str, Any], dict[str, Any], DeliveryError | None]]] = defaultdict(list)
            for row in rows:
                if row["id"] not in ours:
                    report.fenced += 1
                    log.warning("outbox.fenced", row=row["id"], aggregate=row["aggregate"], owner=self.owner)
                    continue
                outcome = outcomes.get(row["id"], Outcome({}))
                values = {"lease_owner": None, "lease_until": None, **outcome.values}
                shapes[tuple(sorted(values))].append(
                    {"b_id": row["id"], "b_generation": row["generation"], **{f"v_{k}": v for k, v in values.items()}})
                if outcome.values.get("status") in ("delivered", "dead"):
                    settled[row["destination"]].append((row, outcome.values, outcome.error))
            for columns, params in shapes.items():
                conn.execute(update(outbox).where(
                    outbox.c.id == bindparam("b_id"), outbox.c.generation == bindparam("b_generation"))
                    .values({c: bindparam(f"v_{c}", type_=outbox.c[c].type) for c in columns}), params)
            for destination, items in settled.items():
                settle = self.settlers.get(destination)
                if settle is not None:
                    settle(conn, items, now)
            if settled.get("payroll") and "feed" in self.destinations:
                # Payroll's answers on the feed (batch acknowledged, lines rejected), with the ledger's fates.
                from gateway.feed import story  # the feed's writer builds on the outbox: imported when used

                story.payroll_answered(conn, settled["payroll"], now)
            # A destination that keeps books of its own attempts (webhooks: the delivery log and the endpoints'
            # health) writes them here, in the claim's one transaction, instead of one transaction per attempt.
            for name in sorted({row["destination"] for row in rows}):
                flush = getattr(self.destinations.get(name), "flush", None)
                if flush is not None:
                    flush(conn, now)

    def _still_ours(self, conn: Connection, rows: list[dict[str, Any]]) -> set[int]:
        """The ids of the claimed rows whose generation is still the one claimed, locked until the outcomes are
        written (on PostgreSQL; SQLite serialises writers)."""
        claimed = {row["id"]: row["generation"] for row in rows}
        query = select(outbox.c.id, outbox.c.generation).where(outbox.c.id.in_(list(claimed)))
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update(of=outbox)
        return {i for i, generation in conn.execute(query) if claimed.get(i) == generation}

    def run_until_idle(self, max_passes: int = 100,
                       on_pass: Callable[[RelayReport], None] | None = None) -> RelayReport:
        """Relay until nothing is claimable now (rows waiting for a later attempt stay for the daemon); `on_pass`
        is told the running total after each pass. A run starts with its destinations' circuit breakers closed:
        the last run's outage does not refuse this run's first try."""
        close_breakers(self.destinations.values())
        total = RelayReport()
        if self.pipelined:
            return self._run_pipelined(total, max_passes, on_pass)
        for _ in range(max_passes):
            report = self.run_once()
            if not report.claimed:
                break
            total.add(report)
            if on_pass is not None:
                on_pass(total)
        return total

    def _run_pipelined(self, total: RelayReport, max_passes: int,
                       on_pass: Callable[[RelayReport], None] | None) -> RelayReport:
        """While one claim's rows are delivered (by a dispatching thread), the claim before it is recorded and the
        next one is taken: the two transactions no longer stand between deliveries. Ordering holds: a claimed row
        not yet recorded is unfinished and leased, so the next claim takes neither it nor a later row of its
        aggregate; the previous claim is recorded before the next is taken, so what it finished is claimable."""
        waiting: tuple[list[dict[str, Any]], dict[int, Outcome], RelayReport] | None = None

        def record() -> None:
            nonlocal waiting
            if waiting is not None:
                rows, outcomes, report = waiting
                waiting = None
                self._record(rows, outcomes, report)
                total.add(report)
                if on_pass is not None:
                    on_pass(total)

        claims = 0

        def claim() -> list[dict[str, Any]]:
            nonlocal claims
            if claims >= max_passes:
                return []
            rows = self.claim()
            claims += 1 if rows else 0
            return rows

        rows = claim()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.owner}-dispatch") as dispatcher:
            while rows:
                report = RelayReport(claimed=len(rows))
                delivering = dispatcher.submit(self._deliver_claim, rows, report)
                upcoming: list[dict[str, Any]] = []
                try:
                    record()
                    upcoming = claim()
                finally:
                    outcomes = delivering.result()
                waiting = (rows, outcomes, report)
                rows = upcoming
                if not rows:
                    record()  # what it finished may make later rows of their aggregates claimable
                    rows = claim()
            record()
        return total

    def _deliver(self, row: dict[str, Any], report: RelayReport) -> Outcome:
        """One row, under its tenant, period and batch bound for every log line (and metric) of the delivery."""
        with bound_contextvars(tenant=row["tenant"], period=row.get("period"), batch=row["aggregate"],
                               destination=row["destination"]):
            outcome = self._deliver_row(row, report)
        status = outcome.values.get("status") or ("retry" if outcome.error is not None else "skipped")
        DELIVERIES.labels(row["tenant"], row["destination"], status).inc()
        return outcome

    def _deliver_row(self, row: dict[str, Any], report: RelayReport) -> Outcome:
        destination = self.destinations.get(row["destination"])
        attempts = row["attempts"] + 1
        try:
            if destination is None:
                raise DeliveryError(f"outbox row {row['id']}: no destination {row['destination']!r} configured",
                                    retryable=False, refused=True)
            lock = self._destination_locks.get(row["destination"])
            if lock is None:
                delivery = destination.deliver(row)
            else:
                with lock:
                    delivery = destination.deliver(row)
        except DeliveryError as exc:
            return self._failed(row, attempts, exc, report)
        except Exception as exc:  # noqa: BLE001 - a destination's bug or a malformed answer: recorded, retried
            error = DeliveryError(f"outbox row {row['id']}: {row['destination']} raised {type(exc).__name__}: {exc}",
                                  retryable=True)
            return self._failed(row, attempts, error, report)
        now = self.clock()
        with self._lock:
            if delivery.status == "delivered":
                report.delivered += 1
            else:
                report.submitted += 1
        if delivery.status == "delivered":
            log.info("outbox.delivered", row=row["id"], aggregate=row["aggregate"])
            return Outcome({"attempts": attempts, "status": "delivered", "answer": delivery.answer,
                            "delivered_at": now, "last_error": None})
        return Outcome({"attempts": attempts, "status": "submitted", "answer": delivery.answer,
                        "next_attempt_at": now + delivery.poll_after})

    def _failed(self, row: dict[str, Any], attempts: int, exc: DeliveryError, report: RelayReport) -> Outcome:
        now = self.clock()
        text = str(exc)
        # A destination with a schedule of its own (webhooks) says when to try again, or None: no more tries.
        schedule = getattr(self.destinations.get(row["destination"]), "retry_delay", None)
        delay: float | None = None
        if exc.retryable and schedule is not None:
            delay = schedule(attempts, exc, self.rng)
        elif exc.retryable and attempts < self.max_attempts:
            delay = self.rng.uniform(0, self.backoff_base * 2 ** (attempts - 1))
        if delay is not None:
            with self._lock:
                report.errors.append(text)
                report.retrying += 1
            log.warning("outbox.retry", row=row["id"], aggregate=row["aggregate"], attempts=attempts, error=text)
            return Outcome({"attempts": attempts, "last_error": text,
                            "next_attempt_at": now + timedelta(seconds=delay)}, exc)
        with self._lock:
            report.errors.append(text)
            report.dead += 1
        log.error("outbox.dead", row=row["id"], aggregate=row["aggregate"], attempts=attempts, error=text)
        return Outcome({"attempts": attempts, "status": "dead", "last_error": text,
                        "answer": {"error": exc.answer} if exc.answer else row["answer"]}, exc)
