"""The HTTP connectors (BKN, BSrE TTE, payroll) against the respx mocks in `mocks/`.

Everything goes through `httpx.MockTransport`: a `Recorder` keeps every request and answer, `Scripted` answers
chosen requests with faults before the mock gets them. Nothing sleeps: the clients get a list-appending `sleep`,
and BKN's token lifetimes run on a `FakeClock`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from gateway.connectors import BknAuth, BknClient, BknCredentials, PayrollClient, TteClient
from gateway.connectors.wire import siasn
from gateway.connectors.wire.payroll import BatchRequest, PayrollLine
from gateway.domain import WIB, Activity, TteConclusion
from gateway.errors import UpstreamAuthError, UpstreamError
from mocks import DEMO_API_KEY, DEMO_BASIC, DEMO_CONSUMER, DEMO_SSO, BknMock, Endpoints, MockWorld, Scenario
from mocks.signing import signed_pool

METRO = Scenario.bundled("metro")
PERIOD = METRO.period
EP = Endpoints()
TOKEN_PATH = httpx.URL(EP.token_url).path
SSO_PATH = httpx.URL(EP.sso_url).path
REF_UNOR = "/referensi/ref-unor"
AKTIVITAS = "/ekinerja/1.0/aktivitas"
SUSPENDED_BODY = {"fault": {"code": 303001, "message": "Runtime Error", "description":
                            "Currently , Address endpoint : [ Name : ekinerja ] - Current state : SUSPENDED"}}
CONNECT_ERROR = object()  # a scripted answer: the transport raises httpx.ConnectError instead of answering


# helpers -----------------------------------------------------------------------------------------------------------
Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """A monotonic clock in seconds that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """Passes every request on and keeps it with its answer (None when the transport raised)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.exchanges: list[tuple[httpx.Request, httpx.Response | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # A copy: on a 401 the auth flow re-signs and re-sends the very same request object.
        request = httpx.Request(request.method, request.url, headers=request.headers.copy(), content=request.content)
        self.exchanges.append((request, None))
        response = self.handler(request)
        self.exchanges[-1] = (request, response)
        return response

    def requests(self, path_suffix: str) -> list[httpx.Request]:
        return [req for req, _ in self.exchanges if req.url.path.endswith(path_suffix)]

    def answers(self, path_suffix: str) -> list[int | None]:
        return [resp.status_code if resp is not None else None
                for req, resp in self.exchanges if req.url.path.endswith(path_suffix)]


class Scripted:
    """Answers requests to one path with the scripted answers first, in order; then lets the mock answer."""

    def __init__(self, handler: Handler, path_suffix: str, *answers: httpx.Response | object) -> None:
        self.handler, self.path_suffix, self.answers = handler, path_suffix, list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(self.path_suffix) and self.answers:
            answer = self.answers.pop(0)
            if answer is CONNECT_ERROR:
                raise httpx.ConnectError("connection refused", request=request)
            assert isinstance(answer, httpx.Response)
            return answer
        return self.handler(request)


def demo_credentials(**overrides: Any) -> BknCredentials:
    fields: dict[str, Any] = {"consumer_key": DEMO_CONSUMER[0], "consumer_secret": DEMO_CONSUMER[1],
                              "sso_client_id": "demo", "username": DEMO_SSO[0], "password": DEMO_SSO[1]}
    return BknCredentials(**(fields | overrides))


def bkn_client(handler: Handler, sleeps: list[float], *, credentials: BknCredentials | None = None,
               clock: Callable[[], float] | None = None, page_size: int = 50, max_attempts: int = 5) -> BknClient:
    auth = BknAuth(EP.token_url, EP.sso_url, credentials or demo_credentials(), clock=clock or FakeClock())
    return BknClient(EP.siasn_url, EP.ekinerja_url, auth, page_size=page_size, max_attempts=max_attempts,
                     transport=httpx.MockTransport(handler), sleep=sleeps.append)


def bkn_only(mock: BknMock) -> Handler:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    mock.mount(router, siasn_url=EP.siasn_url, ekinerja_url=EP.ekinerja_url, token_url=EP.token_url,
               sso_url=EP.sso_url)
    return router.handler


def pages_of(count: int, page_size: int) -> int:
    return -(-count // page_size)


def activity_ids(pages: list[Any]) -> list[str]:
    return [record.id for page in pages for record in page.records]


def form(request: httpx.Request) -> dict[str, str]:
    return dict(httpx.QueryParams(request.content.decode()))


def json_error(status: int, message: str = "nope", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"code": 0, "message": message}, headers=headers)


@pytest.fixture
def world() -> MockWorld:
    return MockWorld(METRO)


@pytest.fixture
def sleeps() -> list[float]:
    return []


# 1. BKN two-token flow ---------------------------------------------------------------------------------------------
def test_gateway_token_is_asked_with_http_basic_and_client_credentials(world: MockWorld, sleeps: list[float]) -> None:
    recorder = Recorder(world.router.handler)
    bkn_client(recorder, sleeps).units()

    [token_request] = recorder.requests(TOKEN_PATH)
    assert token_request.method == "POST"
    basic = base64.b64encode(f"{DEMO_CONSUMER[0]}:{DEMO_CONSUMER[1]}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {basic}"
    assert form(token_request) == {"grant_type": "client_credentials"}


def test_sso_token_is_asked_by_password_grant(world: MockWorld, sleeps: list[float]) -> None:
    recorder = Recorder(world.router.handler)
    next(bkn_client(recorder, sleeps).stream("aktivitas", PERIOD))

    [sso_request] = recorder.requests(SSO_PATH)
    assert form(sso_request) == {"grant_type": "password", "client_id": "demo", "username": DEMO_SSO[0],
                                 "password": DEMO_SSO[1]}


def test_data_calls_carry_both_tokens_and_tokens_are_reused(world: MockWorld, sleeps: list[float]) -> None:
    recorder = Recorder(world.router.handler)
    client = bkn_client(recorder, sleeps, page_size=50)
    pages = list(client.stream("aktivitas", PERIOD))
    client.units()

    data_calls = recorder.requests(AKTIVITAS)
    assert len(data_calls) == len(pages) == pages_of(len(METRO.activities), 50) > 1
    assert len(recorder.requests(TOKEN_PATH)) == 1
    assert len(recorder.requests(SSO_PATH)) == 1
    (_, gw_answer), (_, sso_answer) = recorder.exchanges[:2]
    gw, sso = gw_answer.json()["access_token"], sso_answer.json()["access_token"]
    assert {(r.headers["Authorization"], r.headers["Auth"]) for r in data_calls} == {(f"Bearer {gw}",
                                                                                       f"bearer {sso}")}
    assert recorder.requests(REF_UNOR)[0].headers["Authorization"] == f"Bearer {gw}"


# 2. token expiry ---------------------------------------------------------------------------------------------------
def test_tokens_expiring_mid_sync_are_refreshed_once_and_the_page_asked_again(world: MockWorld,
                                                                             sleeps: list[float]) -> None:
    recorder = Recorder(world.router.handler)
    pages = bkn_client(recorder, sleeps, page_size=50).stream("aktivitas", PERIOD)
    first = next(pages)
    world.bkn.expire_tokens()
    rest = list(pages)

    ids = activity_ids([first, *rest])
    assert len(ids) == len(set(ids)) == len(METRO.activities)
    assert len(recorder.requests(TOKEN_PATH)) == 2
    assert len(recorder.requests(SSO_PATH)) == 2
    assert recorder.answers(AKTIVITAS) == [200, 401] + [200] * (pages_of(len(METRO.activities), 50) - 1)
    refused, retried = recorder.requests(AKTIVITAS)[1:3]
    first_last = world.bkn.streams["aktivitas"][49]
    assert refused.url.params["after"] == retried.url.params["after"] == f"{first_last['updatedAt']}|{first_last['id']}"
    assert refused.headers["Authorization"] != retried.headers["Authorization"]
    assert refused.headers["Auth"] != retried.headers["Auth"]
    assert sleeps == []  # the 401 refresh is not a backoff retry


def test_tokens_past_their_lifetime_on_the_clock_are_refreshed_before_the_call(sleeps: list[float]) -> None:
    clock = FakeClock()
    mock = BknMock(METRO, clock=clock, token_lifetime=3600)
    recorder = Recorder(bkn_only(mock))
    pages = bkn_client(recorder, sleeps, clock=clock, page_size=50).stream("aktivitas", PERIOD)
    first = next(pages)
    clock.advance(3600)
    rest = list(pages)

    assert len(activity_ids([first, *rest])) == len(METRO.activities)
    assert len(recorder.requests(TOKEN_PATH)) == 2
    assert len(recorder.requests(SSO_PATH)) == 2
    assert 401 not in recorder.answers(AKTIVITAS)


def test_a_pasted_sso_token_is_used_as_is_even_when_the_gateway_token_is_refreshed(world: MockWorld,
                                                                                  sleeps: list[float]) -> None:
    with httpx.Client(transport=world.transport()) as operator:  # the operator logged in and copied the token
        pasted = operator.post(EP.sso_url, data={"grant_type": "password", "username": DEMO_SSO[0],
                                                 "password": DEMO_SSO[1]}).json()["access_token"]
    recorder = Recorder(Scripted(world.router.handler, AKTIVITAS, json_error(401, siasn.INVALID_CREDENTIALS)))
    credentials = demo_credentials(password="", sso_token=pasted)
    pages = list(bkn_client(recorder, sleeps, credentials=credentials).stream("aktivitas", PERIOD))

    assert len(activity_ids(pages)) == len(METRO.activities)
    assert recorder.requests(SSO_PATH) == []
    assert len(recorder.requests(TOKEN_PATH)) == 2  # the 401 refreshed the gateway token only
    assert {r.headers["Auth"] for r in recorder.requests(AKTIVITAS)} == {f"bearer {pasted}"}


# 3. refused credentials --------------------------------------------------------------------------------------------
def test_wrong_consumer_secret_raises_auth_error_at_once(world: MockWorld, sleeps: list[float]) -> None:
    recorder = Recorder(world.router.handler)
    client = bkn_client(recorder, sleeps, credentials=demo_credentials(consumer_secret="not-the-secret"))

    with pytest.raises(UpstreamAuthError, match="consumer key/secret") as caught:
        client.units()
    assert "gateway token" in str(caught.value)
    assert (caught.value.status, caught.value.retryable) == (401, False)
    assert len(recorder.requests(TOKEN_PATH)) == 1
    assert world.bkn.calls == []
    assert sleeps == []


def test_wrong_sso_password_raises_auth_error_at_once(world: MockWorld, sleeps: list[float]) -> None:
    recorder = Recorder(world.router.handler)
    client = bkn_client(recorder, sleeps, credentials=demo_credentials(password="not-the-password"))

    with pytest.raises(UpstreamAuthError, match="SSO token"):
        next(client.stream("aktivitas", PERIOD))
    assert len(recorder.requests(SSO_PATH)) == 1
    assert world.bkn.calls == []
    assert sleeps == []


def test_a_call_still_refused_after_the_token_refresh_is_not_tried_again(world: MockWorld,
                                                                         sleeps: list[float]) -> None:
    refused = [json_error(401, siasn.SSO_MISMATCH), json_error(401, siasn.SSO_MISMATCH)]
    recorder = Recorder(Scripted(world.router.handler, AKTIVITAS, *refused))

    with pytest.raises(UpstreamAuthError) as caught:
        next(bkn_client(recorder, sleeps).stream("aktivitas", PERIOD))
    assert caught.value.status == 401
    assert recorder.answers(AKTIVITAS) == [401, 401]
    assert len(recorder.requests(TOKEN_PATH)) == 2
    assert sleeps == []


# 4. retries --------------------------------------------------------------------------------------------------------
def test_429_waits_as_long_as_retry_after_says(world: MockWorld, sleeps: list[float]) -> None:
    recorder = Recorder(Scripted(world.router.handler, REF_UNOR, json_error(429, "slow down", **{"Retry-After": "7"})))
    units, _ = bkn_client(recorder, sleeps).units()

    assert len(units) == len(METRO.units)
    assert recorder.answers(REF_UNOR) == [429, 200]
    assert sleeps == [7.0]
    assert len(recorder.requests(TOKEN_PATH)) == 1  # the retry reuses the token


def test_503_twice_then_success_takes_three_calls(world: MockWorld, sleeps: list[float]) -> None:
    recorder = Recorder(Scripted(world.router.handler, REF_UNOR, json_error(503), json_error(503)))
    units, _ = bkn_client(recorder, sleeps).units()

    assert len(units) == len(METRO.units)
    assert recorder.answers(REF_UNOR) == [503, 503, 200]
    assert len(sleeps) == 2


@pytest.mark.parametrize("path", [TOKEN_PATH, SSO_PATH])
def test_a_token_request_answered_429_waits_as_retry_after_says_and_is_asked_again(
        world: MockWorld, sleeps: list[float], path: str) -> None:
    recorder = Recorder(Scripted(world.router.handler, path, json_error(429, "slow down", **{"Retry-After": "11"})))
    page = next(bkn_client(recorder, sleeps).stream("aktivitas", PERIOD))

    assert page.records
    assert recorder.answers(path) == [429, 200]
    assert sleeps == [11.0]


@pytest.mark.parametrize("fault", ["503", "timeout", "truncated", "no-token"])
def test_a_failing_token_request_is_retried_like_any_other_call(world: MockWorld, sleeps: list[float],
                                                                fault: str) -> None:
    answer = {"503": json_error(503), "timeout": CONNECT_ERROR,
              "truncated": httpx.Response(200, content=b'{"access_token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIi'),
              "no-token": httpx.Response(200, json={"token_type": "Bearer"})}[fault]
    recorder = Recorder(Scripted(world.router.handler, TOKEN_PATH, answer))
    units, _ = bkn_client(recorder, sleeps).units()

    assert len(units) == len(METRO.units)
    assert len(recorder.requests(TOKEN_PATH)) == 2
    assert len(sleeps) == 1


def test_a_token_answer_still_malformed_after_the_retries_is_an_upstream_error_without_the_token(
        world: MockWorld, sleeps: list[float]) -> None:
    secret = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJnYXRld2F5In0"
    truncated = [httpx.Response(200, content=b'{"access_token": "' + secret.encode()) for _ in range(3)]
    recorder = Recorder(Scripted(world.router.handler, TOKEN_PATH, *truncated))

    with pytest.raises(UpstreamError, match="BKN sent a malformed gateway token answer") as caught:
        bkn_client(recorder, sleeps, max_attempts=3).units()
    assert caught.value.retryable
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no pydantic error with the input
    assert "eyJ" not in str(caught.value)
    assert len(recorder.requests(TOKEN_PATH)) == 3


@pytest.mark.parametrize("status", [500, 401])
def test_a_suspended_backend_is_retried_without_refreshing_tokens(world: MockWorld, sleeps: list[float],
                                                                  status: int) -> None:
    suspended = httpx.Response(status, json=SUSPENDED_BODY)
    recorder = Recorder(Scripted(world.router.handler, REF_UNOR, suspended))
    units, _ = bkn_client(recorder, sleeps).units()

    assert len(units) == len(METRO.units)
    assert recorder.answers(REF_UNOR) == [status, 200]
    assert len(recorder.requests(TOKEN_PATH)) == 1
    assert len(sleeps) == 1


def test_truncated_json_is_asked_again(world: MockWorld, sleeps: list[float]) -> None:
    truncated = httpx.Response(200, content=b'{"code": 1, "count": 21, "data": [{"Id": "F38B',
                               headers={"Content-Type": "application/json"})
    recorder = Recorder(Scripted(world.router.handler, REF_UNOR, truncated))
    units, _ = bkn_client(recorder, sleeps).units()

    assert len(units) == len(METRO.units)
    assert recorder.answers(REF_UNOR) == [200, 200]
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_a_non_retryable_4xx_raises_at_once(world: MockWorld, sleeps: list[float], status: int) -> None:
    recorder = Recorder(Scripted(world.router.handler, REF_UNOR, json_error(status, "bad request")))

    with pytest.raises(UpstreamError) as caught:
        bkn_client(recorder, sleeps).units()
    assert not isinstance(caught.value, UpstreamAuthError)
    assert (caught.value.status, caught.value.retryable) == (status, False)
    assert "bad request" in (caught.value.body or "")
    assert recorder.answers(REF_UNOR) == [status]
    assert sleeps == []


def test_a_transport_error_is_retried(world: MockWorld, sleeps: list[float]) -> None:
    recorder = Recorder(Scripted(world.router.handler, REF_UNOR, CONNECT_ERROR))
    units, _ = bkn_client(recorder, sleeps).units()

    assert len(units) == len(METRO.units)
    assert recorder.answers(REF_UNOR) == [None, 200]
    assert len(sleeps) == 1


def test_retries_stop_after_max_attempts_with_the_last_status(world: MockWorld, sleeps: list[float]) -> None:
    recorder = Recorder(Scripted(world.router.handler, REF_UNOR, *[json_error(503)] * 10))

    with pytest.raises(UpstreamError) as caught:
        bkn_client(recorder, sleeps, max_attempts=3).units()
    assert (caught.value.status, caught.value.retryable) == (503, True)
    assert recorder.answers(REF_UNOR) == [503, 503, 503]
    assert len(sleeps) == 2


def test_an_unreachable_upstream_raises_upstream_error_after_max_attempts(world: MockWorld,
                                                                          sleeps: list[float]) -> None:
    recorder = Recorder(Scripted(world.router.handler, REF_UNOR, *[CONNECT_ERROR] * 10))

    with pytest.raises(UpstreamError, match="bkn") as caught:
        bkn_client(recorder, sleeps, max_attempts=3).units()
    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert recorder.answers(REF_UNOR) == [None, None, None]
    assert len(sleeps) == 2


# 5. paging ---------------------------------------------------------------------------------------------------------
def test_activity_stream_yields_every_activity_once_in_order_with_keyset_cursors(world: MockWorld,
                                                                                 sleeps: list[float]) -> None:
    rows = world.bkn.streams["aktivitas"]
    for i, row in enumerate(rows):  # distinct stamps, still ordered by (updatedAt, id)
        row["updatedAt"] = (METRO.updated_at + timedelta(minutes=i)).isoformat()
    pages = list(bkn_client(world.router.handler, sleeps, page_size=50).stream("aktivitas", PERIOD))

    assert [p.offset for p in pages] == list(range(0, len(rows), 50))
    assert {p.total for p in pages} == {len(METRO.activities)}
    assert all(isinstance(r, Activity) for p in pages for r in p.records)
    assert activity_ids(pages) == [row["id"] for row in rows]
    assert sorted(activity_ids(pages)) == sorted(a.id for a in METRO.activities)
    # Keyset cursors: the (updatedAt, id) of each page's last row, asked for as `after` by the next page.
    assert [p.cursor for p in pages] == [f"{p_rows[-1]['updatedAt']}|{p_rows[-1]['id']}" for p_rows in
                                         (rows[i:i + 50] for i in range(0, len(rows), 50))]
    assert pages[-1].cursor == max(f"{row['updatedAt']}|{row['id']}" for row in rows)
    assert all(p.problems == [] for p in pages)


def test_units_are_paged_and_levelled_from_the_tree(world: MockWorld, sleeps: list[float]) -> None:
    world.bkn.units.reverse()  # children before their parents: the levels must not depend on the order
    recorder = Recorder(world.router.handler)
    units, problems = bkn_client(recorder, sleeps, page_size=5).units()

    assert problems == []
    assert len(recorder.requests(REF_UNOR)) == pages_of(len(METRO.units), 5) > 1
    assert sorted(u.id for u in units) == sorted(u.id for u in METRO.units)
    assert {u.level for u in units} == {"pemda", "opd", "bidang", "seksi"}
    by_id = {u.id: u for u in units}
    parent_level = {"opd": "pemda", "bidang": "opd", "seksi": "bidang"}
    for unit in units:
        if unit.parent_id is None:
            assert unit.level == "pemda"
        else:
            assert by_id[unit.parent_id].level == parent_level[unit.level]


def test_units_with_a_cyclic_or_missing_parent_become_problems(world: MockWorld, sleeps: list[float]) -> None:
    a, b, child, orphan = "A" * 32, "B" * 32, "C" * 32, "D" * 32
    world.bkn.units += [
        {"Id": a, "DiatasanId": b, "NamaUnor": "Cycle A"},
        {"Id": b, "DiatasanId": a, "NamaUnor": "Cycle B"},
        {"Id": child, "DiatasanId": a, "NamaUnor": "Under the cycle"},
        {"Id": orphan, "DiatasanId": "E" * 32, "NamaUnor": "Parent not in SIASN"},
    ]
    units, problems = bkn_client(world.router.handler, sleeps).units()

    assert {p.record_id for p in problems} == {a, b, child, orphan}
    assert {p.rule for p in problems} == {"unit-tree"}
    assert len(units) == len(METRO.units)


# 6. malformed records ----------------------------------------------------------------------------------------------
def test_malformed_activities_become_wire_format_problems_and_the_page_goes_on(world: MockWorld,
                                                                               sleeps: list[float]) -> None:
    rows = world.bkn.streams["aktivitas"]
    rows[0]["jumlah"] = "abc"
    del rows[1]["indikatorId"]
    rows[2]["nip"] = "12345"
    rows[3]["nip"] = 198803032012032003  # a number, not a string
    bad = [row["id"] for row in rows[:4]]
    first = next(bkn_client(world.router.handler, sleeps, page_size=50).stream("aktivitas", PERIOD))

    assert [p.record_id for p in first.problems] == bad
    assert {p.rule for p in first.problems} == {"wire-format"}
    assert all(p.record_id in p.message for p in first.problems)
    assert "indikatorId" in first.problems[1].message
    assert first.problems[3].nip == "198803032012032003"
    assert [r.id for r in first.records] == [row["id"] for row in rows[4:50]]
    assert set(first.raw) == {row["id"] for row in rows[:50]}  # the payloads kept for quarantine


# 7. BSrE TTE -------------------------------------------------------------------------------------------------------
def tte_client(handler: Handler, sleeps: list[float], basic: tuple[str, str] = DEMO_BASIC) -> TteClient:
    return TteClient(EP.tte_url, *basic, transport=httpx.MockTransport(handler), sleep=sleeps.append)


@pytest.mark.parametrize(("kind", "expected"), [
    ("valid", TteConclusion.VALID),
    ("altered", TteConclusion.INVALID),  # signed, then changed: the signature no longer matches
    ("foreign", TteConclusion.INVALID),
    ("unsigned", TteConclusion.NO_SIGNATURE),
])
def test_tte_conclusions_map_to_the_domain(world: MockWorld, sleeps: list[float], kind: str,
                                          expected: TteConclusion) -> None:
    kinds = {doc.id: doc.kind for doc in signed_pool()}  # the bundled scenario's documents are this pool
    evidence = next(e for e in METRO.evidence if e.document_id and kinds[e.document_id] == kind)
    conclusion, description = tte_client(world.router.handler, sleeps).verify(world.bkn.documents[evidence.id])

    assert conclusion is expected
    assert description


def test_tte_conclusion_in_another_word_means_invalid(sleeps: list[float]) -> None:
    def bsre(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"conclusion": "WARNING", "description": "certificate revoked"})

    assert tte_client(bsre, sleeps).verify(b"%PDF-1.7") == (TteConclusion.INVALID, "certificate revoked")


def test_tte_sends_the_same_document_only_once(world: MockWorld, sleeps: list[float]) -> None:
    one = world.bkn.documents[METRO.evidence[0].id]
    other = next(doc for doc in world.bkn.documents.values() if doc != one)
    client = tte_client(world.router.handler, sleeps)

    first = client.verify(one)
    assert client.verify(bytes(one)) == first
    client.verify(other)
    assert world.tte.calls == 2


def test_tte_wrong_basic_credentials_raise_auth_error_at_once(world: MockWorld, sleeps: list[float]) -> None:
    client = tte_client(world.router.handler, sleeps, basic=(DEMO_BASIC[0], "wrong"))

    with pytest.raises(UpstreamAuthError) as caught:
        client.verify(world.bkn.documents[METRO.evidence[0].id])
    assert caught.value.status == 401
    assert world.tte.calls == 1
    assert sleeps == []


# 8. payroll --------------------------------------------------------------------------------------------------------
def payroll_client(world: MockWorld, sleeps: list[float]) -> PayrollClient:
    return PayrollClient(EP.payroll_url, DEMO_API_KEY, transport=world.transport(), sleep=sleeps.append)


def a_batch(amount: int = 1_500_000) -> BatchRequest:
    paid = [e for e in METRO.employees if e.bank_account][:3]
    return BatchRequest(tenant="metro", period=PERIOD, opd_id=paid[0].unit_id, lines=[
        PayrollLine(line_id=f"L{i}", nip=e.nip, amount=amount) for i, e in enumerate(paid)])


def test_payroll_same_key_same_body_gives_the_same_batch_and_books_once(world: MockWorld,
                                                                        sleeps: list[float]) -> None:
    client = payroll_client(world, sleeps)
    first = client.submit(a_batch(), "metro-2026-03-opd1-v1")
    again = client.submit(a_batch(), "metro-2026-03-opd1-v1")

    assert again.batch_id == first.batch_id
    assert world.payroll.submissions == 2
    assert len(world.payroll.ledger) == 3
    assert set(world.payroll.booked().values()) == {1}


def test_payroll_same_key_other_body_is_a_non_retryable_409(world: MockWorld, sleeps: list[float]) -> None:
    client = payroll_client(world, sleeps)
    client.submit(a_batch(), "metro-2026-03-opd1-v1")

    with pytest.raises(UpstreamError) as caught:
        client.submit(a_batch(amount=1_600_000), "metro-2026-03-opd1-v1")
    assert (caught.value.status, caught.value.retryable) == (409, False)
    assert world.payroll.submissions == 2
    assert len(world.payroll.ledger) == 3
    assert sleeps == []


def test_a_resumed_sync_starts_after_the_last_committed_row(world: MockWorld, sleeps: list[float]) -> None:
    client = bkn_client(world.router.handler, sleeps, page_size=50)
    pages = client.stream("aktivitas", PERIOD)
    committed = [next(pages), next(pages)]  # the sync was killed after two committed pages
    resumed = list(client.stream("aktivitas", PERIOD, committed[-1].cursor))
    assert activity_ids(committed) + activity_ids(resumed) == [row["id"] for row in world.bkn.streams["aktivitas"]]


def test_an_upstream_ignoring_the_keyset_is_an_error_not_an_endless_loop(sleeps: list[float]) -> None:
    page = {"code": 1, "count": 3, "data": [
        {"id": f"A{i}", "nip": "198803032012032003", "indikatorId": "K", "tanggal": "02-03-2026", "jumlah": "1",
         "dibuatPada": "2026-03-02T16:00:00+07:00", "updatedAt": "2026-04-01T07:00:00+07:00"} for i in range(2)]}

    def stuck(request: httpx.Request) -> httpx.Response:
        if "oauth2" in request.url.path or "openid" in request.url.path:
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(200, json=page)

    with pytest.raises(UpstreamError, match="did not move past"):
        list(bkn_client(stuck, sleeps, page_size=2).stream("aktivitas", PERIOD))


def test_position_group_and_photo_metadata_reach_the_domain(sleeps: list[float]) -> None:
    base = Scenario.bundled("metro")
    employee = base.employees[5].model_copy(update={"position_group": "teknis"})
    photo = base.evidence[0].model_copy(update={
        "kind": "foto", "latitude": Decimal("-6.8889"), "longitude": Decimal("109.6753"),
        "captured_at": datetime(2026, 3, 2, 10, 15, tzinfo=WIB)})
    scenario = base.model_copy(update={"employees": [employee, *base.employees[6:]],
                                       "evidence": [photo, *base.evidence[1:]]})
    client = bkn_client(MockWorld(scenario).router.handler, sleeps, page_size=500)
    staff = {e.nip: e for p in client.stream("pegawai", None) for e in p.records}
    assert staff[employee.nip].position_group == "teknis"
    evidence = {e.id: e for p in client.stream("bukti", PERIOD) for e in p.records}
    got = evidence[photo.id]
    assert (got.kind, str(got.latitude), str(got.longitude)) == ("foto", "-6.8889", "109.6753")
    assert got.captured_at == datetime(2026, 3, 2, 10, 15, tzinfo=WIB)
