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
