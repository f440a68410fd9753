"""Fault injection in process: every fault mode of `mocks.faults` met by the gateway's own connectors.

The world's routes are wrapped with its fault plan at mount time; the connectors reach them through
`MockWorld.transport()`. Nothing sleeps: the clients and the world get list-appending `sleep`s.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.connectors import BknAuth, BknClient, BknCredentials, PayrollClient
from gateway.connectors.wire.payroll import (
    REJECT_BUDGET,
    REJECT_NO_ACCOUNT,
    REJECT_UNKNOWN_NIP,
    BatchRequest,
    PayrollLine,
)
from gateway.errors import UpstreamError
from mocks import DEMO_API_KEY, DEMO_CONSUMER, DEMO_SSO, BknMock, Endpoints, Fault, FaultPlan, MockWorld, Scenario

METRO = Scenario.bundled("metro")
PERIOD = METRO.period
EP = Endpoints()
PAGE = 50
ACTIVITIES = len(METRO.activities)


class Sleeps(list[float]):
    """A `sleep` that only writes down how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def world_sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def world(world_sleeps: Sleeps) -> MockWorld:
    return MockWorld(METRO, sleep=world_sleeps)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def bkn_client(world: MockWorld, sleeps: Sleeps, *, max_attempts: int = 5) -> BknClient:
    auth = BknAuth(EP.token_url, EP.sso_url, BknCredentials(
        consumer_key=DEMO_CONSUMER[0], consumer_secret=DEMO_CONSUMER[1], sso_client_id="demo",
        username=DEMO_SSO[0], password=DEMO_SSO[1]))
    return BknClient(EP.siasn_url, EP.ekinerja_url, auth, page_size=PAGE, max_attempts=max_attempts,
                     transport=world.transport(), sleep=sleeps)


def payroll_client(world: MockWorld, sleeps: Sleeps) -> PayrollClient:
    return PayrollClient(EP.payroll_url, DEMO_API_KEY, transport=world.transport(), sleep=sleeps)


def activity_rows(world: MockWorld, sleeps: Sleeps) -> list[dict[str, Any]]:
    """Every activity row a sync receives, in the order received (raw wire rows)."""
    return [page.raw[record.id] for page in bkn_client(world, sleeps).stream("aktivitas", PERIOD)
            for record in page.records]


def synced_ids(world: MockWorld, sleeps: Sleeps) -> list[str]:
    return [record.id for page in bkn_client(world, sleeps).stream("aktivitas", PERIOD) for record in page.records]


def a_batch(amount: int = 1_500_000, nips: list[str] | None = None) -> BatchRequest:
    paid = [e for e in METRO.employees if e.bank_account][:3]
    nips = nips or [e.nip for e in paid]
    return BatchRequest(tenant="metro", period=PERIOD, opd_id=paid[0].unit_id, lines=[
        PayrollLine(line_id=f"L{i}", nip=nip, amount=amount) for i, nip in enumerate(nips)])


# the plan itself ---------------------------------------------------------------------------------------------------
def test_every_mounted_route_is_named_and_can_carry_faults(world: MockWorld) -> None:
    expected = {"auth.token", "auth.sso", "siasn.ref-unor", "siasn.pns", "ekinerja.pegawai", "ekinerja.indikator",
                "ekinerja.aktivitas", "ekinerja.bukti", "ekinerja.persetujuan", "ekinerja.dokumen", "tte.verify",
                "payroll.submit", "payroll.status", "spbe.submit", "spbe.list"}
    assert expected <= set(world.routes) == set(world.faults.routes)


def test_a_plan_naming_an_unknown_route_or_an_unsupported_data_fault_is_refused(world: MockWorld) -> None:
    with pytest.raises(ValueError, match="no mock route matches 'ekinerja.nothing'"):
        world.faults.set("ekinerja.nothing", Fault(kind="error"))
    with pytest.raises(ValueError, match="supports a 'duplicate' fault"):
        world.faults.set("payroll.submit", Fault(kind="duplicate"))
    with pytest.raises(ValueError, match="status 404"):
        Fault(kind="error", status=404)


def test_the_plan_is_json_and_globs_match_route_names(world: MockWorld, sleeps: Sleeps) -> None:
    plan = FaultPlan.model_validate_json(b'{"seed": 3, "routes": {"ekinerja.*": [{"kind": "error", "times": 1}]}}')
    world.faults.load(plan)
    next(bkn_client(world, sleeps).stream("aktivitas", PERIOD))
    next(bkn_client(world, sleeps).stream("indikator", PERIOD))

    assert world.faults.fired == Counter({("ekinerja.aktivitas", "error"): 1, ("ekinerja.indikator", "error"): 1})
    assert world.faults.snapshot()["plan"] == plan.model_dump(mode="json")


def fired_pattern(seed: int) -> list[bool]:
    world = MockWorld(METRO)
    world.faults.set("auth.token", Fault(kind="error", rate=0.3), seed=seed)
    with httpx.Client(transport=world.transport()) as client:
        return [client.post(EP.token_url).status_code == 503 for _ in range(200)]


def test_faults_at_a_rate_are_the_same_for_the_same_seed() -> None:
    first, again, other = fired_pattern(7), fired_pattern(7), fired_pattern(8)

    assert first == again
    assert first != other
    assert 30 < sum(first) < 90  # about 30 %


def test_after_and_times_bound_when_a_fault_fires(world: MockWorld) -> None:
    world.faults.set("auth.token", Fault(kind="error", status=500, after=2, times=3))
    with httpx.Client(transport=world.transport()) as client:
        answers = [client.post(EP.token_url).status_code for _ in range(7)]

    assert answers == [401, 401, 500, 500, 500, 401, 401]  # 401: no Basic credentials, the mock's own answer


# each fault mode through the connectors ----------------------------------------------------------------------------
def test_429_is_waited_out_as_retry_after_says(world: MockWorld, sleeps: Sleeps) -> None:
    world.faults.set("ekinerja.aktivitas", Fault(kind="rate-limit", retry_after="7", after=1, times=1))

    assert len(synced_ids(world, sleeps)) == ACTIVITIES
    assert sleeps == [7.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(world: MockWorld, sleeps: Sleeps, status: int) -> None:
    world.faults.set("ekinerja.aktivitas", Fault(kind="error", status=status, times=2))

    assert len(synced_ids(world, sleeps)) == ACTIVITIES
    assert len(sleeps) == 2
    assert world.faults.fired[("ekinerja.aktivitas", "error")] == 2


def test_errors_past_the_retry_budget_surface_as_upstream_error(world: MockWorld, sleeps: Sleeps) -> None:
    world.faults.set("siasn.ref-unor", Fault(kind="error", status=502))

    with pytest.raises(UpstreamError) as caught:
        bkn_client(world, sleeps, max_attempts=3).units()
    assert (caught.value.status, caught.value.retryable) == (502, True)
    assert "502 Bad Gateway" in (caught.value.body or "")
    assert world.faults.requests["siasn.ref-unor"] == 3


@pytest.mark.parametrize("status", [503, 401])
def test_a_suspended_backend_is_retried_without_new_tokens(world: MockWorld, sleeps: Sleeps, status: int) -> None:
    world.faults.set("siasn.ref-unor", Fault(kind="suspended", status=status, times=1))
    units, _ = bkn_client(world, sleeps).units()

    assert len(units) == len(METRO.units)
    assert world.faults.requests["auth.token"] == 1
    assert len(sleeps) == 1


def test_slow_answers_wait_through_the_injected_sleep(world: MockWorld, world_sleeps: Sleeps,
                                                      sleeps: Sleeps) -> None:
    world.faults.set("ekinerja.aktivitas", Fault(kind="slow", delay=0.25, times=3))

    assert len(synced_ids(world, sleeps)) == ACTIVITIES
    assert world_sleeps == [0.25, 0.25, 0.25]
    assert sleeps == []  # slow is not an error: nothing is retried


def test_a_timeout_is_retried(world: MockWorld, sleeps: Sleeps) -> None:
    world.faults.set("ekinerja.aktivitas", Fault(kind="timeout", after=1, times=2))

    assert len(synced_ids(world, sleeps)) == ACTIVITIES
    assert len(sleeps) == 2


@pytest.mark.parametrize("refused", [False, True])
def test_a_connection_reset_or_refused_is_retried(world: MockWorld, sleeps: Sleeps, refused: bool) -> None:
    world.faults.set("ekinerja.aktivitas", Fault(kind="reset", refused=refused, times=1))
    transport_errors: list[type[Exception]] = []
    handler = world.router.handler

    def spy(request: httpx.Request) -> httpx.Response:
        try:
            return handler(request)
        except httpx.TransportError as exc:
            transport_errors.append(type(exc))
            raise

    world.router.handler = spy  # type: ignore[method-assign]
    assert len(synced_ids(world, sleeps)) == ACTIVITIES
    assert len(sleeps) == 1
    [error] = transport_errors
    assert issubclass(error, httpx.ConnectError if refused else httpx.RemoteProtocolError)


@pytest.mark.parametrize("kind", ["truncated", "malformed"])
def test_broken_json_is_asked_again(world: MockWorld, sleeps: Sleeps, kind: str) -> None:
    world.faults.set("ekinerja.aktivitas", Fault(kind=kind, after=2, times=1))  # type: ignore[arg-type]

    assert len(synced_ids(world, sleeps)) == ACTIVITIES
    assert len(sleeps) == 1


def test_a_page_repeating_records_of_the_page_before_brings_identical_copies(world: MockWorld,
                                                                             sleeps: Sleeps) -> None:
    before = [row["id"] for row in world.bkn.streams["aktivitas"]]
    world.faults.set("ekinerja.aktivitas", Fault(kind="duplicate", records=5, after=1, times=1))
    rows = activity_rows(world, sleeps)
    ids = [row["id"] for row in rows]

    repeated = before[PAGE - 5:PAGE]
    assert ids[PAGE:PAGE + 5] == repeated  # the second page starts with the first page's last five
    assert [i for i, n in Counter(ids).items() if n > 1] == repeated
    assert sorted(set(ids)) == sorted(before)  # nothing skipped
    copies = [row for row in rows if row["id"] in repeated]
    assert all(copies[i] == copies[i + 5] for i in range(5))  # identical copies


def test_records_changing_mid_sync_come_again_at_the_end_and_nothing_is_skipped(world: MockWorld,
                                                                                sleeps: Sleeps) -> None:
    before = [dict(row) for row in world.bkn.streams["aktivitas"]]
    world.faults.set("ekinerja.aktivitas", Fault(kind="records-change", records=3, after=2, times=1))
    rows = activity_rows(world, sleeps)
    ids = [row["id"] for row in rows]

    changed = rows[-3:]
    assert all(row["keterangan"].endswith(" (diubah)") for row in changed)
    assert all(row["updatedAt"] > before[-1]["updatedAt"] for row in changed)
    assert {row["id"] for row in changed} <= {row["id"] for row in before[PAGE:2 * PAGE]}  # from the page before
    # Keyset paging under updates: every row read once, and the three changed ones again with their new content.
    assert set(ids) == {row["id"] for row in before}
    assert len(rows) == ACTIVITIES + 3
    # A fresh full sync sees every record once, with the new content.
    assert sorted(synced_ids(world, sleeps)) == sorted(row["id"] for row in before)


def test_a_sync_under_record_changes_misses_no_record(world: MockWorld, sleeps: Sleeps) -> None:
    everyone = {row["id"] for row in world.bkn.streams["aktivitas"]}
    world.faults.set("ekinerja.aktivitas", Fault(kind="records-change", records=3, after=2, times=1))

    assert set(synced_ids(world, sleeps)) == everyone


def test_tokens_expiring_mid_sync_are_refreshed(world: MockWorld, sleeps: Sleeps) -> None:
    world.faults.set("ekinerja.aktivitas", Fault(kind="token-expiry", after=2, times=1))
    ids = synced_ids(world, sleeps)

    assert sorted(ids) == sorted(a.id for a in METRO.activities)
    assert world.faults.requests["auth.token"] == world.faults.requests["auth.sso"] == 2
    assert sleeps == []


def test_a_payroll_answer_lost_to_a_timeout_is_not_booked_twice(world: MockWorld, sleeps: Sleeps) -> None:
    world.faults.set("payroll.submit", Fault(kind="timeout", times=1))
    answer = payroll_client(world, sleeps).submit(a_batch(), "metro-2026-03-opd1-v1")

    assert world.payroll.submissions == 2  # booked on the first, answered on the retry
    assert [b.batch_id for b in world.payroll.ledger] == [answer.batch_id] * 3
    assert set(world.payroll.booked().values()) == {1}
    assert len(sleeps) == 1


def test_a_refused_payroll_submission_is_booked_by_the_retry(world: MockWorld, sleeps: Sleeps) -> None:
    world.faults.set("payroll.submit", Fault(kind="reset", refused=True, times=1))
    payroll_client(world, sleeps).submit(a_batch(), "metro-2026-03-opd1-v1")

    assert world.payroll.submissions == 1  # the refused request never reached payroll
    assert len(world.payroll.ledger) == 3


# pre-encoded pages -------------------------------------------------------------------------------------------------
def test_listing_pages_are_encoded_once_and_served_as_the_same_bytes(world: MockWorld) -> None:
    mock = world.bkn
    url = f"{EP.ekinerja_url}/aktivitas?limit=100&offset=100&periode={PERIOD}"
    auth = _tokens(world)
    with httpx.Client(transport=world.transport()) as client:
        first, again = client.get(url, headers=auth), client.get(url, headers=auth)

    assert first.content == again.content
    assert mock.renders == 1
    body = first.json()
    assert body["count"] == ACTIVITIES
    assert [r["id"] for r in body["data"]] == [r["id"] for r in mock.streams["aktivitas"][100:200]]


def test_pages_are_encoded_afresh_after_a_load_or_a_change(world: MockWorld, sleeps: Sleeps) -> None:
    url = f"{EP.ekinerja_url}/aktivitas?limit=100&offset=0&periode={PERIOD}"
    auth = _tokens(world)
    smaller = METRO.model_copy(update={"activities": METRO.activities[:10]})
    with httpx.Client(transport=world.transport()) as client:
        before = client.get(url, headers=auth).json()
        client.get(url, headers=auth)
        assert world.bkn.renders == 1
        world.load(smaller)
        assert world.bkn.renders == 0
        after = client.get(url, headers=auth).json()
        assert world.bkn.renders == 1
        world.load(METRO)
        world.faults.set("ekinerja.aktivitas", Fault(kind="records-change", records=1, times=1))
        client.get(f"{EP.ekinerja_url}/aktivitas?limit=100&offset=100&periode={PERIOD}", headers=auth)
        changed = client.get(url, headers=auth).json()
        assert world.bkn.renders == 2  # both pages encoded after the change

    assert (before["count"], after["count"]) == (ACTIVITIES, 10)
    assert changed["count"] == ACTIVITIES and changed["data"] != before["data"]


def test_a_bkn_mock_loads_wire_records_without_a_scenario(sleeps: Sleeps) -> None:
    rows = [{"id": f"ACT-{i:05d}", "nip": "198001012005011001", "indikatorId": "IND-1", "tanggal": "02-03-2026",
             "jumlah": "1", "dibuatPada": "2026-03-02T16:00:00+07:00", "updatedAt": "2026-04-01T07:00:00+07:00"}
            for i in range(1_234, 0, -1)]  # out of order: the mock sorts by (updatedAt, id)
    bkn = BknMock.from_records({"aktivitas": iter(rows)})
    world = MockWorld(METRO, bkn=bkn)
    pages, size = bkn.prerender("aktivitas", PERIOD, limit=PAGE)
    ids = synced_ids(world, sleeps)

    assert pages == 25 and size > 0
    assert ids == sorted(r["id"] for r in rows)
    assert bkn.renders == 25  # the sync met only pages encoded beforehand
    with pytest.raises(ValueError, match="unknown e-Kinerja streams"):
        BknMock.from_records({"activities": []})


def _tokens(world: MockWorld) -> dict[str, str]:
    with httpx.Client(transport=world.transport()) as client:
        gw = client.post(EP.token_url, data={"grant_type": "client_credentials"}, auth=DEMO_CONSUMER).json()
        sso = client.post(EP.sso_url, data={"grant_type": "password", "username": DEMO_SSO[0],
                                            "password": DEMO_SSO[1]}).json()
    return {"Authorization": f"Bearer {gw['access_token']}", "Auth": f"bearer {sso['access_token']}"}


# payroll -----------------------------------------------------------------------------------------------------------
def concurrently(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released at the same moment; their results in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait(timeout=10)
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test looks at what each thread met
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_concurrent_duplicate_submissions_book_each_line_once(world: MockWorld) -> None:
    body = a_batch().model_dump_json().encode()
    headers = {"X-API-Key": DEMO_API_KEY, "Idempotency-Key": "metro-2026-03-opd1-v1",
               "Content-Type": "application/json"}

    def submit(i: int) -> tuple[int, str]:
        with httpx.Client(transport=world.transport()) as client:
            answer = client.post(f"{EP.payroll_url}/batches", content=body, headers=headers)
        return answer.status_code, answer.json()["batch_id"]

    results = concurrently(8, submit)

    assert sorted(status for status, _ in results) == [200] * 7 + [202]
    assert len({batch for _, batch in results}) == 1
    assert len(world.payroll.ledger) == 3
    assert set(world.payroll.booked().values()) == {1}


def test_concurrent_submissions_of_one_key_with_other_bodies_get_409(world: MockWorld) -> None:
    def submit(i: int) -> int:
        body = a_batch(amount=1_000_000 + i % 2).model_dump_json().encode()
        with httpx.Client(transport=world.transport()) as client:
            return client.post(f"{EP.payroll_url}/batches", content=body, headers={
                "X-API-Key": DEMO_API_KEY, "Idempotency-Key": "k1"}).status_code

    statuses = Counter(concurrently(8, submit))

    assert statuses[202] == 1 and statuses[409] == 4 and statuses[200] == 3  # the winner's body: 4 of 8
    assert len(world.payroll.ledger) == 3


def test_payroll_acknowledges_each_line_later_with_its_reason(sleeps: Sleeps) -> None:
    paid = [e for e in METRO.employees if e.bank_account]
    unpaid = next(e for e in METRO.employees if not e.bank_account)
    world = MockWorld(METRO)
    world.payroll.budget_per_opd = {paid[0].unit_id: 3_000_000}
    client = payroll_client(world, sleeps)
    batch = a_batch(nips=[paid[0].nip, "199912312020121001", unpaid.nip, paid[1].nip, paid[2].nip])
    first = client.submit(batch, "k-lines")
    later = client.status(first.batch_id)

    assert first.status == "received" and {ln.status for ln in first.lines} == {"pending"}
    assert later.status == "completed"
    assert [(ln.status, ln.reason) for ln in later.lines] == [
        ("accepted", None), ("rejected", REJECT_UNKNOWN_NIP), ("rejected", REJECT_NO_ACCOUNT),
        ("accepted", None), ("rejected", REJECT_BUDGET)]
    assert sum(b.amount for b in world.payroll.ledger) == 3_000_000
    assert world.payroll.snapshot()["booked_twice"] == []
