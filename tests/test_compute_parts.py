"""Compute in parts in production: a period bigger than `compute_max_employees` is read and computed one part at a
time, and everything it writes (results, holds, quarantine, payroll batches, feed events) is what the whole period
computed at once writes, for each of the three cities."""

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
        rows = sorted((d, k, json.dumps(p, sort_keys=True)) for d, k, p in conn.execute(
            select(outbox.c.destination, outbox.c.idempotency_key, outbox.c.payload)))
    digest = hashlib.sha256(json.dumps([results, quarantine, rows]).encode()).hexdigest()
    return {"digest": digest, "results": len(results), "held": report.held, "rows": len(rows),
            "destinations": {d for d, _, _ in rows}}


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
