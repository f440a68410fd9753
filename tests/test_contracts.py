"""Contract test: every mock answers in the shapes of docs/contracts/, checked against the shared wire models.

The wire models (gateway/connectors/wire/) are what the connectors parse; a mock that drifts from them would
let the gateway pass tests against a system that does not exist.
"""

from __future__ import annotations

import base64
import re

import httpx
import pytest
import respx

from gateway.connectors.streams import STREAMS
from gateway.connectors.wire import bsre, payroll, pekalongan, siasn, spbe
from mocks import DEMO_API_KEY, DEMO_BASIC, DEMO_CONSUMER, DEMO_SSO, MockWorld, Scenario
from mocks.pekalongan import DEMO_PEKALONGAN_KEY, PekalonganMock
from mocks.siasn import SiasnMock
from mocks.spbe import DEMO_SPBE_KEY, SpbeMock

METRO = Scenario.bundled("metro")
DDMMYYYY = re.compile(r"^\d{2}-\d{2}-\d{4}$")


@pytest.fixture(scope="module")
def world() -> MockWorld:
    return MockWorld(METRO)


@pytest.fixture(scope="module")
def client(world: MockWorld) -> httpx.Client:
    return httpx.Client(transport=world.transport())


@pytest.fixture(scope="module")
def tokens(world: MockWorld, client: httpx.Client) -> dict[str, str]:
    ep = world.endpoints
    gw = client.post(ep.token_url, data={"grant_type": "client_credentials"}, auth=DEMO_CONSUMER)
    sso = client.post(ep.sso_url, data={"grant_type": "password", "client_id": "x", "username": DEMO_SSO[0],
                                        "password": DEMO_SSO[1]})
    for answer in (gw, sso):
        assert answer.status_code == 200
        siasn.TokenAnswer.model_validate(answer.json())
        assert set(answer.json()) >= {"access_token", "expires_in", "token_type"}
    return {"Authorization": f"Bearer {gw.json()['access_token']}", "Auth": f"bearer {sso.json()['access_token']}"}


def test_ref_unor_is_a_counted_page_of_pascalcase_units(world: MockWorld, client: httpx.Client,
                                                         tokens: dict[str, str]) -> None:
    body = client.get(f"{world.endpoints.siasn_url}/referensi/ref-unor", params={"limit": 5, "offset": 0},
                      headers={"Authorization": tokens["Authorization"]}).json()
    assert set(body) == {"code", "count", "data"} and body["code"] == 1 and body["count"] == len(METRO.units)
    assert len(body["data"]) == 5
    for unit in body["data"]:
        siasn.RefUnor.model_validate(unit)
        assert {"Id", "DiatasanId", "NamaUnor", "NamaJabatan", "EselonId", "PemimpinPnsId"} <= set(unit)


@pytest.mark.parametrize("stream", [s.name for s in STREAMS.values() if s.upstream == "ekinerja"])
def test_ekinerja_listings_match_the_wire_models(world: MockWorld, client: httpx.Client, tokens: dict[str, str],
                                                 stream: str) -> None:
    params = {"limit": 1000, "offset": 0} | ({"periode": METRO.period} if stream != "pegawai" else {})
    body = client.get(f"{world.endpoints.ekinerja_url}/{stream}", params=params, headers=tokens).json()
    assert body["code"] == 1 and body["count"] == len(body["data"]) > 0
    model = STREAMS[stream].wire
    rows = [model.model_validate(r) for r in body["data"]]
    keys = [(r.updatedAt, getattr(r, "id", None) or getattr(r, "nipBaru", "")) for r in rows]
    assert keys == sorted(keys)  # stable order: updated time, then id
    if stream == "aktivitas":
        assert all(DDMMYYYY.match(r["tanggal"]) for r in body["data"])


def test_missing_document_is_bkns_404(world: MockWorld, client: httpx.Client, tokens: dict[str, str]) -> None:
    answer = client.get(f"{world.endpoints.ekinerja_url}/bukti/NOPE/dokumen", headers=tokens)
    assert answer.status_code == 404 and answer.json() == {"code": 0, "data": siasn.NOT_FOUND}


def test_refused_tokens_answer_with_the_real_401_strings(world: MockWorld, client: httpx.Client) -> None:
    answer = client.get(f"{world.endpoints.ekinerja_url}/aktivitas", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert answer.json()["message"] in {siasn.INVALID_CREDENTIALS, siasn.INVALID_JWT, siasn.SSO_MISMATCH}


def test_siasn_per_nip_lookups(world: MockWorld, tokens: dict[str, str]) -> None:
    router = respx.MockRouter(assert_all_called=False)
    SiasnMock(METRO, world.bkn._authorised).mount(router, siasn_url=world.endpoints.siasn_url)
    client = httpx.Client(transport=httpx.MockTransport(router.handler))
    nip = METRO.employees[3].nip
    utama = client.get(f"{world.endpoints.siasn_url}/pns/data-utama/{nip}", headers=tokens).json()
    assert utama["code"] == 1 and DDMMYYYY.match(utama["data"]["tglLahir"])
    assert siasn.DataUtama.model_validate(utama["data"]).tglLahir.strftime("%Y%m%d") == nip[:8]
    jabatan = client.get(f"{world.endpoints.siasn_url}/pns/rw-jabatan/{nip}", headers=tokens).json()
    assert [siasn.RiwayatJabatan.model_validate(r).nipBaru for r in jabatan["data"]] == [nip]
    missing = client.get(f"{world.endpoints.siasn_url}/pns/data-utama/199901012020011999", headers=tokens)
    assert missing.status_code == 404 and missing.json() == {"code": 0, "data": siasn.NOT_FOUND}


def test_bsre_verify_answer(world: MockWorld, client: httpx.Client) -> None:
    document = next(iter(world.bkn.documents.values()))
    answer = client.post(f"{world.endpoints.tte_url}/api/v2/verify/pdf", auth=DEMO_BASIC,
                         json={"file": base64.b64encode(document).decode()})
    assert answer.status_code == 200
    assert bsre.VerifyPdfAnswer.model_validate(answer.json()).conclusion
    assert client.post(f"{world.endpoints.tte_url}/api/v2/verify/pdf", json={"file": ""}).status_code == 401


def test_payroll_batch_and_status(world: MockWorld, client: httpx.Client) -> None:
    nip = next(e.nip for e in METRO.employees if e.bank_account)
    batch = payroll.BatchRequest(tenant="metro", period="2026-03", opd_id="X", lines=[
        payroll.PayrollLine(line_id="contract:1", nip=nip, amount=1000)])
    headers = {"X-API-Key": DEMO_API_KEY, "Idempotency-Key": "contract-test-1"}
    submitted = client.post(f"{world.endpoints.payroll_url}/batches", json=batch.model_dump(), headers=headers)
    assert submitted.status_code in (200, 202)
    answer = payroll.BatchAnswer.model_validate(submitted.json())
    status = client.get(f"{world.endpoints.payroll_url}/batches/{answer.batch_id}",
                        headers={"X-API-Key": DEMO_API_KEY})
    assert payroll.BatchAnswer.model_validate(status.json()).lines[0].line_id == "contract:1"


def test_spbe_records_verdicts_once() -> None:
    router = respx.MockRouter(assert_all_called=False)
    mock = SpbeMock()
    mock.mount(router, base_url="https://spbe.test")
    client = httpx.Client(transport=httpx.MockTransport(router.handler), headers={"X-API-Key": DEMO_SPBE_KEY})
    v = spbe.EvidenceVerdict(verdict_id="metro:EV1:abc:VALID", tenant="metro", period="2026-03", evidence_id="EV1",
                             recorded_sha256="a" * 64, actual_sha256="a" * 64, tte="VALID", verdict="accepted",
                             reason="ok", checked_at="2026-04-01T00:00:00+07:00")
    body = spbe.VerdictBatch(verdicts=[v]).model_dump(mode="json")
    url = "https://spbe.test/api/v1/audit/evidence-verdicts"
    first = client.post(url, json=body, headers={"Idempotency-Key": "k1"})
    again = client.post(url, json=body, headers={"Idempotency-Key": "k2"})
    assert spbe.VerdictAnswer.model_validate(first.json()).recorded == 1
    assert spbe.VerdictAnswer.model_validate(again.json()) == spbe.VerdictAnswer(recorded=0, duplicates=1)
    listed = client.get("https://spbe.test/api/v1/audit/evidence-verdicts", params={"tenant": "metro"}).json()
    assert listed["count"] == 1


def test_pekalongan_apps_pages() -> None:
    scenario = Scenario.model_validate({
        **METRO.model_dump(),
        "programmes": [{"id": "P1", "unit_id": METRO.units[2].id, "period": "2026-03", "name": "Program",
                        "target": "10", "realisation": "7"}],
        "attendance": [{"nip": METRO.employees[5].nip, "period": "2026-03", "late_minutes": [12, 45]}]})
    router = respx.MockRouter(assert_all_called=False)
    PekalonganMock(scenario).mount(router, eseksama_url="https://es.test", presensi_url="https://pr.test")
    client = httpx.Client(transport=httpx.MockTransport(router.handler), headers={"X-API-Key": DEMO_PEKALONGAN_KEY})
    programs = pekalongan.Page.model_validate(client.get("https://es.test/api/programs",
                                                         params={"periode": "2026-03"}).json())
    assert programs.total == 1 and pekalongan.ProgramSeksama.model_validate(programs.data[0]).realisasi == 7
    rekap = pekalongan.Page.model_validate(client.get("https://pr.test/api/rekap-presensi",
                                                      params={"periode": "2026-03"}).json())
    assert pekalongan.RekapPresensi.model_validate(rekap.data[0]).terlambat_menit == [12, 45]
    assert client.get("https://pr.test/api/rekap-presensi", headers={"X-API-Key": "bad"}).status_code == 401
