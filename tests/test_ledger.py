"""The payroll ledger: payroll can never pay twice, whatever OPD moves, dead letters, retries and drop-outs do.

Each test replays one double payment an operator found on the old per-OPD writer, through the real relay and the
payroll mock (its ledger is the truth of what was booked)."""

from __future__ import annotations

from typing import Any

import httpx
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from gateway.connectors.payroll import PayrollClient
from gateway.domain import Result, ResultStatus
from gateway.outbox import PayrollDestination, Relay, enqueue_payroll, ledger, operations
from gateway.store import make_engine
from gateway.store import repository as repo
from mocks.payroll import DEMO_API_KEY, PayrollMock
from mocks.scenario import Scenario
from tests.conftest import FakeClock

BASE = "https://bpkad.test/api/v1"
NIPS = [f"198803032012032{i:03d}" for i in range(6)]


def result(nip: str, amount: int, opd: str = "OPD1") -> Result:
    return Result(tenant="metro", period="2026-03", nip=nip, opd_id=opd, amount=amount, ceiling=5_000_000,
                  score="50", status=ResultStatus.PARTIAL, scheme="metro", settings_version="v", lines=(),
                  input_ids=())


class Payroll:
    """The payroll mock behind its HTTP contract, with a switch that books a batch and then loses the answer."""

    def __init__(self, accounts: dict[str, str | None]) -> None:
        self.mock = PayrollMock(Scenario.bundled("metro"))
        self.mock.accounts = dict(accounts)
        self.lose_answers = False
        self.router = respx.MockRouter(assert_all_called=False)
        self.mock.mount(self.router, base_url=BASE)
        self.client = PayrollClient(BASE, DEMO_API_KEY, transport=httpx.MockTransport(self._handle),
                                    max_attempts=1, sleep=lambda _s: None)
        self.destination = PayrollDestination(self.client)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        response = self.router.handler(request)
        if self.lose_answers and request.method == "POST":
            raise httpx.ReadTimeout("answer lost after booking", request=request)
        return response

    def booked(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.mock.ledger:
            out[b.nip] = out.get(b.nip, 0) + b.amount
        return out


def compute(engine: Engine, clock: FakeClock, items: list[Result]) -> None:
    """What Pipeline.compute writes: the results (withdrawing the ones no longer produced) and payroll lines."""
    with engine.begin() as conn:
        before = {r.nip for r in repo.load_results(conn, "metro", "2026-03")}
        repo.save_results(conn, items, clock())
        repo.withdraw_results(conn, "metro", "2026-03", {n: "dropped" for n in before - {r.nip for r in items}},
                              clock())
        enqueue_payroll(conn, "metro", "2026-03", items, clock())


def relay(engine: Engine, clock: FakeClock, payroll: Payroll, **kwargs: Any) -> Relay:
    r = Relay(engine, {"payroll": payroll.destination}, clock=clock, backoff_base_seconds=1, **kwargs)
    r.run_until_idle()
    return r


def test_an_employee_moved_between_opds_is_paid_once(engine: Engine, clock: FakeClock) -> None:
    payroll = Payroll({NIPS[0]: "001"})
    compute(engine, clock, [result(NIPS[0], 1_000_000, opd="OPD1")])
    relay(engine, clock, payroll)
    compute(engine, clock, [result(NIPS[0], 1_000_000, opd="OPD2")])  # moved, same amount
    relay(engine, clock, payroll)
    assert payroll.booked() == {NIPS[0]: 1_000_000}
    compute(engine, clock, [result(NIPS[0], 1_100_000, opd="OPD2")])
    relay(engine, clock, payroll)
    assert payroll.booked() == {NIPS[0]: 1_100_000}
    adjustment = [b for b in payroll.mock.ledger if b.opd_id == "OPD2"]
    assert [(b.amount, b.opd_id) for b in adjustment] == [(100_000, "OPD2")]  # in the current OPD's batch


def test_a_dead_batch_booked_before_its_answer_was_lost_is_not_paid_again(engine: Engine, clock: FakeClock) -> None:
    payroll = Payroll({NIPS[0]: "001"})
    compute(engine, clock, [result(NIPS[0], 1_000_000)])
    payroll.lose_answers = True
    relay(engine, clock, payroll, max_attempts=1)  # booked at payroll, dead here
    payroll.lose_answers = False
    assert payroll.booked() == {NIPS[0]: 1_000_000}
    compute(engine, clock, [result(NIPS[0], 1_100_000)])  # the recomputation
    relay(engine, clock, payroll)
    dead = [r for r in ledger_rows(engine) if r["status"] == "dead"]
    operations.retry(engine, "metro", dead[0]["id"], payroll.destination, now=clock(), actor="op", reason="retry")
    relay(engine, clock, payroll)
    assert payroll.booked() == {NIPS[0]: 1_100_000}  # not 2,100,000


def ledger_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return ledger.payroll_rows(conn, "metro", "2026-03")


def test_an_employee_who_drops_out_is_listed_and_recovered_by_the_operator(engine: Engine, clock: FakeClock) -> None:
    payroll = Payroll({NIPS[0]: "001", NIPS[1]: "002"})
    compute(engine, clock, [result(NIPS[0], 1_000_000), result(NIPS[1], 3_400_000)])
    relay(engine, clock, payroll)
    compute(engine, clock, [result(NIPS[0], 1_000_000)])  # NIPS[1]'s plan is quarantined now
    relay(engine, clock, payroll)
    with engine.connect() as conn:
        assert [r.nip for r in repo.load_results(conn, "metro", "2026-03")] == [NIPS[0]]
        assert [w["nip"] for w in repo.load_withdrawn(conn, "metro", "2026-03")] == [NIPS[1]]
    assert payroll.booked()[NIPS[1]] == 3_400_000  # not recovered silently
    report = operations.reconcile(engine, "metro", "2026-03", payroll.destination, now=clock())
    assert [(d.kind, d.nip, d.correction) for d in report.differences] == [("paid-no-result", NIPS[1], -3_400_000)]
    fixed = operations.reconcile(engine, "metro", "2026-03", payroll.destination, now=clock(), fix=True,
                                 actor="op", reason="plan withdrawn")
    assert fixed.differences == [] and len(fixed.fixed) == 1
    relay(engine, clock, payroll)
    assert payroll.booked() == {NIPS[0]: 1_000_000, NIPS[1]: 0}


def test_a_rejected_line_holds_arrears_for_the_operator_and_is_visible(engine: Engine, clock: FakeClock) -> None:
    payroll = Payroll({NIPS[0]: None})  # no bank account
    compute(engine, clock, [result(NIPS[0], 1_000_000)])
    relay(engine, clock, payroll)
    with engine.connect() as conn:
        p = ledger.positions(conn, "metro", "2026-03")[NIPS[0]]
    assert (p.acknowledged, p.rejected, p.reasons) == (0, 1_000_000, ["missing bank account"])
    compute(engine, clock, [result(NIPS[0], 1_200_000)])
    assert len(ledger_rows(engine)) == 1  # not sent again on every computation
    payroll.mock.accounts[NIPS[0]] = "0012345"  # the operator fixed the account
    report = operations.reconcile(engine, "metro", "2026-03", payroll.destination, now=clock(), fix=True,
                                  actor="op", reason="account fixed")
    assert report.differences == []
    relay(engine, clock, payroll)
    assert payroll.booked() == {NIPS[0]: 1_200_000}


def test_reconcile_learns_the_fate_of_an_unknown_batch_from_payroll(engine: Engine, clock: FakeClock) -> None:
    payroll = Payroll({NIPS[0]: "001"})
    compute(engine, clock, [result(NIPS[0], 1_000_000)])
    payroll.lose_answers = True
    relay(engine, clock, payroll, max_attempts=1)
    payroll.lose_answers = False
    with engine.connect() as conn:
        assert ledger.positions(conn, "metro", "2026-03")[NIPS[0]].unknown == 1_000_000
    report = operations.reconcile(engine, "metro", "2026-03", payroll.destination, now=clock())
    assert report.differences == [] and report.payroll_total == 1_000_000
    assert [r["status"] for r in ledger_rows(engine)] == ["delivered"]


# Property: random computations, moves, drop-outs, lost answers, dead letters, retries and rejections ----------
step = st.one_of(
    st.tuples(st.just("compute"), st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3_000_000),
                                                     st.sampled_from(["OPD1", "OPD2", "OPD3"])), max_size=6)),
    st.tuples(st.just("relay"), st.booleans()),  # True: payroll books and the answer is lost
    st.tuples(st.just("retry"), st.integers(0, 10)),
    st.tuples(st.just("discard"), st.integers(0, 10)),
    st.tuples(st.just("account"), st.integers(0, 5)),  # an account goes missing / comes back
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_payroll_never_holds_more_than_the_latest_result(tmp_path_factory: Any, steps: list[Any]) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'g.db'}"
    engine = make_engine(url)
    clock = FakeClock()
    payroll = Payroll({n: f"00{i}" for i, n in enumerate(NIPS)})
    latest: dict[str, int] = {}  # the last amount computed per NIP (a dropped employee keeps theirs until fixed)
    for kind, arg in steps:
        clock.advance(seconds=5)
        if kind == "compute":
            items = {NIPS[i]: result(NIPS[i], amount, opd) for i, amount, opd in arg}
            latest.update({n: r.amount for n, r in items.items()})
            compute(engine, clock, list(items.values()))
        elif kind == "relay":
            payroll.lose_answers = arg
            relay(engine, clock, payroll, max_attempts=1)
            payroll.lose_answers = False
        elif kind in ("retry", "discard"):
            dead = [r for r in ledger_rows(engine) if r["status"] == "dead"]
            if dead:
                action = operations.retry if kind == "retry" else operations.discard
                try:
                    action(engine, "metro", dead[arg % len(dead)]["id"], payroll.destination, now=clock(),
                           actor="op", reason="test")
                except operations.OperationError:
                    pass
        else:
            nip = NIPS[arg]
            payroll.mock.accounts[nip] = None if payroll.mock.accounts.get(nip) else "001"
        # No step ever has payroll hold more than the latest result, once recoveries already queued land.
        queued = _queued_recoveries(engine)
        for nip, amount in payroll.booked().items():
            assert amount + queued.get(nip, 0) <= latest.get(nip, 0), (nip, amount, latest)
    # Everything delivered and reconciled: payroll holds exactly the latest results.
    for nip in NIPS:
        payroll.mock.accounts[nip] = "001"
    relay(engine, clock, payroll)
    with engine.connect() as conn:
        current = {r.nip: r.amount for r in repo.load_results(conn, "metro", "2026-03")}
    operations.reconcile(engine, "metro", "2026-03", payroll.destination, now=clock(), fix=True, actor="op",
                         reason="close the month")
    clock.advance(hours=1)
    relay(engine, clock, payroll)
    booked = {n: a for n, a in payroll.booked().items() if a}
    assert booked == {n: a for n, a in current.items() if a}
    engine.dispose()


def _queued_recoveries(engine: Engine) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in ledger_rows(engine):
        if row["status"] in ("pending", "submitted"):
            for ln in row["payload"]["lines"]:
                if ln["amount"] < 0:
                    out[ln["nip"]] = out.get(ln["nip"], 0) + ln["amount"]
    return out




def test_compute_withdraws_a_result_it_no_longer_produces_with_the_quarantine_reason() -> None:
    from gateway.domain import Problem
    from gateway.stages.compute import _withdrawn

    before = {NIPS[0]: result(NIPS[0], 3_400_000), NIPS[1]: result(NIPS[1], 1_000_000)}
    weights = Problem(record_kind="plan", record_id=NIPS[0], rule="weights", nip=NIPS[0],
                      message="weights sum to 110")
    assert _withdrawn(before, {NIPS[1]}, [weights]) == {NIPS[0]: "weights: weights sum to 110"}
    assert _withdrawn(before, set(before), [weights]) == {}


def test_a_dropped_employee_booked_with_a_lost_answer_is_recovered(tmp_path_factory: Any) -> None:
    """Found by the property above: ten lost answers in a row opened payroll's circuit breaker, and reconcile's
    recovery for an employee dropped from the period went dead at once behind it. An open circuit is now retried
    later, and each relay run starts with its breakers closed."""
    steps = [("compute", [(0, 1, "OPD2"), (2, 1, "OPD3"), (3, 1, "OPD1")]),
             ("compute", [(0, 0, "OPD1"), (1, 1, "OPD1"), (3, 0, "OPD2")]),
             ("compute", [(0, 1, "OPD1")]),
             ("compute", [(0, 0, "OPD1"), (1, 0, "OPD2"), (3, 1, "OPD1")]),
             ("relay", True)]
    test_payroll_never_holds_more_than_the_latest_result.hypothesis.inner_test(tmp_path_factory, steps)
