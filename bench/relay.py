"""Benchmark: payroll batches through the outbox relay to the payroll mock over loopback HTTP, on PostgreSQL.

    python3 bench/relay.py                          # 400 OPD batches of 25 lines
    python3 bench/relay.py --batches 100 --lines 10 # quicker

The payroll mock (`mocks.server`, what `gateway mock serve` runs) is served by uvicorn in a subprocess of its own.
The same batches (the rows `enqueue_payroll` writes from synthetic results) are delivered four ways, each to a
period of its own so that payroll books each set once:

1. plain httpx, one request after another: POST /batches with the same body and headers, then GET the batch
   while it is not completed (what the destination does, without the outbox);
2. plain httpx with as many threads as one relay's `relay_parallelism` (the fair raw baseline for one relay);
3. one relay process (`Relay.run_until_idle`: claim under a lease, deliver, record outcome and ledger fates);
4. two relay processes at once on the same database (`FOR UPDATE SKIP LOCKED`), each with the same parallelism;
5. two relay processes with half the parallelism each (the same load on payroll as one relay: what sharing the
   outbox between relays costs, apart from the machine's cores).

It prints rows/s for each and the ratios, and checks that no row was delivered twice: every outbox row delivered
after exactly one attempt and no payroll line booked twice at the mock.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TENANT = "metro"


# the payroll mock, in a process of its own -----------------------------------------------------------------------
def serve() -> None:
    """Serve the Metro world; print the port; on 'stats' print the bookings per line; on 'quit' stop."""
    from collections import Counter

    from mocks import MockWorld, Scenario
    from mocks.server import MockServer

    with MockServer(lambda endpoints: MockWorld(Scenario.bundled(TENANT), endpoints)) as server:
        server.world.payroll.accounts = _Everyone()
        print(json.dumps({"payroll_url": server.endpoints.payroll_url}), flush=True)
        for command in sys.stdin:
            if command.strip() == "stats":
                # The relays' periods only: the plain runs post the same lines under keys of their own.
                per_line = Counter(b.line_id for b in server.world.payroll.ledger if ":2026-01:" not in b.line_id)
                print(json.dumps({"bookings": len(server.world.payroll.ledger),
                                  "booked_twice": sum(1 for n in per_line.values() if n > 1)}), flush=True)
            elif command.strip() == "quit":
                break


class _Everyone(dict):  # type: ignore[type-arg]
    """Payroll's register for the benchmark: every NIP has an account, so every line is booked."""

    def __contains__(self, _nip: object) -> bool:
        return True

    def __getitem__(self, _nip: str) -> str:
        return "0012345678"


# one relay, in a process of its own --------------------------------------------------------------------------------
def relay_worker(db_url: str, payroll_url: str, parallelism: int) -> None:
    from gateway import logsetup
    from gateway.connectors.payroll import PayrollClient
    from gateway.outbox import PayrollDestination, Relay
    from gateway.store import make_engine
    from mocks import DEMO_API_KEY

    logsetup.configure()  # as `gateway run` does: warnings and errors only, JSON-free console lines on stderr
    engine = make_engine(db_url)
    destination = PayrollDestination(PayrollClient(payroll_url, DEMO_API_KEY))
    relay = Relay(engine, {"payroll": destination}, clock=lambda: datetime.now(UTC), parallelism=parallelism)
    started = time.time()
    report = relay.run_until_idle()
    print(json.dumps({"started": started, "ended": time.time(), "delivered": report.delivered}), flush=True)


# the driver ----------------------------------------------------------------------------------------------------------
def _results(period: str, batches: int, lines: int) -> list[Any]:
    from gateway.domain import Result, ResultStatus

    out = []
    for opd in range(batches):
        for i in range(lines):
            serial = opd * lines + i
            day, month = 1 + (serial // 1000) % 28, 1 + (serial // 28_000) % 12  # unique up to 336,000
            nip = f"1980{month:02d}{day:02d}2005{month:02d}1{serial % 1000:03d}"
            out.append(Result(tenant=TENANT, period=period, nip=nip, opd_id=f"OPD{opd:04d}", amount=1_000_000 + serial,
                              ceiling=5_000_000, score="50", status=ResultStatus.PARTIAL, scheme="metro",
                              settings_version="bench", lines=(), input_ids=()))
    return out


def _enqueue(engine: Any, period: str, batches: int, lines: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from gateway.outbox import enqueue_payroll
    from gateway.store.tables import outbox

    with engine.begin() as conn:
        enqueue_payroll(conn, TENANT, period, _results(period, batches, lines), datetime.now(UTC))
        return [dict(r) for r in conn.execute(select(outbox).where(
            outbox.c.tenant == TENANT, outbox.c.period == period)).mappings()]


def _plain(payroll_url: str, rows: list[dict[str, Any]], threads: int, prefix: str) -> float:
    import httpx

    from mocks import DEMO_API_KEY

    def one(client: httpx.Client, row: dict[str, Any]) -> None:
        answer = client.post("/batches", json=row["payload"], headers={
            "Idempotency-Key": prefix + row["idempotency_key"]}).json()
        while answer["status"] != "completed":
            answer = client.get(f"/batches/{answer['batch_id']}").json()

    with httpx.Client(base_url=payroll_url, headers={"X-API-Key": DEMO_API_KEY}, timeout=30) as client:
        started = time.perf_counter()
        if threads == 1:
            for row in rows:
                one(client, row)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda r: one(client, r), rows))
        return time.perf_counter() - started


def _relays(db_url: str, payroll_url: str, count: int, parallelism: int) -> tuple[float, int]:
    workers = [subprocess.Popen([sys.executable, __file__, "--relay-worker", db_url, payroll_url, str(parallelism)],
                                stdout=subprocess.PIPE, cwd=ROOT) for _ in range(count)]
    reports = [json.loads(w.communicate()[0].decode().strip().splitlines()[-1]) for w in workers]
    return (max(r["ended"] for r in reports) - min(r["started"] for r in reports),
            sum(r["delivered"] for r in reports))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=400, help="OPD batches (outbox rows) per run")
    parser.add_argument("--lines", type=int, default=25, help="lines per batch")
    parser.add_argument("--db", default=os.environ.get("GATEWAY_TEST_DATABASE_URL", DEFAULT_DB))
    args = parser.parse_args()

    from sqlalchemy import create_engine, func, select, text

    from gateway.store import make_engine
    from gateway.store.tables import outbox, payroll_ledger

    schema = f"bench_relay_{os.getpid()}"
    admin = create_engine(args.db)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    db_url = f"{args.db}{'&' if '?' in args.db else '?'}options=-csearch_path%3D{schema}"
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              cwd=ROOT, text=True)
    try:
        assert server.stdout is not None and server.stdin is not None
        payroll_url = json.loads(server.stdout.readline())["payroll_url"]
        engine = make_engine(db_url)
        parallelism = 4
        plain_rows = _enqueue(engine, "2026-01", args.batches, args.lines)
        n = len(plain_rows)
        lines = sum(len(r["payload"]["lines"]) for r in plain_rows)
        print(f"{n} payroll batches, {lines:,} lines, PostgreSQL, payroll mock over loopback HTTP")
        with engine.begin() as conn:  # the relays must not deliver the plain runs' rows
            conn.execute(payroll_ledger.delete().where(payroll_ledger.c.period == "2026-01"))
            conn.execute(outbox.delete().where(outbox.c.period == "2026-01"))
        seq = _plain(payroll_url, plain_rows, 1, "plain-")
        par = _plain(payroll_url, plain_rows, parallelism, "threads-")  # keys of its own: booked afresh
        _enqueue(engine, "2026-02", args.batches, args.lines)
        one, delivered_one = _relays(db_url, payroll_url, 1, parallelism)
        _enqueue(engine, "2026-03", args.batches, args.lines)
        two, delivered_two = _relays(db_url, payroll_url, 2, parallelism)
        _enqueue(engine, "2026-04", args.batches, args.lines)  # the same total concurrency as one relay
        halves, delivered_halves = _relays(db_url, payroll_url, 2, parallelism // 2)
        with engine.connect() as conn:
            not_once = conn.execute(select(func.count()).select_from(outbox).where(
                outbox.c.period.in_(["2026-02", "2026-03", "2026-04"]),
                (outbox.c.status != "delivered") | (outbox.c.attempts != 1))).scalar_one()
        server.stdin.write("stats\n")
        server.stdin.flush()
        stats = json.loads(server.stdout.readline())
        engine.dispose()
    finally:
        if server.stdin:
            server.stdin.write("quit\n")
            server.stdin.close()
        server.wait(timeout=30)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()

    print(f"plain httpx, sequential        {n / seq:8.1f} rows/s  ({seq:.2f} s)")
    print(f"plain httpx, {parallelism} threads         {n / par:8.1f} rows/s  ({par:.2f} s)")
    print(f"1 relay (parallelism {parallelism})       {n / one:8.1f} rows/s  ({one:.2f} s, {delivered_one} delivered)")
    print(f"2 relays (parallelism {parallelism} each)  {n / two:8.1f} rows/s  ({two:.2f} s, {delivered_two} delivered)")
    print(f"2 relays (parallelism {parallelism // 2} each)  {n / halves:8.1f} rows/s  ({halves:.2f} s, "
          f"{delivered_halves} delivered)")
    print(f"ratio 1 relay / plain {parallelism} threads: {par / one:.2f}; 1 relay / plain sequential: {seq / one:.2f}; "
          f"2 relays / 1 relay: {one / two:.2f} ({one / halves:.2f} at the same total concurrency)")
    print(f"rows not delivered exactly once: {not_once}; payroll lines booked twice: {stats['booked_twice']} "
          f"(of {stats['bookings']:,} bookings)")
    if not_once or stats["booked_twice"] or any(d != n for d in (delivered_one, delivered_two, delivered_halves)):
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve()
    elif sys.argv[1:2] == ["--relay-worker"]:
        relay_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
