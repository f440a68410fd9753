"""Benchmark (not a test): compute a Metro month and a DKI quarter for 65,000 employees from the store.

    python3 bench/compute_65k.py                                  # both, 65,000 employees, SQLite in a temp dir
    python3 bench/compute_65k.py --employees 10000 --only dki     # a smaller run of one scenario
    python3 bench/compute_65k.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
    python3 bench/compute_65k.py --database-url sqlite:////tmp/b.db --skip-stage   # reuse what a run staged
    python3 bench/compute_65k.py --before metro                   # also the previous loader, for comparison

Scenarios: `metro` 2026-03 (generated with bad share 0.02) and `dki` 2026-Q1 (bad share 0.02), each staged from
`mocks.generator.iter_records` with the store's own `repository.stage` (bench/_staging.py: chunks of 5,000 rows,
one transaction each; evidence checks judged once per pool document, see there). Settings: the shipped defaults
(gateway/defaults.toml). Each phase runs in a subprocess of its own, so its peak memory is that process's
high-water mark (ru_maxrss, i.e. VmHWM; "over" = above the process's size after imports, before the phase):

  stage    generate and stage the inputs (set-up: printed, not part of the comparison)
  raw      the baseline: fetch the payload text of the rows the scheme reads and parse it with orjson, nothing else
  load     `repository.load_period(..., kinds=scheme.inputs)`: the domain records, whole period
  compute  the whole period: `repository.iter_period` (one part) and `compute_in_parts` (`scheme.compute` with
           cyclic GC paused); employees in a supervisor cycle are taken out first, as the pipeline does
  parts    the same in parts: `plan_parts` (groups of at most --max-employees NIPs; DKI: whole OPD subtrees), then
           `iter_period` and `compute_in_parts`, one part in memory at a time
  before   (--before) the previous loader (every kind, `model_validate` row by row) + compute, for comparison

Printed per scenario: records, times, peak memory, load/raw and compute/load ratios (aim: compute adds less than the
load takes), results, total rupiah, problems, and whether the whole and the parts give the same outcome (a digest of
every result and problem).

Figures measured on a 2-core machine, 65,000 employees, SQLite (see the report of
issue 5 for the full output):
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SCENARIOS = {"metro": ("metro", "2026-03"), "dki": ("dki", "2026-Q1")}
BAD_SHARE = 0.02


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def scheme_and_settings(tenant: str) -> tuple[Any, Any]:
    from gateway.mappings import get_scheme
    from gateway.settings import DEFAULTS_FILE

    config = tomllib.loads(DEFAULTS_FILE.read_text())["tenants"][tenant]
    scheme = get_scheme(config["scheme"])
    return scheme, scheme.settings_model.model_validate(config.get("settings", {}))


def digest(outcome: Any) -> str:
    """Every result and problem, in order, hashed: equal digests mean equal outcomes."""
    import orjson

    h = hashlib.sha256()
    for r in outcome.results:
        h.update(orjson.dumps([r.nip, r.opd_id, r.amount, r.ceiling, r.score, r.status.value, r.settings_version,
                               [[ln.code, ln.text, list(ln.refs), ln.rupiah] for ln in r.lines],
                               list(r.input_ids), r.metrics]))
    for p in outcome.problems:
        h.update(orjson.dumps([p.record_kind, p.record_id, p.rule, p.message, p.nip]))
    return h.hexdigest()[:16]


def without_cycles(data: Any) -> tuple[Any, list[Any]]:
    """What the pipeline does before any scheme runs: employees in a supervisor cycle are quarantined."""
    from gateway.domain.validation import supervisor_cycles

    cycles = supervisor_cycles(data.employees)
    if not cycles:
        return data, []
    looped = {p.record_id for p in cycles}
    return data.model_copy(update={"employees": tuple(e for e in data.employees if e.nip not in looped)}), cycles


def summary(outcome: Any) -> dict[str, Any]:
    return {"results": len(outcome.results), "rupiah": sum(r.amount for r in outcome.results),
            "problems": len(outcome.problems), "digest": digest(outcome)}


# phases (each in its own process) ------------------------------------------------------------------------------
def phase_stage(args: argparse.Namespace) -> dict[str, Any]:
    from _staging import stage_generated

    from gateway.store import make_engine

    tenant, period = SCENARIOS[args.scenario]
    engine = make_engine(args.database_url)
    stats = stage_generated(engine, tenant, args.employees, period, seed=args.seed, bad_share=BAD_SHARE,
                            progress=lambda line: print(f"    {line}", file=sys.stderr, flush=True))
    return {"seconds": stats.seconds, "staged": dict(stats.staged), "checks": stats.checks,
            "skipped": dict(stats.skipped), "transactions": stats.transactions}


def phase_raw(args: argparse.Namespace) -> dict[str, Any]:
    import orjson
    from sqlalchemy import Text, cast, select

    from gateway.domain import Period
    from gateway.store import make_engine
    from gateway.store.tables import evidence_checks, records

    tenant, period = SCENARIOS[args.scenario]
    scheme, _ = scheme_and_settings(tenant)
    months = Period.parse(period).months()
    engine = make_engine(args.database_url, migrate=False)
    rows = 0
    started = time.perf_counter()
    with engine.connect() as conn:
        for kind in sorted(scheme.inputs - {"check"}):
            query = select(cast(records.c.payload, Text)).where(records.c.tenant == tenant, records.c.kind == kind)
            if kind not in ("unit", "employee"):
                query = query.where(records.c.period.in_(months))
            result = conn.execute(query.order_by(records.c.id).execution_options(stream_results=True,
                                                                                 yield_per=10_000))
            for batch in result.partitions():
                for (text,) in batch:
                    orjson.loads(text)
                rows += len(batch)
        if "check" in scheme.inputs:
            c = evidence_checks.c
            result = conn.execute(select(c.evidence_id, c.actual_sha256, c.tte, c.tte_description).where(
                c.tenant == tenant, c.period.in_(months)).execution_options(stream_results=True, yield_per=10_000))
            for batch in result.partitions():
                rows += len(batch)
    return {"seconds": time.perf_counter() - started, "rows": rows}


def phase_load(args: argparse.Namespace) -> dict[str, Any]:
    from gateway.store import make_engine
    from gateway.store import repository as repo

    tenant, period = SCENARIOS[args.scenario]
    scheme, _ = scheme_and_settings(tenant)
    engine = make_engine(args.database_url, migrate=False)
    started = time.perf_counter()
    with engine.connect() as conn:
        data = repo.load_period(conn, tenant, period, kinds=scheme.inputs)
    seconds = time.perf_counter() - started
    counts = {name: len(getattr(data, name)) for name in ("units", "employees", "indicators", "activities",
                                                           "evidence", "approvals", "checks")}
    return {"seconds": seconds, "rows": sum(counts.values()), "counts": counts}


def compute_from_store(args: argparse.Namespace, split: bool) -> dict[str, Any]:
    """What the pipeline's compute step does, on one code path whole or in parts: plan the parts (none when whole),
    read them with `iter_period` and compute them with `compute_in_parts`; supervisor cycles are taken out first."""
    from gateway.domain.validation import supervisor_cycles
    from gateway.mappings import compute_in_parts, plan_parts
    from gateway.store import make_engine
    from gateway.store import repository as repo

    tenant, period = SCENARIOS[args.scenario]
    scheme, settings = scheme_and_settings(tenant)
    engine = make_engine(args.database_url, migrate=False)
    load_s = 0.0
    started = time.perf_counter()
    with engine.connect() as conn:
        employees = repo.staged(conn, tenant, "employee")
        cycles = supervisor_cycles(employees)
        looped = {p.record_id for p in cycles}
        groups = None
        if split:
            groups = plan_parts(scheme, repo.staged(conn, tenant, "unit"),
                                [e for e in employees if e.nip not in looped], settings, args.max_employees)
        del employees
        planned = time.perf_counter()
        parts = repo.iter_period(conn, tenant, period, groups, kinds=scheme.inputs)

        def timed_parts() -> Any:
            nonlocal load_s
            while True:
                begun = time.perf_counter()
                part = next(parts, None)
                load_s += time.perf_counter() - begun
                if part is None:
                    return
                if looped:
                    part = part.model_copy(update={"employees": tuple(e for e in part.employees
                                                                      if e.nip not in looped)})
                yield part
                del part

        outcome = compute_in_parts(scheme, timed_parts(), settings)
        outcome.problems.extend(cycles)
    total = time.perf_counter() - started
    plan_s = planned - started
    return {"plan_s": plan_s, "load_s": load_s, "compute_s": total - plan_s - load_s, "seconds": total,
            "groups": len(groups) if groups else 1, "largest": max(len(g) for g in groups) if groups else None,
            **summary(outcome)}


def phase_compute(args: argparse.Namespace) -> dict[str, Any]:
    return compute_from_store(args, split=False)


def phase_parts(args: argparse.Namespace) -> dict[str, Any]:
    return compute_from_store(args, split=True)


def phase_before(args: argparse.Namespace) -> dict[str, Any]:
    """The loader as it was before issue 5: every kind, the JSON column decoded by SQLAlchemy, `model_validate`
    row by row, `EvidenceCheck(...)` per check, then `PeriodData(...)` validated."""
    from sqlalchemy import select

    from gateway.domain import EvidenceCheck, Period, PeriodData
    from gateway.store import make_engine
    from gateway.store.repository import KINDS
    from gateway.store.tables import evidence_checks, records

    tenant, period = SCENARIOS[args.scenario]
    scheme, settings = scheme_and_settings(tenant)
    engine = make_engine(args.database_url, migrate=False)

    def staged(conn: Any, kind: str, months: list[str] | None = None) -> list[Any]:
        query = select(records.c.payload).where(records.c.tenant == tenant, records.c.kind == kind)
        if months is not None:
            query = query.where(records.c.period.in_(months))
        return [KINDS[kind].model_validate(p) for (p,) in conn.execute(query.order_by(records.c.id))]

    months = Period.parse(period).months()
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(select(evidence_checks).where(
            evidence_checks.c.tenant == tenant, evidence_checks.c.period.in_(months))).mappings()
        checks = [EvidenceCheck(evidence_id=r["evidence_id"], actual_sha256=r["actual_sha256"], tte=r["tte"],
                                tte_description=r["tte_description"]) for r in rows]
        data = PeriodData(tenant=tenant, period=period, units=tuple(staged(conn, "unit")),
                          employees=tuple(staged(conn, "employee")),
                          indicators=tuple(staged(conn, "indicator", months)),
                          activities=tuple(staged(conn, "activity", months)),
                          evidence=tuple(staged(conn, "evidence", months)),
                          approvals=tuple(staged(conn, "approval", months)), checks=tuple(checks),
                          attendance=tuple(staged(conn, "attendance", months)),
                          programmes=tuple(staged(conn, "programme", months)))
    loaded = time.perf_counter()
    data, cycles = without_cycles(data)
    outcome = scheme.compute(data, settings)
    outcome.problems.extend(cycles)
    done = time.perf_counter()
    return {"load_s": loaded - started, "compute_s": done - loaded, **summary(outcome)}


PHASES = {"stage": phase_stage, "raw": phase_raw, "load": phase_load, "compute": phase_compute,
          "parts": phase_parts, "before": phase_before}


def run_phase(args: argparse.Namespace, phase: str, scenario: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", phase, "--scenario", scenario, "--database-url",
               args.database_url, "--employees", str(args.employees), "--seed", str(args.seed),
               "--max-employees", str(args.max_employees)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} of {scenario} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


# the report -----------------------------------------------------------------------------------------------------
def mem(figures: dict[str, Any]) -> str:
    return f"{figures['peak_mib']:7,.0f} MiB peak ({figures['peak_mib'] - figures['base_mib']:,.0f} over)"


def report(args: argparse.Namespace, scenario: str) -> None:
    tenant, period = SCENARIOS[scenario]
    print(f"\n{scenario}: {args.employees:,} employees, {period}, seed {args.seed}, bad share {BAD_SHARE}",
          flush=True)
    if not args.skip_stage:
        st = run_phase(args, "stage", scenario)
        staged = sum(st["staged"].values())
        print(f"  stage     {st['seconds']:8.1f} s   {staged:,} records + {st['checks']:,} checks in "
              f"{st['transactions']:,} transactions ({(staged + st['checks']) / st['seconds']:,.0f} rows/s, "
              f"generation included); {st['staged']}; duplicate copies skipped {st['skipped']}; {mem(st)}",
              flush=True)
    raw = run_phase(args, "raw", scenario)
    print(f"  raw       {raw['seconds']:8.1f} s   {raw['rows']:,} rows fetched and parsed (orjson), "
          f"no records; {mem(raw)}", flush=True)
    load = run_phase(args, "load", scenario)
    print(f"  load      {load['seconds']:8.1f} s   {load['rows']:,} records "
          f"({load['rows'] / load['seconds']:,.0f}/s) {load['counts']}; {mem(load)}", flush=True)
    comp = run_phase(args, "compute", scenario)
    print(f"  compute   {comp['seconds']:8.1f} s   whole period: employees and cycles {comp['plan_s']:.1f} s + load "
          f"{comp['load_s']:.1f} s + compute {comp['compute_s']:.1f} s; {mem(comp)}", flush=True)
    parts = run_phase(args, "parts", scenario)
    print(f"  parts     {parts['seconds']:8.1f} s   {parts['groups']} parts (largest {parts['largest']} NIPs): "
          f"employees, cycles, partition {parts['plan_s']:.1f} s + load {parts['load_s']:.1f} s + compute "
          f"{parts['compute_s']:.1f} s; {mem(parts)}", flush=True)
    before = run_phase(args, "before", scenario) if args.before is not None and (
        not args.before or scenario in args.before) else None
    if before:
        print(f"  before    {before['load_s'] + before['compute_s']:8.1f} s   previous loader: load "
              f"{before['load_s']:.1f} s (every kind) + compute {before['compute_s']:.1f} s; {mem(before)}",
              flush=True)
    print(f"  ratios    load / raw {load['seconds'] / raw['seconds']:.2f}; compute / load "
          f"{comp['compute_s'] / comp['load_s']:.2f} (whole), {parts['compute_s'] / parts['load_s']:.2f} (parts)"
          + (f"; previous load / load {before['load_s'] / load['seconds']:.2f}" if before else ""))
    print(f"  outcome   {comp['results']:,} results, Rp {comp['rupiah']:,}, {comp['problems']:,} problems; "
          f"digest whole {comp['digest']}, parts {parts['digest']}"
          + (f", before {before['digest']}" if before else ""))
    same = comp["digest"] == parts["digest"] and (before is None or before["digest"] == comp["digest"])
    print(f"  same outcome whole / parts{' / before' if before else ''}: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=65_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=sorted(SCENARIOS), help="one scenario (default: both)")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--skip-stage", action="store_true", help="the database holds the inputs already")
    parser.add_argument("--max-employees", type=int, default=5_000, help="NIPs per part in the parts phase")
    parser.add_argument("--before", nargs="*", choices=sorted(SCENARIOS), default=None, metavar="SCENARIO",
                        help="also the previous loader, for these scenarios (none named: all); it needs much memory")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:  # a subprocess: one phase, figures as one JSON line
        import logging

        logging.getLogger().setLevel(logging.ERROR)
        import gateway.domain  # noqa: F401 - imports done before the base line is taken
        import gateway.mappings  # noqa: F401
        import gateway.store  # noqa: F401

        base = peak_mib()
        figures = PHASES[args.phase](args)
        print(json.dumps({**figures, "base_mib": base, "peak_mib": peak_mib()}, default=str), flush=True)
        return

    workdir = None
    if args.database_url is None:
        if args.skip_stage:
            parser.error("--skip-stage needs --database-url")
        workdir = tempfile.mkdtemp(prefix="bench-compute-")
        args.database_url = f"sqlite:///{workdir}/gateway.db"
    print(f"database {args.database_url}; phases in subprocesses, peak memory = ru_maxrss of each", flush=True)
    try:
        for scenario in [args.only] if args.only else list(SCENARIOS):
            report(args, scenario)
    finally:
        if workdir is not None:
            for name in os.listdir(workdir):
                os.remove(os.path.join(workdir, name))
            os.rmdir(workdir)


if __name__ == "__main__":
    main()
