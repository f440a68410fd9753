"""Stage progress: every stage reports after each committed unit of work, counts only go up and end at the total;
the default reporter writes structured log events (the daemon's); the CLI's draws bars only on a terminal."""

from __future__ import annotations

import io
import logging
from collections import defaultdict

import structlog
from rich.console import Console
from structlog.testing import capture_logs

from gateway.bootstrap import build_mock_pipeline
from gateway.cli._progress import stage_bars
from gateway.progress import Step, silent
from gateway.settings import Settings
from mocks import MockWorld, Scenario
from tests.conftest import FakeClock

METRO = Scenario.bundled("metro")


def test_each_stage_reports_rising_counts_that_end_at_the_total(clock: FakeClock) -> None:
    steps: list[Step] = []
    pipeline = build_mock_pipeline(Settings(database_url="sqlite://", compute_max_employees=20), MockWorld(METRO),
                                   clock=clock, sleep=lambda _s: None)
    pipeline.progress = steps.append
    report = pipeline.cycle("metro", "2026-03")
    assert {s.stage for s in steps} == {"sync", "verify", "compute", "relay"}
    by_task: dict[tuple[str, str], list[Step]] = defaultdict(list)
    for step in steps:
        by_task[(step.stage, step.task)].append(step)
    for task, seen in by_task.items():
        counts = [s.done for s in seen]
        assert counts == sorted(counts), task
        assert seen[-1].total is None or seen[-1].done == seen[-1].total, task
    verify = [s for s in steps if s.stage == "verify"]
    assert verify[-1].done == verify[-1].total == report.verify.checked == len(METRO.evidence)
    compute = [s for s in steps if s.stage == "compute"]
    assert len(compute) > 1  # in parts: one step per part
    assert compute[-1].done == compute[-1].total == report.sync.staged["employee"].new
    activities = [s for s in steps if s.task == "aktivitas 2026-03"]
    assert activities[-1].done == len(METRO.activities) and activities[-1].unit == "records"
    relay = [s for s in steps if s.stage == "relay"]
    assert relay[-1].done == report.relay.claimed > 0


def test_the_default_reporter_writes_structured_progress_events(clock: FakeClock) -> None:
    pipeline = build_mock_pipeline(Settings(database_url="sqlite://"), MockWorld(METRO), clock=clock,
                                   sleep=lambda _s: None)
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))  # as the daemon logs
    try:
        with capture_logs() as logs:
            pipeline.cycle("metro", "2026-03")
    finally:
        structlog.configure(**saved)
    events = [e for e in logs if e["event"] == "stage.progress"]
    assert {e["stage"] for e in events} == {"sync", "verify", "compute", "relay"}
    assert all({"tenant", "task", "done", "total", "unit"} <= e.keys() for e in events)


def test_bars_on_a_terminal_and_nothing_off_one() -> None:
    screen = io.StringIO()
    with stage_bars(Console(file=screen, force_terminal=True, width=100)) as report:
        report(Step("metro", "verify", 5, 10, "documents", "2026-03"))
        report(Step("metro", "verify", 10, 10, "documents", "2026-03"))
    assert "verify" in screen.getvalue() and "10/10" in screen.getvalue()
    with stage_bars(Console(file=io.StringIO(), force_terminal=False)) as report:
        assert report is silent
    with stage_bars(Console(file=io.StringIO(), force_terminal=True), quiet=True) as report:
        assert report is silent
