"""Replicas: three `gateway worker` processes (Celery, solo pool) on one PostgreSQL schema and one RabbitMQ queue,
six tenants on the HTTP mock, a scheduler's tick enqueued twice and then a second tick.

Shown: no tenant-period is ever worked by two workers at once (the attempts of one tenant-period, on the database's
clock, never overlap); each due stage of each tenant-period is worked exactly once per tick (the duplicate messages
are skipped); every payroll line is booked once by the payroll mock, as the ledger says; a tenant whose code raises
a RuntimeError is logged with its traceback while the other five complete.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from sqlalchemy import select

from gateway.bootstrap import build_pipeline
from gateway.cli._serve import gateway_env
from gateway.outbox import ledger
from gateway.scale import Scheduler, enqueue_tick, make_app
from gateway.settings import Settings
from gateway.store import make_engine, work
from gateway.store import repository as repo
from gateway.store.tables import outbox, work_runs
from mocks import MockWorld, Scenario
from mocks.server import MockServer
from tests.conftest import IN_CI, PG_URL, _reset_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]
RABBIT_URL = os.environ.get("GATEWAY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
ROOT = Path(__file__).resolve().parents[1]
COPIES = ("kota_b", "kota_c", "kota_d", "kota_e", "kota_f")  # Metro's scheme and data under other names
TENANTS = ("metro", *COPIES)
BROKEN = "kota_f"  # its sync raises a RuntimeError in every worker
TODAY = date(2026, 4, 10)  # March's grace days are over: March computed, April pulled


def _services() -> str:
    try:
        with Connection(RABBIT_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
        return _reset_postgres(PG_URL)
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not reachable"
        if IN_CI:
            pytest.fail(f"PostgreSQL ({PG_URL}) and RabbitMQ ({RABBIT_URL}) are required in CI: {exc}")
        pytest.skip(f"PostgreSQL or RabbitMQ not reachable: {exc}")


def _config(path: Path) -> Path:
    sections = [f'[tenants.{name}]\ndisplay_name = "Kota {name[5:].upper()}"\nshared_endpoints = true\n'
                f'scheme = "metro"\nsources = ["rekening", "siasn"]\n\n[tenants.{name}.settings]\n'
                'evidence_sla_working_days = 3\ncap = "1"\nmin_score = "0"\nrequire_tte = true\n' for name in COPIES]
    path.write_text("\n".join(sections))
    return path


def _ready(app: Any, names: list[str], timeout: float = 30.0) -> None:
    """Wait for the three workers to answer a ping: each ping itself waits for the replies (up to 0.5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        answers = app.control.ping(destination=names, timeout=0.5) or []
        if {name for answer in answers for name in answer} == set(names):
            return
        assert time.monotonic() < deadline, "timed out waiting for three workers to answer a ping"


def _until(engine: Any, done: Any, what: str, timeout: float = 90.0) -> None:
    """Wait for the workers to have done something (an outcome to appear in `work_runs`), not for an amount of
    time: a trigger NOTIFYs on every write to the table and the test blocks on LISTEN until one arrives."""
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        conn.autocommit = True
        conn.execute("CREATE OR REPLACE FUNCTION work_runs_notify() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN PERFORM pg_notify('work_runs', ''); RETURN NULL; END $$")
        conn.execute("CREATE OR REPLACE TRIGGER work_runs_notify AFTER INSERT OR UPDATE ON work_runs "
                     "FOR EACH STATEMENT EXECUTE FUNCTION work_runs_notify()")
        conn.execute("LISTEN work_runs")
        deadline = time.monotonic() + timeout
        while not done():  # checked after LISTEN, so no write between the check and the wait is missed
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {what}"
            for _ in conn.notifies(timeout=left, stop_after=1):
                pass
    finally:
        raw.close()


def _attempts(engine: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:  # every tenant's: the test reads the whole record
        return [dict(r) for r in conn.execute(select(work_runs).order_by(work_runs.c.id)).mappings()]


def test_three_workers_six_tenants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _services()
    run = uuid.uuid4().hex[:8]
    queue = f"tpp.work.test.{run}"  # this run's own queue: parallel runs never take each other's stages
    with MockServer(lambda endpoints: MockWorld(Scenario.bundled("metro"), endpoints)) as server:
        env = {**gateway_env(server.endpoints), "GATEWAY_DATABASE_URL": url,
               "GATEWAY_CONFIG_FILE": str(_config(tmp_path / "six.toml")),
               "GATEWAY_DAEMON_TENANTS": "[" + ", ".join(f'"{t}"' for t in TENANTS) + "]",
               "GATEWAY_WORKER_BROKER_URL": RABBIT_URL, "GATEWAY_WORKER_QUEUE": queue,
               "GATEWAY_WORKER_BUSY_RETRY_SECONDS": "0.3", "GATEWAY_FEED_BROKER_URL": "memory://",
               "GATEWAY_RATE_LIMITS": "{}"}  # the served mock unpaced
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        engine = make_engine(url)  # migrated here, once
        pipeline = build_pipeline(settings)
        app = make_app(settings, lambda: pipeline)
        names = [f"w{i}-{run}@test" for i in (1, 2, 3)]
        logs = [tmp_path / f"w{i}.log" for i in (1, 2, 3)]
        workers = [subprocess.Popen([sys.executable, "-m", "tests._scale_worker", name, BROKEN], cwd=ROOT,
                                    env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                                    stdout=subprocess.DEVNULL, stderr=log.open("wb"))
                   for name, log in zip(names, logs, strict=True)]
        try:
            _ready(app, names)
            plan = enqueue_tick(app, pipeline, TODAY, 7, "tick-1")
            enqueue_tick(app, pipeline, TODAY, 7, "tick-1")  # the same tick twice: every stage has a duplicate
            due = {(w.tenant, w.period, stage) for w in plan.work for stage in w.stages if w.tenant != BROKEN}
            failing = {(w.tenant, w.period, w.stages[0]) for w in plan.work if w.tenant == BROKEN}
            assert {w.tenant for w in plan.work} == set(TENANTS) and len(due) == 5 * 6

            def settled(tick: str, duplicates: int) -> Any:
                def check() -> bool:
                    mine = [a for a in _attempts(engine) if a["tick"] == tick]
                    # Every message answered (a stage worked twice instead of skipped ends the wait too, and
                    # the assertions below name it).
                    return sum(a["outcome"] is not None for a in mine) >= len(due) + len(failing) + duplicates
                return check

            _until(engine, settled("tick-1", len(due) + len(failing)), "the first tick and its duplicates")
            enqueue_tick(app, pipeline, TODAY, 7, "tick-2")
            _until(engine, settled("tick-2", 0), "the second tick")
        finally:
            for process in workers:
                process.send_signal(signal.SIGTERM)  # Celery's warm shutdown
            for process in workers:
                process.wait(timeout=30)
            with Connection(RABBIT_URL) as conn:
                conn.default_channel.queue_delete(queue)
        bookings = list(server.world.payroll.ledger)

    attempts = _attempts(engine)
    worked = [a for a in attempts if a["outcome"] in ("done", "failed")]
    # No tenant-period worked by two at once: on the database's clock, each attempt ends before the next begins.
    by_unit: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for a in attempts:
        by_unit.setdefault((a["tenant"], a["period"]), []).append(a)
    for unit, runs in by_unit.items():
        runs.sort(key=lambda a: a["started_at"])
        for earlier, later in zip(runs, runs[1:], strict=False):
            assert later["started_at"] >= earlier["finished_at"], f"{unit}: {earlier} overlaps {later}"
    assert {a["worker"].split(":")[0] for a in worked} == set(names)  # the three shared the work
    # Each due stage of each tenant-period worked once per tick; the duplicates were skipped.
    for tick in ("tick-1", "tick-2"):
        counted = Counter((a["tenant"], a["period"], a["stage"]) for a in worked if a["tick"] == tick)
        assert counted == Counter(due | failing), tick
    assert all(a["outcome"] == "done" for a in worked if a["tenant"] != BROKEN)
    # The broken tenant: failed with its traceback, in the record and in a worker's log; the others completed.
    broken = [a for a in worked if a["tenant"] == BROKEN]
    assert broken and all(a["outcome"] == "failed" and "Traceback" in a["error"]
                          and "RuntimeError: injected bug" in a["error"] for a in broken)
    logged = "".join(log.read_text(errors="replace") for log in logs)
    assert "worker.stage_failed" in logged and "RuntimeError: injected bug in kota_f" in logged
    assert "Traceback (most recent call last)" in logged
    # Every payroll line booked once, and what was booked per tenant is what the ledger says is due.
    assert not [k for k, n in Counter((b.idempotency_key, b.line_id) for b in bookings).items() if n > 1]
    assert len({b.line_id for b in bookings}) == len(bookings)
    with engine.connect() as conn:
        owner = dict(conn.execute(select(outbox.c.idempotency_key, outbox.c.tenant)
                                  .where(outbox.c.destination == "payroll")).all())
        for tenant in TENANTS:
            results = {r.nip: r.amount for r in repo.load_results(conn, tenant, "2026-03")}
            if tenant == BROKEN:
                assert results == {}
                continue
            standing = ledger.positions(conn, tenant, "2026-03")
            booked: Counter[str] = Counter()
            for b in bookings:
                if owner[b.idempotency_key] == tenant:
                    booked[b.nip] += b.amount
            expected = {nip: amount for nip, amount in results.items() if amount and not standing[nip].rejected}
            assert len(results) == 50 and expected
            assert {nip: amount for nip, amount in booked.items() if amount} == expected, tenant
    engine.dispose()


def test_one_scheduler_enqueues_the_other_stands_by(monkeypatch: pytest.MonkeyPatch) -> None:
    url = _services()
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    settings = Settings()
    pipeline = build_pipeline(settings)
    sent: list[str] = []
    app = make_app(settings.model_copy(update={"worker_broker_url": "memory://"}), lambda: pipeline)
    scheduler = Scheduler(app, pipeline, clock=lambda: pipeline.clock(), wait=lambda _s: True)
    monkeypatch.setattr("gateway.scale.enqueue_tick", lambda *args, **_kw: sent.append(args[4]))
    with work.advisory_lock(pipeline.engine, "scheduler") as held:  # another scheduler is active
        assert held
        assert scheduler.run(max_ticks=1) == 0 and sent == []
    assert scheduler.run(max_ticks=1) == 1 and len(sent) == 1  # the lock is free: this one enqueues
    pipeline.engine.dispose()
