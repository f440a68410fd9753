"""The mocks over real HTTP: uvicorn on 127.0.0.1 (an ephemeral port) in a thread, the same handlers as in process.

Every fault mode is met over the socket by the gateway's connectors (short client timeouts, list-appending
`sleep`s), plus the admin endpoints, payroll under concurrent clients, pre-encoded pages and `gateway mock serve`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.cli._serve import gateway_env
from gateway.connectors import BknAuth, BknClient, BknCredentials, PayrollClient
from gateway.connectors.spbe import SpbeClient
from gateway.connectors.wire.payroll import BatchRequest, PayrollLine
from gateway.connectors.wire.spbe import EvidenceVerdict, VerdictBatch
from gateway.settings import Settings
from mocks import DEMO_API_KEY, DEMO_CONSUMER, DEMO_SPBE_KEY, DEMO_SSO, BknMock, Fault, MockWorld, Scenario
from mocks.server import MockServer, bind

METRO = Scenario.bundled("metro")
PERIOD = METRO.period
ACTIVITIES = len(METRO.activities)
PAGE = 50
TIMEOUT = 0.5  # the clients' timeout; a `timeout` fault holds the answer longer than this
ROOT = Path(__file__).resolve().parent.parent


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(lambda endpoints: MockWorld(METRO, endpoints)) as served:
        yield served


@pytest.fixture
def world(server: MockServer) -> MockWorld:
    """The served world, fresh for each test: no faults, the bundled scenario, empty books."""
    server.world.faults.clear()
    server.world.load(METRO)
    return server.world


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def bkn_client(server: MockServer, sleeps: Sleeps, *, timeout: float = TIMEOUT) -> BknClient:
    ep = server.endpoints
    auth = BknAuth(ep.token_url, ep.sso_url, BknCredentials(
        consumer_key=DEMO_CONSUMER[0], consumer_secret=DEMO_CONSUMER[1], sso_client_id="demo",
        username=DEMO_SSO[0], password=DEMO_SSO[1]))
    return BknClient(ep.siasn_url, ep.ekinerja_url, auth, page_size=PAGE, timeout=timeout, sleep=sleeps)


def sync(server: MockServer, sleeps: Sleeps) -> list[dict[str, Any]]:
    """Every activity row one sync receives, in order."""
    client = bkn_client(server, sleeps)
    try:
        return [page.raw[r.id] for page in client.stream("aktivitas", PERIOD) for r in page.records]
    finally:
        client.close()


def tokens(server: MockServer) -> dict[str, str]:
    ep = server.endpoints
    with httpx.Client(timeout=5) as client:
        gw = client.post(ep.token_url, data={"grant_type": "client_credentials"}, auth=DEMO_CONSUMER).json()
        sso = client.post(ep.sso_url, data={"grant_type": "password", "username": DEMO_SSO[0],
                                            "password": DEMO_SSO[1]}).json()
    return {"Authorization": f"Bearer {gw['access_token']}", "Auth": f"bearer {sso['access_token']}"}


def a_batch(amount: int = 1_500_000) -> BatchRequest:
    paid = [e for e in METRO.employees if e.bank_account][:3]
    return BatchRequest(tenant="metro", period=PERIOD, opd_id=paid[0].unit_id, lines=[
        PayrollLine(line_id=f"L{i}", nip=e.nip, amount=amount) for i, e in enumerate(paid)])


def concurrently(count: int, work: Callable[[int], Any]) -> list[Any]:
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


# the server and its admin endpoints --------------------------------------------------------------------------------
def test_every_upstream_sits_under_one_loopback_origin(server: MockServer, world: MockWorld) -> None:
    health = httpx.get(f"{server.base_url}/_admin/health", timeout=5).json()

    assert server.base_url.startswith("http://127.0.0.1:")
    assert health["status"] == "ok" and (health["tenant"], health["period"]) == ("metro", PERIOD)
    assert set(health["routes"]) == set(world.routes)
    assert health["endpoints"]["ekinerja_url"] == f"{server.base_url}/bkn/ekinerja/1.0"
    assert all(url.startswith(server.base_url + "/") for url in health["endpoints"].values())
    missing = httpx.get(f"{server.base_url}/bkn/ekinerja/1.0/nothing", timeout=5)
    assert missing.status_code == 404 and "no mock answers" in missing.json()["message"]


def test_a_sync_over_http_gets_what_the_in_process_mock_holds(server: MockServer, world: MockWorld,
                                                              sleeps: Sleeps) -> None:
    rows = sync(server, sleeps)

    assert rows == world.bkn.streams["aktivitas"]
    assert sleeps == []


def test_the_server_refuses_to_listen_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="refusing to serve the mocks on 0.0.0.0"):
        bind("0.0.0.0", 0)  # noqa: S104 - the point: refused


def test_admin_loads_a_new_scenario_into_every_mock(server: MockServer, world: MockWorld, sleeps: Sleeps) -> None:
    smaller = METRO.model_copy(update={"activities": METRO.activities[:30]})
    PayrollClient(server.endpoints.payroll_url, DEMO_API_KEY, timeout=5).submit(a_batch(), "before-load")
    loaded = httpx.post(f"{server.base_url}/_admin/scenario", content=smaller.model_dump_json(), timeout=10)

    assert loaded.status_code == 200 and loaded.json()["loaded"]["activities"] == 30
    assert len(sync(server, sleeps)) == 30
    assert world.payroll.ledger == []  # new scenario, new books
    junk = httpx.post(f"{server.base_url}/_admin/scenario", content=b'{"tenant": "x"}', timeout=5)
    assert junk.status_code == 422


def test_admin_keeps_the_books_when_asked(server: MockServer, world: MockWorld) -> None:
    PayrollClient(server.endpoints.payroll_url, DEMO_API_KEY, timeout=5).submit(a_batch(), "kept")
    httpx.post(f"{server.base_url}/_admin/scenario?keep_books=1", content=METRO.model_dump_json(), timeout=10)

    assert len(world.payroll.ledger) == 3


def test_admin_sets_reads_and_clears_the_fault_plan(server: MockServer, world: MockWorld, sleeps: Sleeps) -> None:
    url = f"{server.base_url}/_admin/faults"
    plan = {"seed": 5, "routes": {"ekinerja.aktivitas": [{"kind": "error", "status": 503, "times": 2}]}}
    set_answer = httpx.post(url, json=plan, timeout=5)
    rows = sync(server, sleeps)
    state = httpx.get(url, timeout=5).json()

    assert set_answer.status_code == 200 and set_answer.json()["plan"]["seed"] == 5
    assert len(rows) == ACTIVITIES and len(sleeps) == 2
    assert state["fired"] == [{"route": "ekinerja.aktivitas", "kind": "error", "times": 2}]
    assert state["requests"]["ekinerja.aktivitas"] == -(-ACTIVITIES // PAGE) + 2
    assert httpx.post(url, json={"routes": {"nowhere": [{"kind": "error"}]}}, timeout=5).status_code == 422
    assert httpx.post(url, json={"routes": {"auth.token": [{"kind": "explode"}]}}, timeout=5).status_code == 422
    assert httpx.delete(url, timeout=5).json()["plan"]["routes"] == {}


def test_admin_expires_every_bkn_token(server: MockServer, world: MockWorld, sleeps: Sleeps) -> None:
    client = bkn_client(server, sleeps)
    pages = client.stream("aktivitas", PERIOD)
    first = next(pages)
    httpx.post(f"{server.base_url}/_admin/bkn/expire-tokens", timeout=5)
    rest = list(pages)

    assert len(first.records) + sum(len(p.records) for p in rest) == ACTIVITIES
    assert world.faults.requests["auth.token"] == 2  # refreshed once, on the 401


def test_admin_shows_the_payroll_ledger_and_spbe_records(server: MockServer, world: MockWorld) -> None:
    answer = PayrollClient(server.endpoints.payroll_url, DEMO_API_KEY, timeout=5).submit(a_batch(), "ledger")
    verdict = EvidenceVerdict(verdict_id="metro:EV1:abc:VALID", tenant="metro", period=PERIOD, evidence_id="EV1",
                              recorded_sha256="a" * 64, actual_sha256="a" * 64, tte="VALID", verdict="accepted",
                              reason="ok", checked_at=METRO.updated_at)
    SpbeClient(server.endpoints.spbe_url, DEMO_SPBE_KEY, timeout=5).record(VerdictBatch(verdicts=[verdict]), "v1")
    ledger = httpx.get(f"{server.base_url}/_admin/payroll/ledger", timeout=5).json()
    records = httpx.get(f"{server.base_url}/_admin/spbe/records", timeout=5).json()

    assert [b["batch_id"] for b in ledger["bookings"]] == [answer.batch_id] * 3
    assert ledger["total"] == 4_500_000 and ledger["booked_twice"] == []
    assert records["count"] == 1 and records["records"][0]["verdict_id"] == verdict.verdict_id


# every fault mode, over the socket ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("fault", "waits"), [
    (Fault(kind="rate-limit", retry_after="3"), [3.0]),
    (Fault(kind="error", status=500), None),
    (Fault(kind="error", status=502), None),
    (Fault(kind="error", status=503), None),
    (Fault(kind="error", status=504), None),
    (Fault(kind="suspended"), None),
    (Fault(kind="timeout", delay=2 * TIMEOUT + 1), None),
    (Fault(kind="reset"), None),
    (Fault(kind="reset", refused=True), None),
    (Fault(kind="truncated"), None),
    (Fault(kind="malformed"), None),
], ids=["rate-limit", "500", "502", "503", "504", "suspended", "timeout", "reset", "refused", "truncated",
        "malformed"])
def test_the_connector_rides_out_each_fault_over_http(server: MockServer, world: MockWorld, sleeps: Sleeps,
                                                      fault: Fault, waits: list[float] | None) -> None:
    world.faults.set("ekinerja.aktivitas", fault.model_copy(update={"after": 1, "times": 1}))
    rows = sync(server, sleeps)

    assert len(rows) == ACTIVITIES
    assert world.faults.fired[("ekinerja.aktivitas", fault.kind)] == 1
    assert len(sleeps) == 1 if waits is None else sleeps == waits
    assert world.faults.requests["auth.token"] == 1  # none of these is a token problem


@pytest.mark.parametrize(("fault", "error"), [
    (Fault(kind="timeout", delay=2 * TIMEOUT + 1), httpx.ReadTimeout),
    (Fault(kind="reset"), httpx.RemoteProtocolError),
    (Fault(kind="reset", refused=True), httpx.RemoteProtocolError),
], ids=["timeout", "reset", "refused"])
def test_socket_faults_reach_a_plain_client_as_transport_errors(server: MockServer, world: MockWorld,
                                                                fault: Fault, error: type[Exception]) -> None:
    url = f"{server.endpoints.ekinerja_url}/aktivitas?limit=100&periode={PERIOD}"
    auth = tokens(server)
    world.faults.set("ekinerja.aktivitas", fault)
    started = time.monotonic()
    with httpx.Client(timeout=TIMEOUT) as client, pytest.raises(error):
        client.get(url, headers=auth)
    assert time.monotonic() - started < fault.delay + 1


@pytest.mark.parametrize("kind", ["truncated", "malformed"])
def test_broken_json_arrives_whole_as_a_200_that_does_not_parse(server: MockServer, world: MockWorld,
                                                                kind: str) -> None:
    url = f"{server.endpoints.ekinerja_url}/aktivitas?limit=100&periode={PERIOD}"
    auth = tokens(server)
    world.faults.set("ekinerja.aktivitas", Fault(kind=kind))  # type: ignore[arg-type]
    answer = httpx.get(url, headers=auth, timeout=5)

    assert answer.status_code == 200
    with pytest.raises(ValueError):
        json.loads(answer.content)


def test_a_slow_answer_is_slow_but_not_an_error(server: MockServer, world: MockWorld, sleeps: Sleeps) -> None:
    world.faults.set("ekinerja.aktivitas", Fault(kind="slow", delay=0.3, times=1))
    started = time.monotonic()
    rows = sync(server, sleeps)

    assert time.monotonic() - started >= 0.3
    assert len(rows) == ACTIVITIES and sleeps == []


def test_duplicates_across_pages_over_http(server: MockServer, world: MockWorld, sleeps: Sleeps) -> None:
    before = [row["id"] for row in world.bkn.streams["aktivitas"]]
    world.faults.set("ekinerja.aktivitas", Fault(kind="duplicate", records=4, after=1, times=1))
    ids = [row["id"] for row in sync(server, sleeps)]

    assert ids[PAGE:PAGE + 4] == before[PAGE - 4:PAGE]
    assert sorted(set(ids)) == sorted(before) and len(ids) == len(before) + 4


def test_records_changing_mid_sync_over_http(server: MockServer, world: MockWorld, sleeps: Sleeps) -> None:
    world.faults.set("ekinerja.aktivitas", Fault(kind="records-change", records=2, after=3, times=1))
    rows = sync(server, sleeps)

    assert len(rows) == ACTIVITIES + 2  # keyset paging reads the changed rows again at the end, skips nothing
    assert {row["id"] for row in rows} == {a.id for a in world.scenario.activities}
    assert [row["keterangan"].endswith(" (diubah)") for row in rows[-2:]] == [True, True]
    assert Counter(row["id"] for row in rows).most_common(1)[0][1] == 2  # the changed ones, seen twice


def test_tokens_expiring_mid_sync_over_http(server: MockServer, world: MockWorld, sleeps: Sleeps) -> None:
    world.faults.set("ekinerja.aktivitas", Fault(kind="token-expiry", after=2, times=1))

    assert len(sync(server, sleeps)) == ACTIVITIES
    assert world.faults.requests["auth.token"] == world.faults.requests["auth.sso"] == 2


# pre-encoded pages -------------------------------------------------------------------------------------------------
def test_pages_over_http_are_the_same_bytes_encoded_once(server: MockServer, world: MockWorld) -> None:
    url = f"{server.endpoints.ekinerja_url}/aktivitas?limit=100&offset=200&periode={PERIOD}"
    auth = tokens(server)
    with httpx.Client(timeout=5) as client:
        answers = [client.get(url, headers=auth) for _ in range(3)]

    assert len({a.content for a in answers}) == 1
    assert answers[0].headers["content-type"] == "application/json"
    assert world.bkn.renders == 1
    httpx.post(f"{server.base_url}/_admin/scenario", content=METRO.model_dump_json(), timeout=10)
    assert httpx.get(url, headers=auth, timeout=5).content == answers[0].content  # same data, encoded again
    assert world.bkn.renders == 1  # encoded again after the load, counted afresh


def test_wire_records_without_a_scenario_are_served(sleeps: Sleeps) -> None:
    rows = [{"id": f"ACT-{i:05d}", "nip": "198001012005011001", "indikatorId": "IND-1", "tanggal": "02-03-2026",
             "jumlah": "1", "dibuatPada": "2026-03-02T16:00:00+07:00", "updatedAt": "2026-04-01T07:00:00+07:00"}
            for i in range(321)]
    bkn = BknMock.from_records({"aktivitas": rows})
    with MockServer(lambda endpoints: MockWorld(METRO, endpoints, bkn=bkn)) as served:
        bkn.prerender("aktivitas", PERIOD, limit=PAGE)
        ids = [row["id"] for row in sync(served, sleeps)]

    assert ids == [r["id"] for r in rows]
    assert bkn.renders == 7


# payroll under concurrent clients ----------------------------------------------------------------------------------
def test_concurrent_duplicate_submissions_over_http_book_each_line_once(server: MockServer,
                                                                        world: MockWorld) -> None:
    body = a_batch().model_dump_json().encode()
    headers = {"X-API-Key": DEMO_API_KEY, "Idempotency-Key": "metro-2026-03-opd1-v1",
               "Content-Type": "application/json"}

    def submit(i: int) -> tuple[int, str]:
        with httpx.Client(timeout=10) as client:
            answer = client.post(f"{server.endpoints.payroll_url}/batches", content=body, headers=headers)
        return answer.status_code, answer.json()["batch_id"]

    results = concurrently(8, submit)
    ledger = httpx.get(f"{server.base_url}/_admin/payroll/ledger", timeout=5).json()

    assert sorted(status for status, _ in results) == [200] * 7 + [202]
    assert len({batch for _, batch in results}) == 1
    assert len(ledger["bookings"]) == 3 and ledger["booked_twice"] == []
    assert ledger["submissions"] == 8


def test_concurrent_clients_retrying_after_lost_answers_book_once(server: MockServer, world: MockWorld) -> None:
    world.faults.set("payroll.submit", Fault(kind="timeout", delay=2 * TIMEOUT + 1, times=3))

    def submit(i: int) -> str:
        client = PayrollClient(server.endpoints.payroll_url, DEMO_API_KEY, timeout=TIMEOUT, sleep=Sleeps())
        try:
            return client.submit(a_batch(), "metro-2026-03-opd2-v1").batch_id
        finally:
            client.close()

    results = concurrently(4, submit)

    assert len(set(results)) == 1 and all(isinstance(r, str) for r in results)
    assert len(world.payroll.ledger) == 3 and set(world.payroll.booked().values()) == {1}


# gateway mock serve ------------------------------------------------------------------------------------------------
def test_gateway_env_points_every_setting_at_the_mocks(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    env = gateway_env(server.endpoints)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()

    assert settings.ekinerja_base_url == server.endpoints.ekinerja_url
    assert settings.payroll_api_key.get_secret_value() == DEMO_API_KEY
    assert {"GATEWAY_BKN_BASE_URL", "GATEWAY_BKN_TOKEN_URL", "GATEWAY_BKN_SSO_URL", "GATEWAY_TTE_BASE_URL",
            "GATEWAY_PAYROLL_BASE_URL", "GATEWAY_BKN_PASSWORD"} <= set(env)


def test_gateway_mock_serve_refuses_a_non_loopback_host() -> None:
    result = CliRunner().invoke(app, ["mock", "serve", "--host", "0.0.0.0", "--port", "0"])  # noqa: S104

    assert result.exit_code == 2
    assert "refusing to serve the mocks" in result.output


def test_gateway_mock_serve_runs_until_stopped(tmp_path: Path) -> None:
    env_file = tmp_path / "mocks.env"
    command = [sys.executable, "-c", "import sys; from gateway.cli import app; sys.argv[0] = 'gateway'; app()",
               "mock", "serve", "--port", "0", "--env-file", str(env_file)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,  # noqa: S603
                               cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)})
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:  # the URLs, the env lines, then the server blocks
            lines.append(line)
            if line.startswith("# serving until"):
                break
        env = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines if line.startswith("export"))
        origin = env["GATEWAY_EKINERJA_BASE_URL"].removesuffix("/bkn/ekinerja/1.0")
        # The server may still be binding its socket: httpx's own connect retries wait for it (no sleep here).
        with httpx.Client(transport=httpx.HTTPTransport(retries=8), timeout=5) as client:
            health = client.get(f"{origin}/_admin/health")
        assert health.json()["status"] == "ok"
        assert env_file.read_text().splitlines() == [line.strip() for line in lines if line.startswith("export")]
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn shuts down gracefully
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    assert process.returncode == 0
