"""Politeness: an upstream's Retry-After is waited in full up to `retry_after_max_seconds`; a longer one ends the
call for this tick, and a sync keeps its cursor where the last committed page left it."""

from __future__ import annotations

import pytest

from gateway.bootstrap import build_mock_pipeline
from gateway.errors import UpstreamError
from gateway.settings import Settings
from gateway.store import repository as repo
from mocks import Fault, MockWorld, Scenario
from tests.conftest import FakeClock

METRO = Scenario.bundled("metro")


def test_a_retry_after_of_two_minutes_is_waited_in_full(clock: FakeClock) -> None:
    world = MockWorld(METRO)
    world.faults.set("ekinerja.aktivitas", Fault(kind="rate-limit", retry_after="120", times=1))
    waited: list[float] = []
    pipeline = build_mock_pipeline(Settings(database_url="sqlite://"), world, clock=clock, sleep=waited.append)
    report = pipeline.sync("metro", "2026-03")
    assert waited == [120.0]  # not cut to the 30 s backoff cap
    assert report.staged["activity"].new == len(METRO.activities)


def test_a_longer_retry_after_stops_the_sync_for_this_tick_with_its_cursor_intact(clock: FakeClock) -> None:
    world = MockWorld(METRO)
    # The first two pages of activities are served, then the upstream asks for 15 minutes.
    world.faults.set("ekinerja.aktivitas", Fault(kind="rate-limit", retry_after="900", after=2, times=1))
    waited: list[float] = []
    pipeline = build_mock_pipeline(Settings(database_url="sqlite://", page_size=50, retry_after_max_seconds=600),
                                   world, clock=clock, sleep=waited.append)
    with pytest.raises(UpstreamError, match=r"asked to wait 900 s, more than retry_after_max_seconds \(600\)"):
        pipeline.sync("metro", "2026-03")
    assert waited == []  # neither the 15 minutes nor a retry that would be refused again
    with pipeline.engine.connect() as conn:
        cursor = repo.get_cursor(conn, "metro", "ekinerja.aktivitas.2026-03")
        staged = len(repo.staged(conn, "metro", "activity", "2026-03"))
    assert cursor is not None and staged == 100  # two pages of 50, committed with their cursor

    report = pipeline.sync("metro", "2026-03")  # the next tick
    assert report.staged["activity"].new == len(METRO.activities) - 100  # from the cursor on, nothing read twice


def _document_calls(world: MockWorld) -> int:
    return sum(1 for c in world.bkn.calls if c == "dokumen")


def test_the_breaker_opens_after_failures_in_a_row_probes_later_and_closes_on_success(clock: FakeClock) -> None:
    from datetime import UTC, datetime, timedelta

    world = MockWorld(METRO)
    world.faults.set("ekinerja.dokumen", Fault(kind="error", rate=1.0))
    pipeline = build_mock_pipeline(Settings(database_url="sqlite://", breaker_fail_max=3, http_max_attempts=1),
                                   world, clock=clock, sleep=lambda _s: None)
    evidence = METRO.evidence[0].id
    for _ in range(3):
        with pytest.raises(UpstreamError, match="answered 5"):
            pipeline.bkn.document(evidence)
    asked = _document_calls(world)
    for _ in range(5):
        with pytest.raises(UpstreamError, match="circuit open after 3 failures"):
            pipeline.bkn.document(evidence)
    assert _document_calls(world) == asked  # a dead upstream is not asked again
    world.faults.clear()
    # The reset timeout passes (the breaker keeps its own wall clock; its state is moved back instead of waiting).
    state = pipeline.bkn.breaker._state_storage
    state.opened_at = datetime.now(UTC) - timedelta(seconds=61)
    assert pipeline.bkn.document(evidence) is not None  # the probe succeeds and closes the circuit
    assert pipeline.bkn.breaker.current_state == "closed"


def test_a_stage_starts_with_its_breakers_closed(clock: FakeClock) -> None:
    world = MockWorld(METRO)
    world.faults.set("ekinerja.dokumen", Fault(kind="error", rate=1.0))
    pipeline = build_mock_pipeline(Settings(database_url="sqlite://", breaker_fail_max=3), world, clock=clock,
                                   sleep=lambda _s: None)
    pipeline.sync("metro", "2026-03")
    first = pipeline.verify("metro", "2026-03")
    assert first.unavailable == len(METRO.evidence) and pipeline.bkn.breaker.current_state == "open"
    assert _document_calls(world) < 3 * 5 + 16 * 5  # opened early: not every document asked five times
    world.faults.clear()
    second = pipeline.verify("metro", "2026-03")  # the next tick's stage: closed again, asks, all checked
    assert second.unavailable == 0 and second.checked == len(METRO.evidence)


_ONE_PROCESS = """
import json, sys
from gateway.bootstrap import build_mock_pipeline
from gateway.settings import Settings
from mocks import MockWorld, Scenario


class OverBudget(Exception):
    pass


asked = []


def sleep(seconds):  # injected: the budget asks to wait; nothing waits, the process stops there
    asked.append(seconds)
    raise OverBudget


world = MockWorld(Scenario.bundled("metro"))
pipeline = build_mock_pipeline(Settings(database_url="sqlite://", rate_limits={"ekinerja": "10/hour"},
                                        rate_limit_storage=sys.argv[1]), world, sleep=sleep)
fetched = 0
try:
    for evidence in world.scenario.evidence[:20]:
        pipeline.bkn.document(evidence.id)
        fetched += 1
except OverBudget:
    pass
print(json.dumps({"fetched": fetched, "asked_to_wait": asked}))
"""


def test_two_processes_share_one_rate_budget_through_redis() -> None:
    """Two gateway processes with one credential (the mocks' demo key) spend one budget of 10 requests an hour in
    Redis: together they make 10 requests, and each is then asked to wait (through its injected sleep, which
    stops it instead of waiting). With a budget per process they would make 20. Nothing waits for real time."""
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import IN_CI

    url = "redis://127.0.0.1:6379/7"  # a database of this test's own, emptied first
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
    except Exception as exc:  # noqa: BLE001 - any failure to reach it
        if IN_CI:
            raise
        pytest.skip(f"Redis not reachable: {exc}")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    runs = [subprocess.Popen([sys.executable, "-c", _ONE_PROCESS, url], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env) for _ in range(2)]
    outputs = [r.communicate(timeout=60) for r in runs]
    assert all(r.returncode == 0 for r in runs), [o[1].decode()[-2000:] for o in outputs]
    answers = [json.loads(out) for out, _err in outputs]
    assert sum(a["fetched"] for a in answers) == 10
    assert all(len(a["asked_to_wait"]) == 1 and 0 < a["asked_to_wait"][0] <= 3600 for a in answers)


def test_rows_behind_an_open_circuit_are_kept_for_a_later_attempt_not_dead(clock: FakeClock) -> None:
    from sqlalchemy import select

    from gateway.store.tables import outbox

    world = MockWorld(METRO)
    world.faults.set("payroll.submit", Fault(kind="error", rate=1.0))
    pipeline = build_mock_pipeline(Settings(database_url="sqlite://", breaker_fail_max=2, http_max_attempts=1),
                                   world, clock=clock, sleep=lambda _s: None)
    pipeline.cycle("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.status, outbox.c.last_error).where(
            outbox.c.destination == "payroll")).all()
    behind = [status for status, error in rows if error and "circuit open" in error]
    assert behind and "dead" not in behind  # an open circuit is an outage: retried later
