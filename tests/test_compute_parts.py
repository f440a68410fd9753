"""Compute in parts in production: a period bigger than `compute_max_employees` is read and computed one part at a
time, each part committed as it is computed, and everything it writes (results, holds, quarantine, payroll
batches, feed events) is what the whole period computed at once writes, for each of the three cities; a run killed
between parts leaves the parts it committed, decides nothing about the rest, and the next run ends where an
unkilled run ends, booking nothing twice."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import select

from gateway.bootstrap import build_mock_pipeline
from gateway.settings import Settings
from gateway.stages import compute as pipeline_module
from gateway.store import repository as repo
from gateway.store.tables import outbox
from mocks import Fault, MockWorld, Scenario
from tests.conftest import FakeClock


def _written(scenario: Scenario, clock: FakeClock, max_employees: int | None,
             parts_seen: list[int]) -> dict[str, Any]:
    world = MockWorld(scenario)
    # The documents after the first half cannot be fetched: some employees held, for the holds to compare too
    # (one at a time, so that the same documents fail in both runs).
    world.faults.set("ekinerja.dokumen", Fault(kind="error", after=len(scenario.evidence) // 2))
    pipeline = build_mock_pipeline(Settings(database_url="sqlite://", compute_max_employees=max_employees,
                                            verify_concurrency=1), world, clock=clock, sleep=lambda _s: None)
    tenant, period = scenario.tenant, scenario.period
    pipeline.sync(tenant, period)
    pipeline.verify(tenant, period)
    original = pipeline_module.compute_in_parts

    def counting(scheme: Any, parts: Any, settings: Any, **kwargs: Any) -> Any:
        def counted() -> Any:
            for part in parts:
                parts_seen.append(len(part.employees))
                yield part
        return original(scheme, counted(), settings, **kwargs)

    pipeline_module.compute_in_parts = counting
    try:
        report = pipeline.compute(tenant, period)
    finally:
        pipeline_module.compute_in_parts = original
    with pipeline.engine.connect() as conn:
        results = [r.model_dump(mode="json") for r in repo.load_results(conn, tenant, period)]
        quarantine = sorted((q["record_kind"], q["record_id"], q["rule"], q["message"])
                            for q in repo.list_quarantine(conn, tenant))
        every = list(conn.execute(select(outbox.c.destination, outbox.c.idempotency_key, outbox.c.payload)))
    # Payroll and SPBE rows compared row for row (a part is whole OPDs: an OPD's batch is one part's); feed events
    # one by one (each part's events go in rows of their own, so the rows group them differently).
    # The audit head sent to SPBE after compute is left out: parts append the same entries in another order, so
    # the chain (and its head) differs while every entry is the same.
    heads = [k for _d, k, _p in every if ":spbe:head:" in k]
    assert len(heads) == 1
    rows = sorted((d, k, json.dumps(p, sort_keys=True)) for d, k, p in every if d != "feed" and k not in heads)
    # An event's `audit_hash` names its entry in the tenant's hash chain, whose hashes depend on the order entries
    # were appended in (part by part or whole): left out here; the chain has its own tests (test_audit.py).
    events = sorted(json.dumps({**e, "data": {k: v for k, v in e["data"].items() if k != "audit_hash"}},
                               sort_keys=True) for d, _k, p in every if d == "feed" for e in p["events"])
    digest = hashlib.sha256(json.dumps([results, quarantine, rows, events]).encode()).hexdigest()
    return {"digest": digest, "results": len(results), "held": report.held, "rows": len(rows),
            "events": len(events), "destinations": {d for d, _, _ in every}}


@pytest.mark.parametrize("tenant,max_employees", [("metro", 40), ("dki", 8), ("pekalongan", 5)])
def test_parts_write_exactly_what_the_whole_period_writes(tenant: str, max_employees: int,
                                                          clock: FakeClock) -> None:
    scenario = Scenario.bundled(tenant)
    whole_parts: list[int] = []
    whole = _written(scenario, clock, None, whole_parts)
    split_parts: list[int] = []
    split = _written(scenario, clock, max_employees, split_parts)
    assert len(whole_parts) == 1
    if tenant == "pekalongan":  # its scheme says no partition: computed whole whatever the setting
        assert len(split_parts) == 1
    else:
        assert len(split_parts) > 1 and max(split_parts) < sum(split_parts)
    assert whole["results"] > 0 and whole["rows"] > 0
    assert split == whole
    if tenant != "dki":  # DKI reads no verdicts and holds nobody
        assert whole["held"] > 0  # the holds were compared too
    if tenant == "dki":
        assert "feed" in whole["destinations"]  # closure candidates and results on the feed, compared


class _Killed(Exception):
    pass


def test_a_run_killed_between_parts_keeps_what_it_committed_and_the_next_run_ends_as_an_unkilled_one(
        clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from collections import Counter

    from gateway.store.tables import audit_log

    scenario = Scenario.bundled("metro")
    world = MockWorld(scenario)
    pipeline = build_mock_pipeline(Settings(database_url="sqlite://", compute_max_employees=15), world, clock=clock,
                                   sleep=lambda _s: None)
    pipeline.sync("metro", "2026-03")
    pipeline.verify("metro", "2026-03")
    reading = repo.iter_period
    seen: list[set[str]] = []

    def killed_after_two(*args: Any, **kwargs: Any) -> Any:
        for part in reading(*args, **kwargs):
            if len(seen) == 2:
                raise _Killed  # the process dies while the third part is read
            seen.append({e.nip for e in part.employees})
            yield part

    monkeypatch.setattr(repo, "iter_period", killed_after_two)
    with pytest.raises(_Killed):
        pipeline.compute("metro", "2026-03")
    monkeypatch.setattr(repo, "iter_period", reading)
    with pipeline.engine.connect() as conn:
        kept = {r.nip for r in repo.load_results(conn, "metro", "2026-03")}
        opds = {r.opd_id for r in repo.load_results(conn, "metro", "2026-03")}
        payroll = [p for d, p in conn.execute(select(outbox.c.destination, outbox.c.payload)) if d == "payroll"]
        assert repo.list_quarantine(conn, "metro", "2026-03") == []  # decided only once every part is in
    assert kept and kept <= seen[0] | seen[1] and len(seen) == 2 and payroll
    assert {p["opd_id"] for p in payroll} <= opds  # the committed parts' OPDs only, each batch whole
    report = pipeline.compute("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        results = {r.nip: r.amount for r in repo.load_results(conn, "metro", "2026-03")}
        rows = [p for d, p in conn.execute(select(outbox.c.destination, outbox.c.payload)) if d == "payroll"]
        audited = Counter(s for (s,) in conn.execute(select(audit_log.c.subject).where(
            audit_log.c.action == "result.computed")))
    assert set(audited.values()) == {1}  # each result audited once over both runs
    assert len(rows) == len({p["opd_id"] for p in rows}) == 4  # one batch per OPD over both runs
    booked = Counter()
    for row in rows:
        for line in row["lines"]:
            booked[line["nip"]] += line["amount"]
    assert {n: a for n, a in booked.items() if a} == {n: a for n, a in results.items() if a}
    assert report.results == len(results)
