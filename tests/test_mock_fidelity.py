"""Mock fidelity: the mocks answer public clients as the real SIASN, e-Kinerja and BSrE do (docs/contracts/siasn.md and
bsre.md), over real HTTP (uvicorn on 127.0.0.1, an ephemeral port), with what the mocks accepted before
still accepted.

Each rule is met by a plain httpx client written the way those clients are (a bare host joined with the real paths,
`Auth: Bearer`, a JSON token request, `ref-unor` without `limit`), and where the gateway has a connector for it, by
the connector too. Nothing sleeps.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterator
from datetime import date, datetime
from io import BytesIO

import httpx
import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko_certvalidator.registry import SimpleCertificateStore

from gateway.connectors import BknAuth, BknClient, BknCredentials, TteClient
from gateway.connectors.wire import siasn
from gateway.domain import TteConclusion
from mocks import DEMO_BASIC, DEMO_CONSUMER, DEMO_SSO, BknMock, Endpoints, FaultPlan, MockWorld, Scenario
from mocks.server import MockServer, MockServerApp
from mocks.signing import Identity, run_coroutine, sign_pdf, signed_pool, trusted_signers

METRO = Scenario.bundled("metro")
DKI = Scenario.bundled("dki")
SSO_PATH = "/auth/realms/public-siasn/protocol/openid-connect/token"
DDMMYYYY = re.compile(r"^\d{2}-\d{2}-\d{4}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PREDIKAT = {"Sangat Baik", "Baik", "Butuh Perbaikan", "Kurang", "Sangat Kurang"}
POOL = {d.kind: d for d in reversed(signed_pool())}  # the first document of each kind
NOBODY = "199901012020011999"


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(lambda endpoints: MockWorld(METRO, endpoints)) as served:
        yield served


@pytest.fixture
def world(server: MockServer) -> MockWorld:
    """The served world, fresh for each test: no faults, the bundled Metro scenario."""
    server.world.faults.clear()
    server.world.load(METRO)
    return server.world


@pytest.fixture
def host(server: MockServer, world: MockWorld) -> Iterator[httpx.Client]:
    """A client configured with the host only, as several public clients are."""
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def tokens(host: httpx.Client) -> tuple[str, str]:
    """(gateway token, SSO token), asked at the real paths."""
    gw = host.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=DEMO_CONSUMER)
    sso = host.post(SSO_PATH, data={"grant_type": "password", "client_id": "demo", "username": DEMO_SSO[0],
                                    "password": DEMO_SSO[1]})
    assert gw.status_code == sso.status_code == 200
    return gw.json()["access_token"], sso.json()["access_token"]


def signed_in(host: httpx.Client, scheme: str = "bearer") -> dict[str, str]:
    gw, sso = tokens(host)
    return {"Authorization": f"Bearer {gw}", "Auth": f"{scheme} {sso}".strip()}


def connector(endpoints: Endpoints) -> BknClient:
    auth = BknAuth(endpoints.token_url, endpoints.sso_url, BknCredentials(
        consumer_key=DEMO_CONSUMER[0], consumer_secret=DEMO_CONSUMER[1], sso_client_id="demo",
        username=DEMO_SSO[0], password=DEMO_SSO[1]))
    return BknClient(endpoints.siasn_url, endpoints.ekinerja_url, auth, page_size=50, timeout=10,
                     sleep=lambda seconds: None)


def at_root(server: MockServer) -> Endpoints:
    """The gateway's settings for a host-only deployment: the host joined with each system's real paths."""
    origin = server.base_url
    return dataclasses.replace(server.endpoints, siasn_url=f"{origin}/apisiasn/1.0",
                               ekinerja_url=f"{origin}/ekinerja/1.0", token_url=f"{origin}/oauth2/token",
                               sso_url=origin + SSO_PATH, tte_url=origin)


def opd_of(scenario: Scenario, unit_id: str) -> str:
    """The OPD's name, by hand: the unit's ancestor right below the root."""
    parents = {u.id: u.parent_id for u in scenario.units}
    names = {u.id: u.name for u in scenario.units}
    while parents[unit_id] is not None and parents[parents[unit_id]] is not None:
        unit_id = parents[unit_id]
    return names[unit_id]


# 1. the SSO header's scheme ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["bearer", "Bearer", "BEARER", ""])
def test_the_sso_header_is_taken_with_bearer_in_any_case(host: httpx.Client, scheme: str) -> None:
    headers = signed_in(host, scheme)  # "" is a bare token, which the mock always took
    nip = METRO.employees[3].nip

    utama = host.get(f"/apisiasn/1.0/pns/data-utama/{nip}", headers=headers)
    listing = host.get("/ekinerja/1.0/pegawai", params={"limit": 1}, headers=headers)
    prefixed = host.get("/bkn/ekinerja/1.0/pegawai", params={"limit": 1}, headers=headers)

    assert (utama.status_code, listing.status_code, prefixed.status_code) == (200, 200, 200)
    assert utama.json()["data"]["nipBaru"] == nip


def test_a_gateway_token_in_the_sso_header_is_still_a_mismatch(host: httpx.Client) -> None:
    gw, _ = tokens(host)
    answer = host.get("/ekinerja/1.0/pegawai", headers={"Authorization": f"Bearer {gw}", "Auth": f"Bearer {gw}"})

    assert answer.status_code == 401 and answer.json()["data"] == siasn.SSO_MISMATCH


# 2. the gateway token asked with JSON ------------------------------------------------------------------------------
def test_the_gateway_token_is_issued_for_a_json_body_as_for_a_form(host: httpx.Client) -> None:
    as_json = host.post("/oauth2/token", json={"grant_type": "client_credentials"}, auth=DEMO_CONSUMER)
    as_form = host.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=DEMO_CONSUMER)

    assert as_json.status_code == as_form.status_code == 200
    assert siasn.TokenAnswer.model_validate(as_json.json()).token_type == "Bearer"
    units = host.get("/apisiasn/1.0/referensi/ref-unor", params={"limit": 1},
                     headers={"Authorization": f"Bearer {as_json.json()['access_token']}"})
    assert units.status_code == 200 and units.json()["count"] == len(METRO.units)


@pytest.mark.parametrize(("body", "basic"), [
    ({"grant_type": "password"}, DEMO_CONSUMER),
    ({"grant_type": "client_credentials"}, (DEMO_CONSUMER[0], "wrong")),
    (["grant_type", "client_credentials"], DEMO_CONSUMER),
])
def test_a_json_token_request_is_refused_for_what_a_form_is(host: httpx.Client, body: object,
                                                            basic: tuple[str, str]) -> None:
    answer = host.post("/oauth2/token", json=body, auth=basic)

    assert answer.status_code == 401 and answer.json()["data"] == siasn.INVALID_CREDENTIALS


def test_a_broken_json_token_request_is_refused(host: httpx.Client) -> None:
    answer = host.post("/oauth2/token", content=b"{grant_type", auth=DEMO_CONSUMER,
                       headers={"Content-Type": "application/json"})

    assert answer.status_code == 401


# 3. the real paths on the server's root ----------------------------------------------------------------------------
def test_a_client_with_only_the_host_reaches_every_upstream_at_its_real_paths(host: httpx.Client) -> None:
    headers = signed_in(host)

    units = host.get("/apisiasn/1.0/referensi/ref-unor", params={"limit": 5, "offset": 0}, headers=headers)
    activities = host.get("/ekinerja/1.0/aktivitas", params={"periode": METRO.period, "limit": 10},
                          headers=headers)
    verified = host.post("/api/v2/verify/pdf", auth=DEMO_BASIC,
                         json={"file": base64.b64encode(POOL["valid"].pdf).decode()})
    legacy = host.post("/api/sign/verify", auth=DEMO_BASIC,
                       files={"signed_file": ("bukti.pdf", POOL["valid"].pdf, "application/pdf")})

    assert units.status_code == 200 and len(units.json()["data"]) == 5
    assert units.content == host.get("/bkn/apisiasn/1.0/referensi/ref-unor", params={"limit": 5, "offset": 0},
                                     headers=headers).content
    assert activities.status_code == 200 and len(activities.json()["data"]) == 10
    assert verified.status_code == 200 and verified.json()["conclusion"] == "VALID"
    assert legacy.status_code == 200 and legacy.json()["summary"] == "DOCUMENT VALID !!!"


def read_bkn(endpoints: Endpoints) -> tuple[list[str], list[str]]:
    """Unit ids and activity ids, as the gateway's connector reads them."""
    client = connector(endpoints)
    try:
        units, _ = client.units()
        activities = [page.raw[r.id]["id"] for page in client.stream("aktivitas", METRO.period)
                      for r in page.records]
    finally:
        client.close()
    return [u.id for u in units], activities


def test_the_gateways_connectors_work_against_the_bare_host(server: MockServer, world: MockWorld) -> None:
    endpoints = at_root(server)
    units, activities = read_bkn(endpoints)
    tte = TteClient(endpoints.tte_url, *DEMO_BASIC, sleep=lambda seconds: None)
    try:
        conclusion, _ = tte.verify(POOL["valid"].pdf)
    finally:
        tte.close()

    assert (units, activities) == read_bkn(server.endpoints)
    assert len(units) > 0 and len(activities) > 0
    assert conclusion is TteConclusion.VALID


def test_a_real_path_meets_the_same_route_and_faults_as_the_prefixed_one(host: httpx.Client,
                                                                          world: MockWorld) -> None:
    headers = signed_in(host)
    world.faults.load(FaultPlan.model_validate(
        {"seed": 1, "routes": {"siasn.ref-unor": [{"kind": "error", "status": 503, "rate": 1}]}}))

    root = host.get("/apisiasn/1.0/referensi/ref-unor", headers=headers)
    prefixed = host.get("/bkn/apisiasn/1.0/referensi/ref-unor", headers=headers)

    assert root.status_code == prefixed.status_code == 503
    assert world.faults.snapshot()["requests"]["siasn.ref-unor"] == 2


def test_the_prefixed_layout_and_the_admin_endpoints_stay(server: MockServer, host: httpx.Client) -> None:
    health = host.get("/_admin/health").json()
    missing = host.get("/apisiasn/1.0/nothing")
    near_miss = host.get("/apisiasn/1.00/referensi/ref-unor")  # whole segments only

    assert health["status"] == "ok"
    assert health["endpoints"]["siasn_url"] == f"{server.base_url}/bkn/apisiasn/1.0"
    assert health["root_paths"]["/apisiasn/1.0"] == "/bkn/apisiasn/1.0"
    assert health["root_paths"]["/api/v2/verify/pdf"] == "/tte/api/v2/verify/pdf"
    assert missing.status_code == near_miss.status_code == 404
    assert "no mock answers" in near_miss.json()["message"]


def test_root_paths_collide_with_nothing() -> None:
    endpoints = Endpoints.loopback("127.0.0.1", 8000)
    paths = endpoints.root_paths()
    prefixes = [httpx.URL(url).path for url in endpoints.urls().values()] + ["/_admin"]

    assert set(paths) == {"/oauth2/token", SSO_PATH, "/apisiasn/1.0", "/ekinerja/1.0", "/api/v2/verify/pdf",
                          "/api/sign/verify"}
    for real in paths:
        assert [p for p in paths if p != real and (real + "/").startswith(p + "/")] == []
        assert [p for p in prefixes if (real + "/").startswith(p + "/") or (p + "/").startswith(real + "/")] == []
    assert Endpoints().root_paths() == {}  # in process, at the real hosts, nothing to move


def test_a_layout_that_would_shadow_a_real_path_is_refused() -> None:
    loopback = Endpoints.loopback("127.0.0.1", 8000)
    shadowing = dataclasses.replace(loopback, spbe_url=f"{loopback.origin}/api")

    with pytest.raises(ValueError, match="/api/v2/verify/pdf would collide with /api"):
        shadowing.root_paths()
    with pytest.raises(ValueError, match="collide"):
        MockServerApp(MockWorld(METRO, shadowing))


# 4. ref-unor without limit -----------------------------------------------------------------------------------------
def test_ref_unor_without_limit_is_the_whole_list_and_with_limit_a_page() -> None:
    units = [{"Id": f"{i:032X}", "DiatasanId": None if i == 0 else f"{0:032X}", "NamaUnor": f"Unit {i}",
              "NamaJabatan": None, "EselonId": None, "PemimpinPnsId": None} for i in range(250)]
    bkn = BknMock.from_records({}, units=units)
    with MockServer(lambda endpoints: MockWorld(METRO, endpoints, bkn=bkn)) as served, \
            httpx.Client(base_url=served.base_url, timeout=10) as host:
        headers = signed_in(host)

        def page(**params: int) -> dict[str, object]:
            return host.get("/apisiasn/1.0/referensi/ref-unor", params=params, headers=headers).json()

        whole, first, last, rest = page(), page(limit=100), page(limit=100, offset=200), page(offset=200)
        client = connector(served.endpoints)
        try:
            read, problems = client.units()
        finally:
            client.close()

    assert (whole["count"], len(whole["data"])) == (250, 250)
    assert [u["Id"] for u in whole["data"]] == [u["Id"] for u in units]
    assert (first["count"], len(first["data"]), len(last["data"])) == (250, 100, 50)
    assert rest["data"] == last["data"]
    assert (len(read), problems) == (250, [])


# 5. SIASN's 401 --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("who", "message"), [
    ("nobody", siasn.INVALID_CREDENTIALS), ("gateway only", siasn.INVALID_JWT), ("both", None)])
def test_a_401_carries_its_message_under_data_and_message(host: httpx.Client, who: str,
                                                          message: str | None) -> None:
    headers = signed_in(host)
    if who == "nobody":
        headers = {}
    elif who == "gateway only":
        headers.pop("Auth")
    nip = METRO.employees[0].nip
    answers = [host.get(f"/apisiasn/1.0/pns/data-utama/{nip}", headers=headers),
               host.get("/ekinerja/1.0/pegawai", headers=headers)]

    if message is None:
        assert [a.status_code for a in answers] == [200, 200]
    else:
        assert [a.status_code for a in answers] == [401, 401]
        assert [a.json() for a in answers] == [{"code": 0, "message": message, "data": message}] * 2


def test_ref_unor_refuses_a_missing_gateway_token_with_data(host: httpx.Client) -> None:
    answer = host.get("/apisiasn/1.0/referensi/ref-unor", headers={"Authorization": "Bearer nope"})

    assert answer.status_code == 401
    assert answer.json() == {"code": 0, "message": siasn.INVALID_CREDENTIALS, "data": siasn.INVALID_CREDENTIALS}


# 6. data-utama -----------------------------------------------------------------------------------------------------
def test_data_utama_fills_the_fields_public_clients_read(server: MockServer, host: httpx.Client) -> None:
    headers = signed_in(host)
    e = METRO.employees[3]  # Lestari Siregar, NIP 19931204 201901 1 869, III/b, a pelaksana
    row = host.get(f"/apisiasn/1.0/pns/data-utama/{e.nip}", headers=headers).json()["data"]

    assert row["golRuangAkhir"] == e.golongan == "III/b"
    assert (row["golRuangAkhirId"], row["pangkatAkhir"]) == ("32", "Penata Muda Tingkat I")
    assert (row["nik"], row["tglLahir"]) == (e.nik, "04-12-1993")
    assert row["tmtPns"] == row["tmtCpns"] == "01-01-2019"  # NIP digits 9-14: 201901
    assert (row["kedudukanPnsNama"], row["jenisPegawaiNama"], row["statusPegawai"]) == ("Aktif", "PNS", "PNS")
    assert row["pendidikanTerakhirNama"].startswith("S-1 ")  # golongan III
    assert row["unorIndukNama"] == opd_of(METRO, e.unit_id)
    assert row["unorIndukNama"] != row["unorNama"]  # a seksi, under its OPD
    assert (row["jabatanNama"], row["jabatanFungsionalUmumNama"], row["jabatanStrukturalNama"]) == (
        "Pelaksana", "Pelaksana", "")
    client = connector(server.endpoints)
    try:
        model = client.data_utama(e.nip)
    finally:
        client.close()
    assert model is not None and model.golRuangAkhir == "III/b" and model.tglLahir == date(1993, 12, 4)


def test_data_utama_of_a_head_is_structural_and_its_opd_is_its_own_unit(host: httpx.Client) -> None:
    headers = signed_in(host)
    kadis = next(e for e in METRO.employees if e.eselon == "II.b")
    row = host.get(f"/apisiasn/1.0/pns/data-utama/{kadis.nip}", headers=headers).json()["data"]

    assert (row["jenisJabatanId"], row["jabatanStrukturalNama"], row["eselonId"]) == ("1", kadis.position, "22")
    assert row["unorIndukNama"] == opd_of(METRO, kadis.unit_id)
    assert row["pendidikanTerakhirNama"].startswith("S-2 ") == kadis.golongan.startswith("IV/")


def test_data_utama_derives_what_the_scenario_lacks_from_the_nip(world: MockWorld, host: httpx.Client) -> None:
    e = METRO.employees[4]  # Dewi Nasution, NIP 19910411 202108 2 889, kelas 5
    bare = e.model_copy(update={"nik": None, "birth_date": None, "golongan": None})
    world.load(METRO.model_copy(update={"employees": [bare if x.nip == e.nip else x for x in METRO.employees]}))
    headers = signed_in(host)

    row = host.get(f"/apisiasn/1.0/pns/data-utama/{e.nip}", headers=headers).json()["data"]
    world.load(METRO.model_copy(update={"employees": [bare]}))
    again = host.get(f"/apisiasn/1.0/pns/data-utama/{e.nip}", headers=headers).json()["data"]

    assert row["golRuangAkhir"] in ("II/b", "II/c")  # kelas 5: II/c, or a step lower
    assert row["tglLahir"] == "11-04-1991" and row["tmtPns"] == "01-08-2021"
    assert re.fullmatch(r"1872\d{2}510491\d{4}", row["nik"])  # Metro; day 11 + 40 for a woman, then 04-91
    assert row["jenisKelamin"] == "F"
    assert again == row


def test_an_unknown_nip_is_not_found_on_every_per_nip_endpoint(host: httpx.Client) -> None:
    headers = signed_in(host)
    for resource in ("data-utama", "rw-jabatan", "rw-kinerjaperiodik"):
        answer = host.get(f"/apisiasn/1.0/pns/{resource}/{NOBODY}", headers=headers)
        assert answer.status_code == 404 and answer.json() == {"code": 0, "data": siasn.NOT_FOUND}


# 7. rw-jabatan -----------------------------------------------------------------------------------------------------
def test_rw_jabatan_names_each_kind_of_post_where_clients_read_it(server: MockServer, world: MockWorld,
                                                                  host: httpx.Client) -> None:
    world.load(DKI)
    headers = signed_in(host)
    head = next(e for e in DKI.employees if e.eselon == "II.a")
    expert = next(e for e in DKI.employees if e.position == "Pranata Komputer Ahli Pertama")
    staff = next(e for e in DKI.employees if e.position == "Petugas Pelayanan")

    def row(nip: str) -> dict[str, object]:
        [only] = host.get(f"/apisiasn/1.0/pns/rw-jabatan/{nip}", headers=headers).json()["data"]
        return only

    names = ("jenisJabatan", "namaJabatan", "jabatanFungsionalNama", "jabatanFungsionalUmumNama")
    assert tuple(row(head.nip)[k] for k in names) == ("1", head.position, "", "")
    assert tuple(row(expert.nip)[k] for k in names) == ("2", "", expert.position, "")
    assert tuple(row(staff.nip)[k] for k in names) == ("4", "", "", staff.position)
    for e in (head, expert, staff):
        r = row(e.nip)
        assert DDMMYYYY.match(str(r["tanggalSk"])) and DDMMYYYY.match(str(r["tmtJabatan"]))
        signed = datetime.strptime(str(r["tanggalSk"]), "%d-%m-%Y").date()
        assert signed < datetime.strptime(str(r["tmtJabatan"]), "%d-%m-%Y").date()  # the SK precedes the TMT
        assert r["unorIndukNama"] == opd_of(DKI, e.unit_id)
    client = connector(server.endpoints)
    try:
        [post] = client.rw_jabatan(expert.nip)
    finally:
        client.close()
    assert post.namaJabatan == "" and post.model_extra is not None
    assert post.jabatanFungsionalNama == post.post == expert.position  # the connector reads the post wherever it is


def test_every_post_in_a_scenario_has_a_kind_and_a_name(world: MockWorld) -> None:
    for scenario in (METRO, DKI, Scenario.bundled("pekalongan")):
        world.load(scenario)
        for e in scenario.employees:
            [r] = world.siasn.jabatan[e.nip]
            name = {"1": r["namaJabatan"], "2": r["jabatanFungsionalNama"], "4": r["jabatanFungsionalUmumNama"]}
            assert name[r["jenisJabatan"]] == (e.position or "Pelaksana")
            assert (r["jenisJabatan"] == "1") == bool(e.eselon)
            siasn.RiwayatJabatan.model_validate(r)


# 8. rw-kinerjaperiodik ---------------------------------------------------------------------------------------------
def test_rw_kinerjaperiodik_rates_each_year_since_appointment(server: MockServer, world: MockWorld,
                                                              host: httpx.Client) -> None:
    headers = signed_in(host)
    veteran = METRO.employees[3]  # appointed 2019-01: rated 2022 (the first year on the scale) to 2025
    recent = next(e for e in METRO.employees if e.nip[8:12] == "2023")
    newcomer = veteran.model_copy(update={"nip": "199312042026011869"})  # appointed in the period's own year
    world.load(METRO.model_copy(update={"employees": [*METRO.employees, newcomer]}))

    rows = host.get(f"/apisiasn/1.0/pns/rw-kinerjaperiodik/{veteran.nip}", headers=headers).json()["data"]
    recent_rows = host.get(f"/apisiasn/1.0/pns/rw-kinerjaperiodik/{recent.nip}", headers=headers).json()["data"]
    none_yet = host.get(f"/apisiasn/1.0/pns/rw-kinerjaperiodik/{newcomer.nip}", headers=headers)

    assert [r["tahun"] for r in rows] == [2022, 2023, 2024, 2025]
    assert {r["predikatKinerja"] for r in rows} <= PREDIKAT
    assert all(r["nipBaru"] == veteran.nip and re.fullmatch(r"[0-9A-F]{32}", r["id"]) for r in rows)
    assert len({r["id"] for r in rows}) == 4
    assert [r["tahun"] for r in recent_rows] == [2023, 2024, 2025]
    assert none_yet.status_code == 200 and none_yet.json() == {"code": 1, "data": []}
    client = connector(server.endpoints)
    try:
        ratings = client.rw_kinerja_periodik(veteran.nip)
    finally:
        client.close()
    assert [(r.tahun, r.predikatKinerja) for r in ratings] == [(r["tahun"], r["predikatKinerja"]) for r in rows]


def test_ratings_are_a_function_of_the_nip_and_year(world: MockWorld) -> None:
    before = world.siasn.kinerja
    world.load(DKI)
    world.load(METRO)
    every = [r["predikatKinerja"] for rows in world.siasn.kinerja.values() for r in rows]

    assert world.siasn.kinerja == before
    assert "Baik" in every and len(set(every)) > 1  # mostly Baik, not all alike


# 9. BSrE v2 and legacy fields --------------------------------------------------------------------------------------
def test_bsre_v2_carries_the_vendors_signature_and_certificate_fields(host: httpx.Client) -> None:
    answer = host.post("/api/v2/verify/pdf", auth=DEMO_BASIC,
                       json={"file": base64.b64encode(POOL["valid"].pdf).decode()}).json()
    [info] = answer["signatureInformations"]
    signer = trusted_signers()[0]
    leaf, issuer = info["certificateDetails"][0], info["certificateDetails"][1]

    assert UUID.match(info["id"]) and (info["modified"], info["certLevelCode"]) == (False, 0)
    assert (info["fieldName"], info["signatureAlgorithm"], info["digestAlgorithm"]) == (
        "Signature1", "SHA256withECDSA", "SHA-256")
    assert info["lastSignature"] is True
    assert leaf["serialNumber"] == format(signer.cert.serial_number, "X") == leaf["serial"]
    assert leaf["issuerName"] == issuer["subject"] == leaf["issuer"]
    assert leaf["issuerName"].startswith("CN=BSrE (TEST),")
    assert datetime.fromisoformat(leaf["notBeforeDate"]) == signer.cert.not_valid_before_utc
    assert datetime.fromisoformat(leaf["notAfterDate"]) == signer.cert.not_valid_after_utc
    assert leaf["signatureAlgoritm"] == "SHA256withECDSA"  # the vendor's spelling
    assert UUID.match(leaf["id"]) and leaf["id"] != issuer["id"]
    assert leaf["keyUsages"] == ["digitalSignature", "nonRepudiation"]
    assert issuer["keyUsages"] == ["keyCertSign", "cRLSign"]


def test_bsre_ids_are_the_same_for_the_same_document_and_differ_between_documents(host: httpx.Client) -> None:
    def info(pdf: bytes) -> dict[str, object]:
        body = host.post("/api/v2/verify/pdf", auth=DEMO_BASIC, json={"file": base64.b64encode(pdf).decode()})
        return body.json()["signatureInformations"][0]

    first, again = info(POOL["valid"].pdf), info(POOL["valid"].pdf)
    other = info([d for d in signed_pool() if d.kind == "valid"][1].pdf)
    fresh = MockWorld(METRO).tte.check(POOL["valid"].pdf).v2()["signatureInformations"][0]

    assert first == again and fresh["id"] == first["id"]
    assert other["id"] != first["id"]
    assert other["certificateDetails"][1]["id"] == first["certificateDetails"][1]["id"]  # the same BSrE (TEST)


def test_an_altered_document_is_modified(host: httpx.Client) -> None:
    body = host.post("/api/v2/verify/pdf", auth=DEMO_BASIC,
                     json={"file": base64.b64encode(POOL["altered"].pdf).decode()}).json()

    assert [(s["integrityValid"], s["modified"]) for s in body["signatureInformations"]] == [(False, True)]


def test_each_signature_of_a_twice_signed_document_has_its_own_id_and_only_the_last_is_last(
        host: httpx.Client) -> None:
    twice = sign_pdf(POOL["valid"].pdf, trusted_signers()[1], field_name="Signature2")
    body = host.post("/api/v2/verify/pdf", auth=DEMO_BASIC, json={"file": base64.b64encode(twice).decode()}).json()
    signatures = body["signatureInformations"]

    assert [s["fieldName"] for s in signatures] == ["Signature1", "Signature2"]
    assert [s["lastSignature"] for s in signatures] == [False, True]
    assert len({s["id"] for s in signatures}) == 2


def certify(pdf: bytes, identity: Identity, permission: MDPPerm) -> bytes:
    """A certification (DocMDP) signature, which the pool does not hold."""
    der = serialization.Encoding.DER
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(identity.cert.public_bytes(der)),
        signing_key=asn1_keys.PrivateKeyInfo.load(identity.key.private_bytes(
            der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(c.public_bytes(der)) for c in identity.chain]))
    meta = signers.PdfSignatureMetadata(field_name="Certification", subfilter=SigSeedSubFilter.PADES,
                                        md_algorithm="sha256", certify=True, docmdp_permissions=permission)
    output = BytesIO()
    run_coroutine(lambda: signers.PdfSigner(meta, signer=signer).async_sign_pdf(
        IncrementalPdfFileWriter(BytesIO(pdf)), output=output))
    return output.getvalue()


@pytest.mark.parametrize("permission", [MDPPerm.NO_CHANGES, MDPPerm.FILL_FORMS, MDPPerm.ANNOTATE])
def test_a_certification_signature_reports_its_level(host: httpx.Client, permission: MDPPerm) -> None:
    certified = certify(POOL["unsigned"].pdf, trusted_signers()[0], permission)
    body = host.post("/api/v2/verify/pdf", auth=DEMO_BASIC,
                     json={"file": base64.b64encode(certified).decode()}).json()

    assert body["conclusion"] == "VALID"
    assert [s["certLevelCode"] for s in body["signatureInformations"]] == [permission.value]


def test_bsre_legacy_carries_the_field_and_the_signing_time_in_wib(host: httpx.Client) -> None:
    body = host.post("/api/sign/verify", auth=DEMO_BASIC,
                     files={"signed_file": ("surat.pdf", POOL["valid"].pdf, "application/pdf")}).json()
    [detail] = body["details"]

    assert detail["signature_field"] == "Signature1"
    assert detail["signature_document"]["signed_in"] == "2026-03-02 09:00:00.000000"  # signed 09:00 WIB
    assert detail["info_signer"]["cert_user_certified"] is True  # what the legacy answer held before stays
