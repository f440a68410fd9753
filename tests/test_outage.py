"""Faults at 20% on every route, auth and BSrE included: ticks go on, held employees wait, and the amounts that
reach payroll are the final ones from the first line: no line below the final amount, none corrected later."""

from __future__ import annotations

import pytest

from gateway.bootstrap import build_mock_pipeline
from gateway.errors import GatewayError
from gateway.settings import Settings
from gateway.store import holds
from gateway.store import repository as repo
from gateway.store.tables import outbox
from mocks import Fault, MockWorld, Scenario
from tests.conftest import FakeClock

KINDS = ("error", "rate-limit", "timeout", "reset", "truncated", "malformed")
EACH = 1 - 0.8 ** (1 / len(KINDS))  # the first fault that fires wins: together they fire on 20% of requests


def _amounts(pipeline, scenario: Scenario) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with pipeline.engine.connect() as conn:
        return {r.nip: r.amount for r in repo.load_results(conn, scenario.tenant, scenario.period)}


def _settled(pipeline, scenario: Scenario) -> bool:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    with pipeline.engine.connect() as conn:
        open_rows = conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.tenant == scenario.tenant, outbox.c.status != "delivered")).scalar_one()
        return not holds.load(conn, scenario.tenant, scenario.period) and open_rows == 0


@pytest.mark.parametrize("tenant", ["metro", "pekalongan"])
def test_faults_on_every_route_hold_and_never_underpay(db_url: str, clock: FakeClock, tenant: str) -> None:
    scenario = Scenario.bundled(tenant)
    healthy = build_mock_pipeline(Settings(database_url="sqlite://"), MockWorld(scenario), clock=FakeClock(),
                                  sleep=lambda _s: None)
    healthy.cycle(scenario.tenant, scenario.period)
    expected = _amounts(healthy, scenario)

    world = MockWorld(scenario)
    world.faults.set("*", *(Fault(kind=kind, rate=EACH, delay=0.0) for kind in KINDS), seed=13)
    pipeline = build_mock_pipeline(Settings(database_url=db_url), world, clock=clock, sleep=lambda _s: None)
    failed_ticks = held_ticks = 0
    for _tick in range(30):  # the daemon's tick, by hand: a failing upstream ends the tenant's tick, not the loop
        try:
            pipeline.sync(scenario.tenant, scenario.period)
            pipeline.verify(scenario.tenant, scenario.period)
            held_ticks += pipeline.compute(scenario.tenant, scenario.period).held > 0
        except GatewayError:
            failed_ticks += 1
        pipeline.relay()
        clock.advance(minutes=10)
        if _amounts(pipeline, scenario) and _settled(pipeline, scenario):
            break
    fired = sum(f["times"] for f in world.faults.snapshot()["fired"])
    routes = {f["route"] for f in world.faults.snapshot()["fired"]}
    assert {"auth.token", "tte.verify", "payroll.submit"} <= routes and fired > 50
    assert _settled(pipeline, scenario), "the faults did not settle in 30 ticks"
    assert _amounts(pipeline, scenario) == expected
    booked: dict[str, list[int]] = {}
    for line in world.payroll.ledger:
        booked.setdefault(line.nip, []).append(line.amount)
    # Every employee payroll knows got one line, the final amount: nothing lower first, nothing doubled.
    assert all(amounts == [expected[nip]] for nip, amounts in booked.items()), booked
    assert held_ticks + failed_ticks > 0  # the faults did bite
