"""Verification in parallel: documents are fetched and checked `verify_concurrency` at a time, a killed verify
resumes from what it committed, and a verdict already stored for the same bytes is not asked of BSrE again."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, update

from gateway.bootstrap import build_mock_pipeline
from gateway.domain import TteConclusion
from gateway.settings import Settings
from gateway.store.tables import evidence_checks
from mocks import MockWorld, Scenario
from tests.conftest import FakeClock

METRO = Scenario.bundled("metro")


def _pipeline(world: MockWorld, clock: FakeClock, url: str = "sqlite://", **settings: Any):  # type: ignore[no-untyped-def]
    pipeline = build_mock_pipeline(Settings(database_url=url, **settings), world, clock=clock, sleep=lambda _s: None)
    pipeline.sync("metro", "2026-03")
    return pipeline


def _wrap_documents(pipeline: Any, before: Callable[[str], None]) -> list[str]:
    """Call `before(evidence_id)` ahead of every document fetch; returns the ids fetched, in order."""
    fetched: list[str] = []
    original = pipeline.bkn.document

    def document(evidence_id: str) -> bytes | None:
        before(evidence_id)
        fetched.append(evidence_id)
        return original(evidence_id)

    pipeline.bkn.document = document
    return fetched


def _checked(pipeline: Any) -> int:
    with pipeline.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(evidence_checks)
                            .where(evidence_checks.c.tenant == "metro")).scalar_one()


def test_documents_are_fetched_concurrency_at_a_time_and_never_more(clock: FakeClock) -> None:
    concurrency = 4
    pipeline = _pipeline(MockWorld(METRO), clock, verify_concurrency=concurrency)
    # The first `concurrency` fetches wait for each other: a verify that fetched one at a time would break it.
    barrier = threading.Barrier(concurrency, timeout=10)
    lock = threading.Lock()
    state = {"started": 0, "in_flight": 0, "peak": 0}
    original = pipeline.bkn.document

    def document(evidence_id: str) -> bytes | None:
        with lock:
            state["started"] += 1
            first = state["started"] <= concurrency
            state["in_flight"] += 1
            state["peak"] = max(state["peak"], state["in_flight"])
        try:
            if first:
                barrier.wait()
            return original(evidence_id)
        finally:
            with lock:
                state["in_flight"] -= 1

    pipeline.bkn.document = document
    report = pipeline.verify("metro", "2026-03")
    assert report.checked == len(METRO.evidence) == _checked(pipeline)
    assert state["peak"] == concurrency  # reached, and never exceeded


def test_the_same_verdicts_as_one_at_a_time(clock: FakeClock) -> None:
    def verdicts(concurrency: int) -> dict[str, tuple[str | None, str]]:
        pipeline = _pipeline(MockWorld(METRO), clock, verify_concurrency=concurrency)
        pipeline.verify("metro", "2026-03")
        with pipeline.engine.connect() as conn:
            return {eid: (sha, tte) for eid, sha, tte in conn.execute(select(
                evidence_checks.c.evidence_id, evidence_checks.c.actual_sha256, evidence_checks.c.tte))}

    sequential = verdicts(1)
    assert len(sequential) == len(METRO.evidence)
    assert verdicts(8) == sequential


def test_a_killed_verify_resumes_from_what_it_committed(tmp_path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    world = MockWorld(METRO)
    pipeline = _pipeline(world, clock, url, verify_concurrency=4)
    count = {"n": 0}
    lock = threading.Lock()

    def die_after_120(_evidence_id: str) -> None:
        with lock:
            count["n"] += 1
            if count["n"] > 120:
                raise SystemExit("killed")

    _wrap_documents(pipeline, die_after_120)
    with pytest.raises(SystemExit):
        pipeline.verify("metro", "2026-03", chunk=50)
    committed = _checked(pipeline)
    assert committed == 100  # two whole chunks; the one in flight is lost, nothing half-written

    with pipeline.engine.connect() as conn:
        done = {eid for (eid,) in conn.execute(select(evidence_checks.c.evidence_id))}
    again = _pipeline(world, clock, url, verify_concurrency=4)
    fetched = _wrap_documents(again, lambda _eid: None)
    report = again.verify("metro", "2026-03", chunk=50)
    assert report.checked == len(METRO.evidence) - committed == len(fetched)
    assert done.isdisjoint(fetched)  # nothing committed is fetched again
    assert _checked(again) == len(METRO.evidence)


def test_a_stored_verdict_for_the_same_bytes_is_not_asked_again(tmp_path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    world = MockWorld(METRO)
    first = _pipeline(world, clock, url)
    first.verify("metro", "2026-03")
    asked = world.tte.calls
    assert asked > 0
    # A fresh process (no in-memory cache) and a few items to check again: their bytes already have a verdict.
    with first.engine.begin() as conn:
        conn.execute(update(evidence_checks).where(evidence_checks.c.evidence_id.in_(
            [e.id for e in METRO.evidence[:30]])).values(tte=TteConclusion.UNCHECKED.value))
    second = _pipeline(world, clock, url)
    report = second.verify("metro", "2026-03")
    assert report.checked == 30 and report.reused == 30
    assert world.tte.calls == asked  # BSrE was not asked
