"""Benchmark (not a test): one whole cycle of a generated city month against `gateway mock serve` over loopback.

    python3 bench/cycle.py                                   # DKI 2026-03, 65,000 employees, SQLite in a temp dir
    python3 bench/cycle.py --tenant metro --employees 65000
    python3 bench/cycle.py --employees 2000 --verify-documents 0          # verify every document
    python3 bench/cycle.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

The month is generated with `mocks.generator` (bad share 0.02) into a temporary file and served by
`gateway mock serve --scenario FILE` in a process of its own (its memory is not the gateway's). This process then
runs the gateway as the daemon does, over real HTTP with the shipped defaults, stage by stage in the order the
tenant's scheme needs (DKI: sync, compute, relay, then verification as the backlog stage; Metro: sync, verify,
compute, relay). `--verify-documents N` stops verification after N documents (as a kill would; what was committed
stays) and reports the rate over them; 0 verifies all.

Baselines, measured in the same run against the same server:

  raw sync floor   every e-Kinerja listing page of the month fetched with plain httpx and `json.loads`, each row
                   validated once by its wire model, and the rows bulk-inserted with SQLAlchemy Core into a scratch
                   table of the same database kind, each part timed and added up;
  raw documents    plain httpx GETs of the first documents verification asked for, as many, on as many threads
                   as `verify_concurrency`.

Printed: per stage seconds, records/s or documents/s, the ratio to its baseline, and the gateway process's peak RSS
(ru_maxrss) after each stage; a last line with the totals.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_server(scenario: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    env_file = tmp / "mock.env"
    server = subprocess.Popen([sys.executable, "-c", "from gateway.cli import app; app()", "mock", "serve",
                               "--scenario", str(scenario), "--port", "0", "--env-file", str(env_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 3600
    while not env_file.exists():
        if server.poll() is not None:
            raise SystemExit(f"the mock server stopped: {server.stderr.read().decode() if server.stderr else ''}")
        if time.monotonic() > deadline:
            raise SystemExit("the mock server did not start within an hour")
        time.sleep(0.5)
    time.sleep(0.5)  # the env file is written just before uvicorn starts serving
    env = {}
    for line in env_file.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value
    return server, env


def raw_sync_floor(pipeline: Any, period: str, url: str) -> dict[str, float]:
    """Fetch-and-parse, one wire validation, a Core bulk insert: each part timed, for every per-month listing."""
    import httpx
    from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, insert

    from gateway.connectors.streams import STREAMS

    bkn = pipeline.bkn
    metadata = MetaData()
    scratch = Table("bench_raw_rows", metadata, Column("n", Integer, primary_key=True, autoincrement=True),
                    Column("kind", String(32)), Column("id", String(128)), Column("payload", Text))
    engine = create_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    spent = {"fetch": 0.0, "parse": 0.0, "validate": 0.0, "insert": 0.0, "rows": 0}
    headers = {k: v for k, v in bkn.client.headers.items()}
    with httpx.Client(timeout=120, headers=headers, auth=bkn.client.auth) as client:
        for stream in STREAMS.values():
            if stream.upstream != "ekinerja" or not stream.per_period or stream.cursor_field is None:
                continue
            size = stream.page_size or bkn.page_size
            params: dict[str, Any] = {"periode": period, "limit": size}
            while True:
                begun = time.perf_counter()
                response = client.get(f"{bkn.ekinerja_url}/{stream.path.lstrip('/')}", params=params)
                fetched = time.perf_counter()
                data = json.loads(response.content).get("data") or []
                parsed = time.perf_counter()
                for row in data:
                    try:
                        stream.wire.model_validate(row)
                    except ValueError:
                        pass
                validated = time.perf_counter()
                with engine.begin() as conn:
                    conn.execute(insert(scratch), [{"kind": stream.name, "id": str(r.get("id")),
                                                    "payload": json.dumps(r)} for r in data])
                inserted = time.perf_counter()
                spent["fetch"] += fetched - begun
                spent["parse"] += parsed - fetched
                spent["validate"] += validated - parsed
                spent["insert"] += inserted - validated
                spent["rows"] += len(data)
                if len(data) < size:
                    break
                last = data[-1]
                params["after"] = f"{last[stream.cursor_field]}|{next(last[k] for k in stream.ids if k in last)}"
    metadata.drop_all(engine)
    engine.dispose()
    return spent


def raw_documents(pipeline: Any, ids: list[str], concurrency: int) -> float:
    """Plain GETs of these documents on `concurrency` threads (the connector's httpx client, auth included)."""
    bkn = pipeline.bkn
    begun = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        sum(pool.map(lambda i: len(bkn.client.get(f"{bkn.ekinerja_url}/bukti/{i}/dokumen").content), ids))
    return time.perf_counter() - begun


class _Stop(Exception):
    """Verification stopped after the sample, as a kill would."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", default="dki", choices=["dki", "metro", "pekalongan"])
    parser.add_argument("--employees", type=int, default=65_000)
    parser.add_argument("--period", default="2026-03")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--verify-documents", type=int, default=20_000,
                        help="stop verification after this many documents (0: all)")
    args = parser.parse_args()

    from gateway import logsetup
    from gateway.bootstrap import build_pipeline
    from gateway.settings import Settings
    from mocks.generator import generate

    logsetup.configure("WARNING")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        path = tmp / "scenario.json"
        with path.open("wb") as out:
            generate(args.tenant, args.employees, args.period, out=out)
        generated = time.perf_counter() - started
        server, env = start_server(path, tmp)
        try:
            os.environ.update(env)
            url = args.database_url or f"sqlite:///{tmp / 'gateway.db'}"
            # The mock unpaced: the bench measures the gateway. With SIASN's 1/second budget a sync's per-employee
            # lookups (300 employees, two requests each) alone would take ten minutes of waiting.
            settings = Settings(database_url=url, rate_limits={})
            pipeline = build_pipeline(settings)
            print(f"{args.tenant} {args.period}, {args.employees:,} employees: generated in {generated:.0f} s "
                  f"({path.stat().st_size / 2**20:,.0f} MiB of JSON), served by `gateway mock serve` (ready after "
                  f"{time.perf_counter() - started - generated:.0f} s); database {url.split(':')[0]}; "
                  f"verify_concurrency {settings.verify_concurrency}")
            floor = raw_sync_floor(pipeline, args.period, url)
            raw_sync = floor["fetch"] + floor["parse"] + floor["validate"] + floor["insert"]
            print(f"  raw sync floor   {raw_sync:8.1f} s  {floor['rows'] / raw_sync:9,.0f} rows/s  (fetch "
                  f"{floor['fetch']:.1f} + parse {floor['parse']:.1f} + validate {floor['validate']:.1f} + insert "
                  f"{floor['insert']:.1f} s, {floor['rows']:,.0f} rows)  peak RSS {peak_mib():,.0f} MiB")
            run(pipeline, args, raw_sync, floor["rows"])
        finally:
            server.terminate()
            server.wait(timeout=60)


def run(pipeline: Any, args: argparse.Namespace, raw_sync: float, raw_rows: float) -> None:
    tenant, period = args.tenant, args.period
    concurrency = pipeline.settings.verify_concurrency
    fetched: list[str] = []
    lock = threading.Lock()
    original = pipeline.bkn.document

    def document(evidence_id: str) -> bytes | None:
        with lock:
            if args.verify_documents and len(fetched) >= args.verify_documents:
                raise _Stop
            fetched.append(evidence_id)
        return original(evidence_id)

    pipeline.bkn.document = document
    totals: dict[str, float] = {}

    def stage(name: str, call: Any) -> Any:
        begun = time.perf_counter()
        try:
            report = call()
        except _Stop:
            report = None
        took = time.perf_counter() - begun
        totals[name] = totals.get(name, 0.0) + took
        if name == "sync":
            staged = sum(c.new + c.changed + c.unchanged for c in report.staged.values())
            print(f"  sync             {took:8.1f} s  {staged / took:9,.0f} rows/s  ratio to raw floor "
                  f"{raw_sync / took:4.2f} (aim >= 0.5)  staged {staged:,}, quarantined {report.quarantined:,}  "
                  f"peak RSS {peak_mib():,.0f} MiB")
        elif name == "verify":
            done = len(fetched)
            sample = fetched[:done]
            raw = raw_documents(pipeline, sample, concurrency) if sample else 0.0
            label = "verify (backlog)" if not pipeline.reads_evidence(tenant) else "verify"
            stopped = f", stopped after {done:,} as asked" if report is None else ""
            print(f"  {label:16} {took:8.1f} s  {done / took:9,.0f} docs/s  ratio to raw GETs at {concurrency} "
                  f"threads {raw / took if took else 0:4.2f} (aim >= 0.5; raw {done / raw if raw else 0:,.0f} docs/s)"
                  f"{stopped}  peak RSS {peak_mib():,.0f} MiB")
        elif name == "compute":
            print(f"  compute          {took:8.1f} s  {report.results / took:9,.0f} employees/s  results "
                  f"{report.results:,}, held {report.held:,}, quarantined {report.quarantined:,}  "
                  f"peak RSS {peak_mib():,.0f} MiB")
        else:
            print(f"  relay            {took:8.1f} s  delivered {report.delivered:,} outbox rows  "
                  f"peak RSS {peak_mib():,.0f} MiB")
        return report

    stage("sync", lambda: pipeline.sync(tenant, period))
    if pipeline.reads_evidence(tenant):
        stage("verify", lambda: pipeline.verify(tenant, period))
        stage("compute", lambda: pipeline.compute(tenant, period))
        stage("relay", pipeline.relay)
        critical = sum(totals.values())
    else:
        stage("compute", lambda: pipeline.compute(tenant, period))
        stage("relay", pipeline.relay)
        critical = sum(totals.values())
        stage("verify", lambda: pipeline.verify(tenant, period))
    print(f"  total {sum(totals.values()):.1f} s; to payroll (critical path) {critical:.1f} s (aim < 600 s); "
          f"gateway peak RSS {peak_mib():,.0f} MiB (aim < 1,024); raw rows {raw_rows:,.0f}")


if __name__ == "__main__":
    main()
