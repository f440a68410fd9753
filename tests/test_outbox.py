"""Transactional outbox and relay, on SQLite and PostgreSQL: nothing lost, nothing doubled, order kept."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from gateway.domain import Result, ResultStatus
from gateway.errors import DeliveryError
from gateway.outbox import Delivery, Relay, enqueue_payroll, ledger, operations, retry_dead
from gateway.store import repository as repo
from gateway.store.tables import outbox, results
from tests.conftest import FakeClock

NIPS = ["198803032012032003", "198001012005011001", "197502022000031002"]


def result(nip: str, amount: int, opd: str = "OPD1") -> Result:
    return Result(tenant="metro", period="2026-03", nip=nip, opd_id=opd, amount=amount, ceiling=3_000_000,
                  score="50", status=ResultStatus.PARTIAL, scheme="metro", settings_version="v", lines=(),
                  input_ids=())


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox).order_by(outbox.c.id)).mappings()]


def enqueue(engine: Engine, clock: FakeClock, items: list[Result]) -> list[str]:
    with engine.begin() as conn:
        return enqueue_payroll(conn, "metro", "2026-03", items, clock())


class Recorder:
    """A destination that records what it was asked to deliver and can be told to fail."""

    def __init__(self, fail: list[DeliveryError] | None = None) -> None:
        self.delivered: list[str] = []
        self.fail = fail or []
        self.lock = threading.Lock()

    def deliver(self, row: dict[str, Any]) -> Delivery:
        if self.fail:
            raise self.fail.pop(0)
        with self.lock:
            self.delivered.append(row["idempotency_key"])
        return Delivery(status="delivered", answer={"batch_id": f"B-{row['id']}", "lines": []})


def test_one_batch_per_opd_and_the_same_results_are_enqueued_once(engine: Engine, clock: FakeClock) -> None:
    items = [result(NIPS[0], 1_000_000), result(NIPS[1], 500_000), result(NIPS[2], 700_000, opd="OPD2")]
    first = enqueue(engine, clock, items)
    again = enqueue(engine, clock, items)
    assert len(first) == 2 and again == []
    stored = rows(engine)
    assert [r["aggregate"] for r in stored] == ["metro/2026-03/OPD1", "metro/2026-03/OPD2"]
    assert {ln["nip"]: ln["amount"] for ln in stored[0]["payload"]["lines"]} == {NIPS[0]: 1_000_000,
                                                                                NIPS[1]: 500_000}


def test_zero_amounts_send_no_line(engine: Engine, clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 0), result(NIPS[1], 10)])
    assert [ln["nip"] for ln in rows(engine)[0]["payload"]["lines"]] == [NIPS[1]]


def test_changed_amounts_go_out_as_an_adjustment_of_the_difference(engine: Engine, clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 1_000_000), result(NIPS[1], 500_000)])
    enqueue(engine, clock, [result(NIPS[0], 1_200_000), result(NIPS[1], 400_000)])
    first, second = rows(engine)
    assert first["payload"]["lines"][0]["kind"] == "tpp"
    assert {ln["nip"]: (ln["amount"], ln["kind"]) for ln in second["payload"]["lines"]} == {
        NIPS[0]: (200_000, "adjustment"), NIPS[1]: (-100_000, "adjustment")}
    # The net of everything sent equals the latest results.
    net = {n: sum(ln["amount"] for r in rows(engine) for ln in r["payload"]["lines"] if ln["nip"] == n)
           for n in NIPS[:2]}
    assert net == {NIPS[0]: 1_200_000, NIPS[1]: 400_000}


def test_a_batch_payroll_refused_outright_does_not_count_as_sent(engine: Engine, clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 1_000)])
    refused = DeliveryError("422 invalid batch", retryable=False, refused=True)
    Relay(engine, {"payroll": Recorder([refused])}, clock=clock).run_once()
    assert rows(engine)[0]["status"] == "dead"
    enqueue(engine, clock, [result(NIPS[0], 1_100)])
    new = rows(engine)[1]["payload"]["lines"][0]
    assert (new["amount"], new["kind"]) == (1_100, "tpp")  # the whole amount, not a difference


def test_a_dead_batch_that_may_have_reached_payroll_is_never_treated_as_unpaid(engine: Engine,
                                                                                clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 1_000)])
    timeout = DeliveryError("payroll did not answer: ReadTimeout", retryable=False)
    Relay(engine, {"payroll": Recorder([timeout])}, clock=clock).run_once()
    with engine.connect() as conn:
        assert ledger.positions(conn, "metro", "2026-03")[NIPS[0]].unknown == 1_000
    assert enqueue(engine, clock, [result(NIPS[0], 1_000)]) == []  # no fresh full batch
    enqueue(engine, clock, [result(NIPS[0], 1_100)])
    new = rows(engine)[1]["payload"]["lines"][0]
    assert (new["amount"], new["kind"]) == (100, "adjustment")


class FakeLookup:
    """Payroll's answer to a status query by key: None = it holds no such batch."""

    def __init__(self, answer: Delivery | None = None) -> None:
        self.answer, self.asked = answer, []

    def lookup(self, row: dict[str, Any]) -> Delivery | None:
        self.asked.append(row["idempotency_key"])
        return self.answer


def test_operator_retry_rebases_a_dead_payroll_row_on_the_ledger(engine: Engine, clock: FakeClock) -> None:
    with engine.begin() as conn:
        repo.save_results(conn, [result(NIPS[0], 1_000)], clock())
    enqueue(engine, clock, [result(NIPS[0], 1_000)])
    Relay(engine, {"payroll": Recorder([DeliveryError("timeout", retryable=False)])}, clock=clock).run_once()
    row_id = rows(engine)[0]["id"]
    with engine.begin() as conn:
        assert retry_dead(conn, "metro", row_id, clock()) is False  # never resent as it was
    with pytest.raises(operations.OperationError):
        operations.retry(engine, "other-tenant", row_id, FakeLookup(), now=clock(), actor="op", reason="x")
    # The result changed meanwhile; payroll never got the dead batch: what is owed now goes, with new keys.
    with engine.begin() as conn:
        repo.save_results(conn, [result(NIPS[0], 1_200)], clock())
    done = operations.retry(engine, "metro", row_id, FakeLookup(None), now=clock(), actor="op", reason="fixed")
    old, new = rows(engine)
    assert old["status"] == "superseded" and done.written == [new["idempotency_key"]]
    assert [(ln["amount"], ln["kind"]) for ln in new["payload"]["lines"]] == [(1_200, "tpp")]
    assert new["idempotency_key"] != old["idempotency_key"]


def test_retry_of_a_row_payroll_had_booked_sends_nothing(engine: Engine, clock: FakeClock) -> None:
    with engine.begin() as conn:
        repo.save_results(conn, [result(NIPS[0], 1_000)], clock())
    enqueue(engine, clock, [result(NIPS[0], 1_000)])
    Relay(engine, {"payroll": Recorder([DeliveryError("timeout", retryable=False)])}, clock=clock).run_once()
    line_id = rows(engine)[0]["payload"]["lines"][0]["line_id"]
    booked = Delivery("delivered", {"batch_id": "B1", "status": "completed", "lines": [
        {"line_id": line_id, "nip": NIPS[0], "status": "accepted"}]})
    done = operations.retry(engine, "metro", rows(engine)[0]["id"], FakeLookup(booked), now=clock(), actor="op",
                            reason="check")
    assert done.fate == "booked" and done.written == []
    assert [r["status"] for r in rows(engine)] == ["delivered"]
    with engine.connect() as conn:
        assert ledger.positions(conn, "metro", "2026-03")[NIPS[0]].acknowledged == 1_000


def test_results_and_outbox_rows_commit_together(engine: Engine, clock: FakeClock) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        repo.save_results(conn, [result(NIPS[0], 1_000)], clock())
        enqueue_payroll(conn, "metro", "2026-03", [result(NIPS[0], 1_000)], clock())
        raise RuntimeError("crash between the writes and the commit")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(results)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(outbox)).scalar() == 0


def test_relay_delivers_and_records_the_answer(engine: Engine, clock: FakeClock) -> None:
    keys = enqueue(engine, clock, [result(NIPS[0], 1_000), result(NIPS[2], 2_000, opd="OPD2")])
    recorder = Recorder()
    report = Relay(engine, {"payroll": recorder}, clock=clock).run_until_idle()
    assert (report.claimed, report.delivered) == (2, 2)
    assert recorder.delivered == keys
    assert all(r["status"] == "delivered" and r["answer"]["batch_id"] and r["lease_owner"] is None
               for r in rows(engine))
    assert Relay(engine, {"payroll": recorder}, clock=clock).run_once().claimed == 0


def test_retryable_failure_backs_off_then_succeeds(engine: Engine, clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 1_000)])
    recorder = Recorder([DeliveryError("503", retryable=True)])
    relay = Relay(engine, {"payroll": recorder}, clock=clock, backoff_base_seconds=60)
    assert relay.run_once().retrying == 1
    row = rows(engine)[0]
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "503")
    assert row["next_attempt_at"] >= clock()
    clock.advance(seconds=61)
    assert relay.run_once().delivered == 1
    assert rows(engine)[0]["status"] == "delivered"


def test_too_many_failures_end_in_dead_letters(engine: Engine, clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 1_000)])
    relay = Relay(engine, {"payroll": Recorder([DeliveryError("503", retryable=True)] * 3)}, clock=clock,
                  max_attempts=3, backoff_base_seconds=1)
    for _ in range(3):
        relay.run_once()
        clock.advance(seconds=10)
    row = rows(engine)[0]
    assert (row["status"], row["attempts"]) == ("dead", 3)


def test_non_retryable_answer_goes_to_dead_letters_at_once_with_the_answer(engine: Engine, clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 1_000)])
    error = DeliveryError("409 key reused", retryable=False, answer='{"error": "key reused"}')
    report = Relay(engine, {"payroll": Recorder([error])}, clock=clock).run_once()
    row = rows(engine)[0]
    assert report.dead == 1
    assert (row["status"], row["attempts"], row["answer"]) == ("dead", 1, {"error": '{"error": "key reused"}'})


def test_rows_of_one_aggregate_go_out_in_order(engine: Engine, clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 1_000)])
    enqueue(engine, clock, [result(NIPS[0], 1_500)])  # adjustment, same aggregate
    recorder = Recorder([DeliveryError("timeout", retryable=True)])
    relay = Relay(engine, {"payroll": recorder}, clock=clock, backoff_base_seconds=1)
    relay.run_once()
    assert recorder.delivered == []  # the adjustment waited behind the failed first batch
    clock.advance(seconds=5)
    relay.run_until_idle()
    first, second = rows(engine)
    assert recorder.delivered == [first["idempotency_key"], second["idempotency_key"]]


def test_a_crashed_relays_lease_expires_and_another_takes_over(engine: Engine, clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 1_000)])
    crashed = Relay(engine, {}, clock=clock, owner="crashed", lease_seconds=60)
    assert len(crashed.claim()) == 1  # claimed, then the process died before recording anything
    recorder = Recorder()
    other = Relay(engine, {"payroll": recorder}, clock=clock, owner="other", lease_seconds=60)
    assert other.run_once().claimed == 0  # still leased
    clock.advance(seconds=61)
    assert other.run_once().delivered == 1
    assert rows(engine)[0]["status"] == "delivered"


def test_concurrent_relays_deliver_each_row_once(engine: Engine, clock: FakeClock) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several relays need FOR UPDATE SKIP LOCKED: PostgreSQL only (SQLite runs one relay)")
    for i in range(40):
        enqueue(engine, clock, [result(f"198803032012032{i:03d}", 1_000, opd=f"OPD{i:02d}")])
    recorder = Recorder()
    relays = [Relay(engine, {"payroll": recorder}, clock=clock, owner=f"r{i}", batch_size=3) for i in range(4)]
    threads = [threading.Thread(target=r.run_until_idle) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(recorder.delivered) == sorted(r["idempotency_key"] for r in rows(engine))
    assert len(set(recorder.delivered)) == 40
    assert {r["status"] for r in rows(engine)} == {"delivered"}


def test_relay_order_holds_across_passes(engine: Engine, clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 1_000)])
    enqueue(engine, clock, [result(NIPS[0], 1_500)])  # adjustment, same aggregate
    recorder = Recorder([DeliveryError("503", retryable=True)])
    relay = Relay(engine, {"payroll": recorder}, clock=clock, batch_size=1, backoff_base_seconds=60)
    relay.run_once()  # the first row fails and waits for a later attempt
    assert relay.run_once().claimed == 0  # the second pass, same instant: the adjustment must wait
    assert recorder.delivered == []


class Watching(Recorder):
    """Checks, at each delivery, that every earlier row of the aggregate is recorded delivered already. With
    `next_claim`, the first delivery waits until the relay has taken its next claim (the pipeline at work)."""

    def __init__(self, engine: Engine, next_claim: threading.Event | None = None) -> None:
        super().__init__()
        self.engine, self.next_claim, self.early = engine, next_claim, []
        self.overlapped: bool | None = None

    def deliver(self, row: dict[str, Any]) -> Delivery:
        if self.next_claim is not None and self.overlapped is None:
            self.overlapped = self.next_claim.wait(timeout=30)
        with self.engine.connect() as conn:
            earlier = conn.execute(select(outbox.c.id, outbox.c.status).where(
                outbox.c.aggregate == row["aggregate"], outbox.c.id < row["id"])).all()
        self.early += [i for i, status in earlier if status != "delivered"]
        return super().deliver(row)


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_pipelined_relay_keeps_each_aggregate_in_order(engine: Engine, clock: FakeClock, pipelined: bool) -> None:
    """Claiming and recording while the previous claim is delivered (the default on PostgreSQL) delivers a row
    only once every earlier row of its aggregate is recorded, over claims of two rows."""
    for amount in (1_000, 1_500, 2_000):  # a first payment and two adjustments per employee, one OPD each
        enqueue(engine, clock, [result(NIPS[i], amount + i, opd=f"OPD{i}") for i in range(3)])
    next_claim = threading.Event() if pipelined else None
    watching = Watching(engine, next_claim)
    relay = Relay(engine, {"payroll": watching}, clock=clock, batch_size=2, parallelism=2, pipelined=pipelined)
    claims = []
    claim = relay.claim

    def counted() -> list[dict[str, Any]]:
        claims.append(1)
        if len(claims) == 2 and next_claim is not None:
            next_claim.set()  # taken while the first claim's first row is still being delivered
        return claim()

    relay.claim = counted  # type: ignore[method-assign]
    total = relay.run_until_idle()
    stored = rows(engine)
    assert total.delivered == len(stored) == 9 and {r["status"] for r in stored} == {"delivered"}
    assert watching.early == []
    order = {key: n for n, key in enumerate(watching.delivered)}
    for aggregate in {r["aggregate"] for r in stored}:
        keys = [r["idempotency_key"] for r in stored if r["aggregate"] == aggregate]
        assert sorted(keys, key=order.__getitem__) == keys
    assert watching.overlapped in (None, True)


def test_a_relay_whose_lease_passed_cannot_overwrite_the_new_owners_outcome(engine: Engine, clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 1_000)])
    slow = Relay(engine, {"payroll": Recorder()}, clock=clock, owner="slow", lease_seconds=60)
    claimed = slow.claim()
    clock.advance(seconds=61)  # slow's lease passes; another relay takes the row and delivers it
    other = Relay(engine, {"payroll": Recorder([DeliveryError("422", retryable=False, refused=True)])},
                  clock=clock, owner="other", lease_seconds=60)
    assert other.run_once().dead == 1
    from gateway.outbox.relay import Outcome, RelayReport

    stale = RelayReport()  # the slow relay now records its (stale) outcome
    slow._record(claimed, {claimed[0]["id"]: Outcome({"status": "delivered", "answer": {}})}, stale)
    assert stale.fenced == 1
    assert rows(engine)[0]["status"] == "dead"  # the newer owner's outcome stands


class Exploding:
    """A destination with a bug: it raises something that is not a DeliveryError for one aggregate."""

    def __init__(self) -> None:
        self.delivered: list[str] = []

    def deliver(self, row: dict[str, Any]) -> Delivery:
        if row["aggregate"].endswith("OPD1"):
            raise ValueError("malformed answer")
        self.delivered.append(row["aggregate"])
        return Delivery(status="delivered", answer={})


def test_an_unexpected_exception_is_recorded_on_its_row_and_the_claim_goes_on(engine: Engine,
                                                                             clock: FakeClock) -> None:
    enqueue(engine, clock, [result(NIPS[0], 1_000, opd="OPD1"), result(NIPS[1], 2_000, opd="OPD2")])
    destination = Exploding()
    report = Relay(engine, {"payroll": destination}, clock=clock).run_once()
    first, second = rows(engine)
    assert (report.claimed, report.retrying, report.delivered) == (2, 1, 1)
    assert (first["status"], first["attempts"], first["lease_owner"]) == ("pending", 1, None)
    assert "ValueError: malformed answer" in first["last_error"]
    assert second["status"] == "delivered" and destination.delivered == ["metro/2026-03/OPD2"]


def test_leases_are_renewed_while_a_long_claim_is_delivered(engine: Engine, clock: FakeClock) -> None:
    for i, nip in enumerate(NIPS):  # three aggregates, delivered one after another by one claim
        enqueue(engine, clock, [result(nip, 1_000, opd=f"OPD{i}")])
    other = Relay(engine, {}, clock=clock, owner="other", lease_seconds=60)
    stolen: list[int] = []

    class Slow:
        def deliver(self, row: dict[str, Any]) -> Delivery:
            clock.advance(seconds=40)  # each delivery takes 40 s of the 60 s lease: 120 s in all
            stolen.extend(r["id"] for r in other.claim())
            return Delivery(status="delivered", answer={})

    relay = Relay(engine, {"payroll": Slow()}, clock=clock, owner="slow", lease_seconds=60, parallelism=1)
    report = relay.run_once()
    assert (report.claimed, report.delivered, report.fenced) == (3, 3, 0)
    assert stolen == []  # nobody took a row while this claim was still delivering
    assert {r["status"] for r in rows(engine)} == {"delivered"}
