"""Benchmark (not a test): verification of a generated month, one document at a time and in parallel.

    python3 bench/verify.py                                   # DKI, 2,000 employees, 2026-03, 5 ms per document
    python3 bench/verify.py --employees 500 --latency 0.01 --concurrency 1 4 8 16

A generated scenario is synced into SQLite in a temp dir, then verified by `Pipeline.verify` on the in-process mocks
with `verify_concurrency` set to each value asked for (the evidence checks are emptied between runs, and each run
gets a fresh pipeline, so no in-memory verdict cache carries over). Every document fetch waits `--latency` seconds
(the mocks' `slow` fault, real sleep): the stand-in for e-Kinerja's round trip, without which an in-process mock
answers in microseconds and nothing is there to overlap.

The raw baseline, measured in the same run: the same documents fetched one at a time with the connector's own httpx
client (same transport, auth and latency) and hashed, nothing else: no BSrE, no store. Printed per run: seconds,
documents/s, the ratio to the raw baseline (below 1 is faster than fetching in a row) and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from hashlib import sha256
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, select  # noqa: E402

from gateway import logsetup  # noqa: E402
from gateway.bootstrap import build_mock_pipeline  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.store.tables import evidence_checks, records  # noqa: E402
from mocks import Fault, MockWorld, Scenario  # noqa: E402
from mocks.generator import generate  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", default="dki")
    parser.add_argument("--employees", type=int, default=2000)
    parser.add_argument("--period", default="2026-03")
    parser.add_argument("--latency", type=float, default=0.005, help="seconds each document fetch waits")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    logsetup.configure("WARNING")  # the gateway's logs on stderr, warnings only

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.json"
        with path.open("wb") as out:
            generate(args.tenant, args.employees, args.period, out=out)
        scenario = Scenario.load(path)
        world = MockWorld(scenario)
        url = f"sqlite:///{Path(tmp) / 'gateway.db'}"

        def pipeline(concurrency: int):  # type: ignore[no-untyped-def]
            return build_mock_pipeline(Settings(database_url=url, verify_concurrency=concurrency), world,
                                       sleep=lambda _s: None)

        started = time.perf_counter()
        first = pipeline(1)
        first.sync(args.tenant, args.period)
        with first.engine.connect() as conn:
            ids = [i for (i,) in conn.execute(select(records.c.id).where(
                records.c.tenant == args.tenant, records.c.kind == "evidence", records.c.period == args.period))]
        print(f"{args.tenant} {args.period}, {args.employees:,} employees: {len(ids):,} evidence documents "
              f"(sync {time.perf_counter() - started:.1f} s); document latency {args.latency * 1000:.0f} ms")
        world.faults.set("ekinerja.dokumen", Fault(kind="slow", delay=args.latency))

        started = time.perf_counter()
        for evidence_id in ids:  # the raw baseline: fetch and hash, one at a time
            response = first.bkn.client.get(f"{first.bkn.ekinerja_url}/bukti/{evidence_id}/dokumen")
            sha256(response.content).hexdigest()
        raw = time.perf_counter() - started
        print(f"  raw fetch+hash, one at a time: {raw:6.2f} s  {len(ids) / raw:8,.0f} docs/s")

        for concurrency in args.concurrency:
            with first.engine.begin() as conn:
                conn.execute(delete(evidence_checks).where(evidence_checks.c.tenant == args.tenant))
            run = pipeline(concurrency)
            asked = world.tte.calls
            started = time.perf_counter()
            report = run.verify(args.tenant, args.period)
            took = time.perf_counter() - started
            print(f"  verify, concurrency {concurrency:2}:     {took:6.2f} s  {report.checked / took:8,.0f} docs/s"
                  f"  ratio to raw {took / raw:5.2f}  BSrE asked {world.tte.calls - asked:,}  "
                  f"reused {report.reused:,}  peak RSS {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
