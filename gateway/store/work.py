"""Who works which tenant-period, for `gateway worker` (gateway/scale/): a PostgreSQL advisory lock per
tenant-period held for the length of a stage, and the `work_runs` record of every attempt.

The lock is session-level on a connection of its own: it is released when the stage ends or, should the worker
die, when PostgreSQL closes its connection, so a crash never leaves a tenant-period locked. Whether an attempt of
the same tick and stage has finished is read while the lock is held, so a duplicate (a tick enqueued twice, a
redelivered message) is skipped and never works next to the first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, func, insert, select, text, update

from gateway.store.tables import work_runs


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock (the same in every process and release)."""
    digest = hashlib.blake2b(":".join(("tpp-gateway",) + parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def advisory_lock(engine: Engine, *parts: str) -> Iterator[bool]:
    """Try the session-level advisory lock of `parts` on a connection of its own; yields whether it is held
    (never waits). PostgreSQL only: SQLite has no lock to share between processes."""
    if engine.dialect.name != "postgresql":
        raise RuntimeError("advisory locks need PostgreSQL")
    key = lock_key(*parts)
    with engine.connect() as conn:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()
        try:
            yield held
        finally:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()


def finished(engine: Engine, tick: str, tenant: str, period: str, stage: str) -> str | None:
    """The outcome of the attempt of this tick's stage that finished (done or failed), if one did."""
    with engine.connect() as conn:
        return conn.execute(select(work_runs.c.outcome).where(
            work_runs.c.tenant == tenant, work_runs.c.period == period, work_runs.c.tick == tick,
            work_runs.c.stage == stage, work_runs.c.outcome.in_(("done", "failed"))).limit(1)).scalar()


def start(engine: Engine, tick: str, tenant: str, period: str, stage: str, worker: str,
          outcome: str | None = None) -> int:
    """Record an attempt as begun (the database's clock); `outcome` given: begun and over at once."""
    with engine.begin() as conn:
        now = func.clock_timestamp() if engine.dialect.name == "postgresql" else func.current_timestamp()
        return int(conn.execute(insert(work_runs).values(
            tick=tick, tenant=tenant, period=period, stage=stage, worker=worker, started_at=now,
            finished_at=now if outcome else None, outcome=outcome).returning(work_runs.c.id)).scalar_one())


def finish(engine: Engine, run: int, tenant: str, outcome: str, error: str | None = None) -> None:
    with engine.begin() as conn:
        now = func.clock_timestamp() if engine.dialect.name == "postgresql" else func.current_timestamp()
        conn.execute(update(work_runs).where(work_runs.c.id == run, work_runs.c.tenant == tenant)
                     .values(finished_at=now, outcome=outcome, error=error))


def runs(engine: Engine, tenant: str) -> list[dict[str, Any]]:
    """Every recorded attempt of one tenant, oldest first."""
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(work_runs).where(work_runs.c.tenant == tenant)
                                               .order_by(work_runs.c.id)).mappings()]
