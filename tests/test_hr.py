"""Employee fields for SIPD (NIK, birth date, golongan) and bank accounts from the city's HR listing.

NIK, birth date and golongan come on e-Kinerja's `pegawai` listing; bank accounts from the HR system's `GET /rekening`
(docs/contracts/hr.md). Both reach the store from the bundled scenarios; a bad row is quarantined with the rule it
broke, never a crash; a tenant that asks for bank accounts with no HR client set up is told so.
"""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from pydantic import ValidationError

from gateway.bootstrap import build_mock_pipeline
from gateway.connectors import BknAuth, BknClient, BknCredentials, HrClient
from gateway.connectors.streams import STREAMS
from gateway.connectors.wire.ekinerja import Pegawai
from gateway.domain import BankAccount, Employee
from gateway.errors import ConfigurationError, UpstreamAuthError
from gateway.pipeline import Pipeline
from gateway.settings import Settings
from gateway.store import repository as repo
from mocks import DEMO_CONSUMER, DEMO_HR_KEY, DEMO_SSO, MockWorld, Scenario
from mocks._personal import LADDER
from tests.conftest import FakeClock

METRO = Scenario.bundled("metro")
NIP_MAN, NIP_WOMAN = "198001012005011001", "198507152010012002"


def hr_client(world: MockWorld, sleeps: list[float], *, page_size: int = 20, key: str = DEMO_HR_KEY) -> HrClient:
    return HrClient(world.endpoints.hr_url, key, page_size=page_size, transport=world.transport(),
                    sleep=sleeps.append)


def no_sleep(_seconds: float) -> None:
    raise AssertionError("the sync on healthy mocks should never wait")


def pipeline_for(db_url: str, world: MockWorld, clock: FakeClock, **sources: list[str]) -> Pipeline:
    """The mock pipeline with each named tenant's `sources` replaced."""
    base = Settings(database_url=db_url)
    tenants = {name: config.model_copy(update={"sources": sources[name]}) if name in sources else config
               for name, config in base.tenants.items()}
    return build_mock_pipeline(base.model_copy(update={"tenants": tenants}), world, clock=clock, sleep=no_sleep)


# domain rules -------------------------------------------------------------------------------------------------------
def employee(**fields: object) -> Employee:
    return Employee.model_validate({"nip": NIP_MAN, "name": "Agus", "unit_id": "U1", "kelas_jabatan": 7} | fields)


def test_the_new_employee_fields_are_optional() -> None:
    plain = employee()
    assert (plain.nik, plain.birth_date, plain.golongan) == (None, None, None)


def test_nik_is_16_digits() -> None:
    assert employee(nik="1872010101800001").nik == "1872010101800001"
    for bad in ("187201010180000", "18720101018000012", "18720101018000AB"):
        with pytest.raises(ValidationError, match="nik"):
            employee(nik=bad)


def test_golongan_is_a_roman_golongan_and_a_lower_case_ruang() -> None:
    assert employee(golongan="III/a").golongan == "III/a"
    for bad in ("III/A", "V/a", "3/a", "III-a", "III/f", "IIII/a"):
        with pytest.raises(ValidationError, match="golongan"):
            employee(golongan=bad)


def test_birth_date_must_be_the_nips_own() -> None:
    assert employee(birth_date=date(1980, 1, 1)).birth_date == date(1980, 1, 1)
    with pytest.raises(ValidationError, match="does not agree with NIP"):
        employee(birth_date=date(1980, 1, 2))


def test_a_bank_account_keeps_its_number_as_text() -> None:
    account = BankAccount(nip=NIP_MAN, bank_code="009", bank_name="BANK BNI", account_number="0012345678",
                          account_name="AGUS")
    assert account.account_number == "0012345678"
    for field, bad in (("bank_code", "9"), ("bank_code", "0090"), ("account_number", "12345"),
                       ("account_number", "0012-345678"), ("account_number", "1" * 21), ("bank_name", "")):
        with pytest.raises(ValidationError, match=field):
            BankAccount.model_validate(account.model_dump() | {field: bad})


# the bundled scenarios ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tenant", ["metro", "pekalongan", "dki"])
def test_bundled_employees_carry_a_nik_birth_date_and_golongan_that_agree_with_the_nip(tenant: str) -> None:
    for e in Scenario.bundled(tenant).employees:
        assert e.birth_date is not None and e.birth_date.strftime("%Y%m%d") == e.nip[:8]
        assert e.nik is not None and len(e.nik) == 16 and e.nik.isdigit()
        day = e.birth_date.day + (40 if e.nip[14] == "2" else 0)  # Dukcapil: women's day of birth + 40
        assert e.nik[6:12] == f"{day:02d}{e.birth_date:%m%y}"
        assert e.golongan in LADDER
        Employee.model_validate(e.model_dump(exclude={"bank_account", "bank_code", "bank_name", "account_name"}))
        if e.bank_account:
            assert e.bank_code and len(e.bank_code) == 3 and e.bank_name
        else:
            assert e.bank_code is None and e.bank_name is None


def test_golongan_rises_with_kelas_jabatan() -> None:
    rank = {e.nip: LADDER.index(e.golongan or "") for e in METRO.employees}
    heads = [rank[e.nip] for e in METRO.employees if e.kelas_jabatan >= 12]
    staff = [rank[e.nip] for e in METRO.employees if e.kelas_jabatan <= 8]
    assert min(heads) > max(staff)


# the connector against the mock -------------------------------------------------------------------------------------
def test_bank_accounts_are_paged_and_every_paid_employee_has_one() -> None:
    world, sleeps = MockWorld(METRO), []
    pages = list(hr_client(world, sleeps, page_size=20).bank_accounts())
    accounts = {a.nip: a for page in pages for a in page.records}

    assert [len(p.records) for p in pages] == [20, 20, 11] and sleeps == []
    paid = {e.nip: e for e in METRO.employees if e.bank_account}
    assert set(accounts) == set(paid)  # the employee payroll refuses for a missing account has none here either
    for nip, account in accounts.items():
        e = paid[nip]
        assert (account.bank_code, account.bank_name, account.account_number) == (e.bank_code, e.bank_name,
                                                                                  e.bank_account)
        assert account.account_name == e.name.upper()


def test_a_bad_row_is_quarantined_with_its_rule_and_the_page_goes_on() -> None:
    world, sleeps = MockWorld(METRO), []
    good = world.hr.accounts[0]
    world.hr.accounts[1:3] = [
        {**world.hr.accounts[1], "nomorRekening": "12-34"},  # not digits
        {**world.hr.accounts[2], "nomorRekening": 1234567890},  # a number: its leading zeros would be gone
    ]
    world.hr.accounts.append({"kodeBank": "002", "namaBank": "BANK BRI", "nomorRekening": "123456",
                              "namaRekening": "X"})  # no NIP at all
    pages = list(hr_client(world, sleeps, page_size=100).bank_accounts())
    records = [a for p in pages for a in p.records]
    problems = [p for page in pages for p in page.problems]

    assert len(records) == len(world.hr.accounts) - 3 and records[0].nip == good["nip"]
    assert [(p.record_kind, p.rule) for p in problems] == [("bank_account", "wire-format")] * 3
    first, second, third = problems
    assert first.record_id == first.nip == world.hr.accounts[1]["nip"]
    assert first.message.startswith(f"bank account of {first.nip}: account_number") and "12-34" not in first.message
    assert "nomorRekening" in second.message and "string" in second.message.lower()
    assert third.record_id.startswith("?") and third.nip is None and "nip" in third.message


def test_a_wrong_api_key_is_refused_at_once() -> None:
    world, sleeps = MockWorld(METRO), []
    with pytest.raises(UpstreamAuthError, match="401"):
        list(hr_client(world, sleeps, key="nope").bank_accounts())
    assert sleeps == []


def test_the_listing_has_the_contracts_envelope() -> None:
    world = MockWorld(METRO)
    body = httpx.Client(transport=world.transport()).get(
        f"{world.endpoints.hr_url}/rekening", params={"limit": 5, "offset": 50},
        headers={"X-API-Key": DEMO_HR_KEY}).json()
    assert body["status"] == "success" and body["total"] == 51 and len(body["data"]) == 1
    assert set(body["data"][0]) == {"nip", "kodeBank", "namaBank", "nomorRekening", "namaRekening"}


# the pipeline --------------------------------------------------------------------------------------------------------
def test_a_sync_stages_bank_accounts_for_a_tenant_with_rekening_and_not_without(db_url: str,
                                                                                 clock: FakeClock) -> None:
    world = MockWorld(METRO)
    without = pipeline_for(db_url, world, clock, metro=[])
    report = without.sync("metro", "2026-03")
    with without.engine.connect() as conn:
        assert repo.load_bank_accounts(conn, "metro") == {}
    assert "bank_account" not in report.staged and world.routes["hr.rekening"].call_count == 0

    pipeline = pipeline_for(db_url, world, clock, metro=["rekening"])
    report = pipeline.sync("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        accounts = repo.load_bank_accounts(conn, "metro")
        some = repo.load_bank_accounts(conn, "metro", [METRO.employees[0].nip, METRO.employees[1].nip, "nobody"])
    assert report.staged["bank_account"].new == 51 == len(accounts)
    assert world.routes["hr.rekening"].call_count == 1  # once per sync: reference data, like the employees
    assert set(some) == {METRO.employees[0].nip, METRO.employees[1].nip}
    assert accounts[METRO.employees[0].nip].account_number == METRO.employees[0].bank_account
    again = pipeline.sync("metro", "2026-03").staged["bank_account"]
    assert (again.new, again.changed, again.unchanged) == (0, 0, 51)


def test_bad_and_duplicate_accounts_are_quarantined_and_the_rest_staged(db_url: str, clock: FakeClock) -> None:
    world = MockWorld(METRO)
    bad, twice = world.hr.accounts[3], world.hr.accounts[4]
    world.hr.accounts[3] = {**bad, "kodeBank": "BRI"}
    world.hr.accounts.append({**twice, "nomorRekening": "999999999"})  # a second, different account
    pipeline = pipeline_for(db_url, world, clock, metro=["rekening"])
    pipeline.sync("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        accounts = repo.load_bank_accounts(conn, "metro")
        held = {(q["record_id"], q["rule"]): q for q in repo.list_quarantine(conn, "metro")
                if q["record_kind"] == "bank_account"}
    assert set(held) == {(bad["nip"], "wire-format"), (twice["nip"], "duplicate-id")}
    assert "bank_code" in held[(bad["nip"], "wire-format")]["message"]
    assert "ask the HR system" in held[(twice["nip"], "duplicate-id")]["message"]
    assert bad["nip"] not in accounts and accounts[twice["nip"]].account_number == twice["nomorRekening"]
    assert len(accounts) == 50


def test_a_tenant_asking_for_bank_accounts_without_an_hr_client_is_a_configuration_error(
        db_url: str, clock: FakeClock) -> None:
    pipeline = pipeline_for(db_url, MockWorld(METRO), clock, metro=["rekening"])
    del pipeline.clients["hr"]  # no HR client set up
    with pytest.raises(ConfigurationError, match="metro. pulls the hr listing .bank_account.*GATEWAY_HR_API_KEY"):
        pipeline.sync("metro", "2026-03")


def test_a_tenant_with_only_rekening_needs_no_pekalongan_client(db_url: str, clock: FakeClock) -> None:
    pipeline = pipeline_for(db_url, MockWorld(METRO), clock, metro=["rekening"])
    pipeline.clients.pop("eseksama", None), pipeline.clients.pop("presensi", None)  # no Pekalongan client
    assert pipeline.sync("metro", "2026-03").staged["bank_account"].new == 51


@pytest.mark.parametrize("tenant", ["metro", "pekalongan", "dki"])
def test_the_embedded_defaults_pull_bank_accounts_for_every_bundled_city(tenant: str) -> None:
    assert "rekening" in Settings().tenants[tenant].sources


def test_nik_birth_date_and_golongan_reach_the_store_from_the_bundled_scenario(db_url: str, clock: FakeClock) -> None:
    pipeline = build_mock_pipeline(Settings(database_url=db_url), MockWorld(METRO), clock=clock, sleep=no_sleep)
    pipeline.sync("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        staged = {e.nip: e for e in repo.staged(conn, "metro", "employee")}
        period = {e.nip: e for e in repo.load_period(conn, "metro", "2026-03", kinds=["employee"]).employees}
    assert len(staged) == len(METRO.employees)
    for e in METRO.employees:
        assert (staged[e.nip].nik, staged[e.nip].birth_date, staged[e.nip].golongan) == (e.nik, e.birth_date,
                                                                                         e.golongan)
        assert period[e.nip] == staged[e.nip]


def test_the_pegawai_listing_and_siasn_carry_the_scenarios_values(tokens_world: tuple[MockWorld, dict[str, str]]
                                                                  ) -> None:
    world, tokens = tokens_world
    client = httpx.Client(transport=world.transport(), headers=tokens)
    e = METRO.employees[3]
    rows = client.get(f"{world.endpoints.ekinerja_url}/pegawai", params={"limit": 1000}).json()["data"]
    row = next(r for r in rows if r["nipBaru"] == e.nip)
    assert (row["nik"], row["tglLahir"], row["golongan"]) == (e.nik, e.birth_date.strftime("%d-%m-%Y"), e.golongan)
    utama = client.get(f"{world.endpoints.siasn_url}/pns/data-utama/{e.nip}").json()["data"]
    assert (utama["nik"], utama["tglLahir"], utama["golRuangAkhir"]) == (row["nik"], row["tglLahir"], e.golongan)


def test_blank_fields_are_unknown_and_a_wrong_birth_date_quarantines_the_employee() -> None:
    base = {"nipBaru": NIP_WOMAN, "nama": "Dewi", "unorId": "U1", "kelas_jabatan": 9,
            "updatedAt": "2026-04-01T07:00:00+07:00"}
    blank = STREAMS["pegawai"].to_domain(Pegawai.model_validate(base | {"nik": "", "tglLahir": "", "golongan": ""}))
    assert (blank.nik, blank.birth_date, blank.golongan) == (None, None, None)
    read = STREAMS["pegawai"].to_domain(Pegawai.model_validate(base | {"tglLahir": "15-07-1985", "golongan": "III/c"}))
    assert (read.birth_date, read.golongan) == (date(1985, 7, 15), "III/c")

    world = MockWorld(METRO)
    rows = world.bkn.streams["pegawai"]
    victim = rows[2]
    world.bkn.streams["pegawai"] = [*rows[:2], {**victim, "tglLahir": "02-02-1902"}, *rows[3:]]
    world.bkn.invalidate()
    ep = world.endpoints
    auth = BknAuth(ep.token_url, ep.sso_url, BknCredentials(consumer_key=DEMO_CONSUMER[0],
                                                            consumer_secret=DEMO_CONSUMER[1], sso_client_id="demo",
                                                            username=DEMO_SSO[0], password=DEMO_SSO[1]))
    client = BknClient(ep.siasn_url, ep.ekinerja_url, auth, page_size=500, transport=world.transport(),
                       sleep=no_sleep)
    pages = list(client.stream("pegawai", None))
    problems = [p for page in pages for p in page.problems]
    assert [(p.record_id, p.rule) for p in problems] == [(victim["nipBaru"], "wire-format")]
    assert "does not agree with NIP" in problems[0].message
    assert sum(len(p.records) for p in pages) == len(rows) - 1


@pytest.fixture
def tokens_world() -> tuple[MockWorld, dict[str, str]]:
    world = MockWorld(METRO)
    client = httpx.Client(transport=world.transport())
    gw = client.post(world.endpoints.token_url, data={"grant_type": "client_credentials"}, auth=DEMO_CONSUMER)
    sso = client.post(world.endpoints.sso_url, data={"grant_type": "password", "client_id": "x",
                                                      "username": DEMO_SSO[0], "password": DEMO_SSO[1]})
    return world, {"Authorization": f"Bearer {gw.json()['access_token']}",
                   "Auth": f"bearer {sso.json()['access_token']}"}
