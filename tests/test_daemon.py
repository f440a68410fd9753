"""The daemon: which periods it pulls and computes, and that it keeps going and stops when told."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gateway.bootstrap import build_mock_pipeline
from gateway.daemon import Daemon, periods_due
from gateway.settings import Settings
from gateway.store import repository as repo
from mocks import MockWorld, Scenario
from tests.conftest import FakeClock


@pytest.mark.parametrize(("today", "payment", "pull", "compute"), [
    (date(2026, 4, 10), "monthly", ("2026-04",), "2026-03"),
    # March is still in its 7 grace days: pulled with April, not computed yet; February is computed (again).
    (date(2026, 4, 5), "monthly", ("2026-04", "2026-03"), "2026-02"),
    (date(2026, 1, 9), "monthly", ("2026-01",), "2025-12"),
    (date(2026, 1, 3), "monthly", ("2026-01", "2025-12"), "2025-11"),
    (date(2026, 4, 10), "quarterly", ("2026-Q2",), "2026-Q1"),
    (date(2026, 4, 3), "quarterly", ("2026-Q2", "2026-Q1"), "2025-Q4"),
])
def test_periods_due(today: date, payment: str, pull: tuple[str, ...], compute: str) -> None:
    due = periods_due(today, payment, grace_days=7)
    assert (due.pull, due.compute) == (pull, compute)


def test_a_tick_computes_the_closed_month_and_delivers_it(tmp_path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    clock.now = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)
    world = MockWorld(Scenario.bundled("metro"))
    pipeline = build_mock_pipeline(Settings(database_url=f"sqlite:///{tmp_path}/d.db"), world, clock=clock)
    report = Daemon(pipeline, clock=clock, tenants=["metro"]).tick()
    assert report.computed == ["metro/2026-03"] and report.pulled == ["metro/2026-04"]
    with pipeline.engine.connect() as conn:
        from sqlalchemy import func, select

        from gateway.store.tables import outbox
        sent = dict(conn.execute(select(outbox.c.destination, func.count()).where(outbox.c.status == "delivered")
                                 .group_by(outbox.c.destination)).all())
    # Payroll per OPD, SPBE verdicts, and the feed: results, and payroll's answers and the month's quarantine in
    # rows of their own (written in the relay's and the sync's and computation's transactions), the integrity signals.
    assert sent["payroll"] == 4 and sent["spbe"] == 3 + 1 and sent["feed"] >= 3  # SPBE: and the audit head
    assert report.errors == [] and report.delivered == sum(sent.values())
    with pipeline.engine.connect() as conn:
        assert len(repo.load_results(conn, "metro", "2026-03")) == 50


def test_an_unreachable_upstream_is_reported_and_the_loop_goes_on(tmp_path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    world = MockWorld(Scenario.bundled("metro"))
    world.bkn.consumer = ("someone", "else")  # BKN now refuses our credentials
    pipeline = build_mock_pipeline(Settings(database_url=f"sqlite:///{tmp_path}/d.db"), world, clock=clock)
    waits: list[float] = []
    daemon = Daemon(pipeline, clock=clock, tenants=["metro"], interval_seconds=60,
                    wait=lambda seconds: waits.append(seconds) or len(waits) >= 2)
    report = daemon.tick()
    assert report.computed == [] and len(report.errors) == 1
    assert report.errors[0].startswith("metro: ") and "refused" in report.errors[0]
    waits.clear()
    assert daemon.run() == 2  # two ticks, each reporting the failure, then the stop signal
    assert waits == [60, 60]


def test_stop_ends_the_loop_before_the_next_tick(tmp_path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    pipeline = build_mock_pipeline(Settings(database_url=f"sqlite:///{tmp_path}/d.db"),
                                   MockWorld(Scenario.bundled("metro")), clock=clock)
    daemon = Daemon(pipeline, clock=clock, tenants=["metro"])
    daemon.stop()
    assert daemon.run() == 0


def test_bad_scheme_settings_are_reported_for_that_tenant_and_the_loop_goes_on(tmp_path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    clock.now = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)
    settings = Settings(database_url=f"sqlite:///{tmp_path}/d.db")
    broken = settings.tenants["metro"].model_copy(update={"settings": {"cap": "-1"}})
    settings = settings.model_copy(update={"tenants": {**settings.tenants, "metro": broken}})
    pipeline = build_mock_pipeline(settings, MockWorld(Scenario.bundled("metro")), clock=clock)
    report = Daemon(pipeline, clock=clock, tenants=["metro"]).tick()
    assert report.computed == [] and len(report.errors) == 1
    assert "metro" in report.errors[0] and "cap" in report.errors[0]


def test_a_tenant_without_endpoints_of_its_own_is_skipped_with_one_line(tmp_path, clock: FakeClock,  # type: ignore[no-untyped-def]
                                                                       capsys) -> None:
    from gateway import logsetup
    from gateway.errors import ConfigurationError

    clock.now = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)
    settings = Settings(database_url=f"sqlite:///{tmp_path}/d.db")
    assert all(t.shared_endpoints for t in settings.tenants.values())  # the bundled demo tenants share them
    other = settings.tenants["metro"].model_copy(update={"shared_endpoints": False, "display_name": "Kota Lain"})
    settings = settings.model_copy(update={"tenants": {"metro": settings.tenants["metro"], "lain": other}})
    pipeline = build_mock_pipeline(settings, MockWorld(Scenario.bundled("metro")), clock=clock)
    logsetup.configure("INFO")
    daemon = Daemon(pipeline, clock=clock)
    first, second = daemon.tick(), daemon.tick()
    assert first.skipped == second.skipped == ["lain"] and first.computed == ["metro/2026-03"]
    assert first.errors == [] and "lain/2026-03" not in first.computed + first.pulled
    with pipeline.engine.connect() as conn:  # nothing of Metro's BKN data was staged into the other tenant
        assert repo.load_period(conn, "lain", "2026-03").employees == ()
    said = [line for line in capsys.readouterr().err.splitlines() if "daemon.tenant_skipped" in line]
    assert len(said) == 1 and "shared_endpoints = true" in said[0]
    with pytest.raises(ConfigurationError, match="shared_endpoints"):
        pipeline.sync("lain", "2026-03")
