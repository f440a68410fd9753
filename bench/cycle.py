"""Benchmark (not a test): one whole cycle of a generated city month, stage by stage, on the in-process mocks.

    python3 bench/cycle.py                                  # DKI 2026-03, 2,000 employees, SQLite in a temp dir
    python3 bench/cycle.py --employees 20000 --tenant metro
    python3 bench/cycle.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

The scenario is generated with `mocks.generator` (bad share 0.02) into a temporary file and loaded as the bundled
scenarios are; `MockWorld` serves it in process (no sockets) with the shipped defaults. The cycle runs as the daemon
runs it (`Pipeline.cycle`: sync, verify, compute, relay, in the order the tenant's scheme needs), each stage timed.

The raw baseline, measured in the same run and the same process: every e-Kinerja listing page of the month fetched
with the connector's own httpx client through the same transport (auth included) and parsed with `json.loads`,
nothing else: what merely reading the month costs. Printed: per stage seconds and share, records staged, documents
checked, results, the ratio sync / raw, and the process's peak RSS (ru_maxrss) after each stage.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway import logsetup  # noqa: E402
from gateway.bootstrap import build_mock_pipeline  # noqa: E402
from gateway.connectors.streams import STREAMS  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from mocks import MockWorld, Scenario  # noqa: E402
from mocks.generator import generate  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_read(pipeline: object, period: str) -> tuple[int, float]:
    """Every e-Kinerja listing page of the month, fetched and parsed, nothing else."""
    bkn = pipeline.bkn  # type: ignore[attr-defined]
    rows, started = 0, time.perf_counter()
    for stream in STREAMS.values():
        if stream.upstream != "ekinerja" or not stream.per_period or stream.cursor_field is None:
            continue
        size = stream.page_size or bkn.page_size
        params: dict[str, object] = {"periode": period, "limit": size}
        while True:  # keyset paging, as the connector pages
            response = bkn.client.get(f"{bkn.ekinerja_url}/{stream.path.lstrip('/')}", params=params)
            data = json.loads(response.content).get("data") or []
            rows += len(data)
            if len(data) < size:
                break
            last = data[-1]
            params["after"] = f"{last[stream.cursor_field]}|{next(last[k] for k in stream.ids if k in last)}"
    return rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", default="dki", choices=["dki", "metro", "pekalongan"])
    parser.add_argument("--employees", type=int, default=2000)
    parser.add_argument("--period", default="2026-03")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    logsetup.configure("WARNING")

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path = Path(tmp) / "scenario.json"
        with path.open("wb") as out:
            generate(args.tenant, args.employees, args.period, out=out)
        scenario = Scenario.load(path)
        world = MockWorld(scenario)
        print(f"{args.tenant} {args.period}, {args.employees:,} employees: scenario generated and loaded in "
              f"{time.perf_counter() - started:.1f} s ({path.stat().st_size / 2**20:,.0f} MiB of JSON); "
              f"peak RSS {peak_mib():,.0f} MiB")
        url = args.database_url or f"sqlite:///{Path(tmp) / 'gateway.db'}"
        pipeline = build_mock_pipeline(Settings(database_url=url), world, sleep=lambda _s: None)

        rows, raw = raw_read(pipeline, args.period)
        print(f"  raw read of the month's listings: {rows:,} rows in {raw:.2f} s ({rows / raw:,.0f} rows/s)")

        stages: list[tuple[str, float, str]] = []
        timed = {}
        for name in ("sync", "verify", "compute", "relay"):
            original = getattr(pipeline, name)

            def wrapper(*a: object, _name: str = name, _original: object = original) -> object:
                begun = time.perf_counter()
                result = _original(*a)  # type: ignore[operator]
                timed[_name] = timed.get(_name, 0.0) + time.perf_counter() - begun
                stages.append((_name, time.perf_counter() - begun, f"peak RSS {peak_mib():,.0f} MiB"))
                return result
            setattr(pipeline, name, wrapper)
        begun = time.perf_counter()
        report = pipeline.cycle(args.tenant, args.period)
        total = time.perf_counter() - begun
        staged = sum(c.new + c.changed + c.unchanged for c in report.sync.staged.values())
        for name, took, memory in stages:
            print(f"  {name:8} {took:8.2f} s  {took / total:5.1%}  {memory}")
        print(f"  cycle    {total:8.2f} s  records staged {staged:,}, quarantined {report.sync.quarantined:,}; "
              f"documents checked {report.verify.checked:,}; results {report.compute.results:,}, "
              f"held {report.compute.held:,}; outbox rows delivered {report.relay.delivered:,}")
        print(f"  sync / raw read: {timed['sync'] / raw:.2f}; peak RSS {peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
