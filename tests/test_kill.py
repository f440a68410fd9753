"""Kill test: compute and relay SIGKILLed at random moments, over and over, against the HTTP mock and PostgreSQL.

The mock server (in this process) holds payroll's own ledger and outlives every kill. Between restarts the city's
evidence deadline changes, so each computation has other amounts and the writer must send differences; payroll
also loses some answers after booking (timeouts), the case that paid twice before the ledger. At the end one run
completes, and payroll's ledger must hold each employee's latest result exactly once: no line booked twice, the
booked total per NIP equal to the result.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from gateway.cli._serve import gateway_env
from gateway.outbox import ledger
from gateway.store import make_engine
from gateway.store import repository as repo
from mocks import Fault, MockWorld, Scenario
from mocks.server import MockServer
from tests.conftest import IN_CI, PG_URL, _reset_postgres

pytestmark = [pytest.mark.kill, pytest.mark.postgres]
TENANT, PERIOD = "metro", "2026-03"
KILLS = 20
LEASE = 2  # seconds: short, so that advancing the workers' clock past it takes rows over
STATEMENTS = 40  # kill points are drawn from a run's first this many SQL statements
ROOT = Path(__file__).resolve().parents[1]


def _database() -> str:
    try:
        return _reset_postgres(PG_URL)
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not reachable"
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI and is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")


def _config(directory: Path, sla_days: int) -> Path:
    path = directory / f"sla-{sla_days}.toml"
    path.write_text(f"[tenants.{TENANT}.settings]\nevidence_sla_working_days = {sla_days}\n")
    return path


def _worker(env: dict[str, str], mode: str, ahead: float = 0.0, die_after: int = 0) -> subprocess.Popen[bytes]:
    """A worker whose clock runs `ahead` seconds in front of the real one (leases expire by moving it on), and
    that SIGKILLs itself after its `die_after`th SQL statement (0: never)."""
    return subprocess.Popen([sys.executable, "-m", "tests._kill_worker", mode, TENANT, PERIOD, str(ahead),
                             str(die_after)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]


def test_sigkilled_compute_and_relay_never_book_a_line_twice(tmp_path: Path) -> None:
    url = _database()
    rng = random.Random(20261205)
    with MockServer(lambda endpoints: MockWorld(Scenario.bundled(TENANT), endpoints)) as server:
        payroll = server.world.payroll
        base = {**os.environ, **gateway_env(server.endpoints), "GATEWAY_DATABASE_URL": url,
                "GATEWAY_HTTP_MAX_ATTEMPTS": "2", "GATEWAY_HTTP_TIMEOUT_SECONDS": "1",
                "GATEWAY_RELAY_LEASE_SECONDS": str(LEASE),
                "GATEWAY_RELAY_PARALLELISM": "2", "GATEWAY_DAEMON_TENANTS": f'["{TENANT}"]',
                "GATEWAY_RATE_LIMITS": "{}",  # the served mock unpaced: SIASN's 1/second would pace every lookup
                "PYTHONPATH": str(ROOT)}
        _finish(_worker(base, "prepare"))
        # Answers lost after booking on a share of submissions: the relay's retry must not book again.
        server.world.faults.set("payroll.submit", Fault(kind="timeout", rate=0.3, delay=1.5), seed=7)
        killed_while_running = 0
        ahead = 0.0  # the workers' clock offset: moved past a lease instead of waiting for it
        for kill in range(KILLS):
            sla = rng.choice((1, 2, 3))
            env = {**base, "GATEWAY_CONFIG_FILE": str(_config(tmp_path, sla))}
            # The moment of the kill: after a chosen SQL statement of compute or the relay (mid-transaction, between
            # a submission and its record, ...); a worker that finishes first was not killed. Nothing waits.
            process = _worker(env, "work", ahead, die_after=rng.randint(1, STATEMENTS))
            _, err = process.communicate(timeout=120)
            if process.returncode == -signal.SIGKILL:
                killed_while_running += 1
            else:
                assert process.returncode == 0, err.decode(errors="replace")[-2000:]
            if kill % 5 == 4:
                ahead += LEASE + 0.1  # some leases of the killed relays expire, so rows are taken over
        server.world.faults.clear()
        # One run to its end under another SLA than the final one's, so the final run always has amounts to
        # adjust (whether a killed run got as far as booking depends on where its kill fell).
        ahead += LEASE + 0.1
        _finish(_worker({**base, "GATEWAY_CONFIG_FILE": str(_config(tmp_path, 1))}, "work", ahead))
        final = {**base, "GATEWAY_CONFIG_FILE": str(_config(tmp_path, 3))}
        _finish(_worker(final, "work", ahead))
        ahead += LEASE + 0.1  # the last killed relay's leases expire: the final relay takes its rows over
        _finish(_worker(final, "work", ahead))
        bookings = list(payroll.ledger)

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            results = {r.nip: r.amount for r in repo.load_results(conn, TENANT, PERIOD)}
            standing = ledger.positions(conn, TENANT, PERIOD)
            unfinished = [r["id"] for r in ledger.payroll_rows(conn, TENANT, PERIOD, ("pending", "submitted", "dead"))]
    finally:
        engine.dispose()
    assert not unfinished, f"rows left unfinished: {unfinished}"
    twice = [line for line, n in Counter(b.line_id for b in bookings).items() if n > 1]
    assert not twice, f"lines booked twice: {twice[:5]}"
    booked: Counter[str] = Counter()
    for booking in bookings:
        booked[booking.nip] += booking.amount
    refused = {nip for nip, p in standing.items() if p.rejected}  # payroll refuses them (no bank account)
    expected = {nip: amount for nip, amount in results.items() if amount and nip not in refused}
    assert {nip: amount for nip, amount in booked.items() if amount} == expected
    assert sum(booked.values()) == sum(expected.values())
    assert len({b.idempotency_key for b in bookings}) > 4  # the amounts moved between runs: adjustments were booked
    assert killed_while_running >= KILLS // 4, f"only {killed_while_running} kills landed while the worker ran"
