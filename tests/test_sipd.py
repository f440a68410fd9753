"""SIPD workbook destination: a whole cycle on the bundled Metro month paying through SIPD-RI workbooks.

Each payroll row becomes one workbook named after its idempotency key, written once; the workbook's figures are
the batch's amounts; employees SIPD cannot pay (no bank account) are rejected in the ledger, not silently left
out; corrections go in workbooks of their own; the finance office's later refusals enter through reconcile.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from gateway.bootstrap import build_mock_pipeline
from gateway.errors import ConfigurationError
from gateway.outbox import ledger, operations
from gateway.outbox.sipd import SipdDestination, period_title, workbook_path
from gateway.outbox.sipd_workbook import COLUMNS, SipdRates
from gateway.pipeline import Pipeline
from gateway.settings import Settings
from gateway.store import repository as repo
from mocks import MockWorld, Scenario
from tests.conftest import FakeClock

RATES = {"tunjangan_pph": "0.05", "bpjs_kesehatan_employer": "0.04", "jkk": "0.0024", "jkm": "0.003",
         "jht": "0.037", "bpjs_kesehatan_employee": "0.01", "pph21": "0.05", "zakat": "0.025"}
EMPLOYER = ("Iuran Pemberi Kerja (BPJS Kesehatan)", "Iuran Jaminan Kecelakaan Kerja", "Iuran Jaminan Kematian",
            "Iuran Simpanan Tapera", "Iuran Pensiun", "Tunjangan Jaminan Hari Tua")
COL = {name: index for index, name in enumerate(COLUMNS)}


def sipd_settings(db_url: str, directory: Path, **sipd: Any) -> Settings:
    base = Settings(database_url=db_url, sipd_workbook_dir=directory)
    metro = base.tenants["metro"].model_copy(update={
        "payroll_destination": "sipd", "sipd": {**RATES, **sipd},
        "sources": sorted({*base.tenants["metro"].sources, "rekening"})})
    return base.model_copy(update={"tenants": {**base.tenants, "metro": metro}})


def no_sleep(_seconds: float) -> None:
    raise AssertionError("the cycle on healthy mocks should never wait")


@pytest.fixture
def cycle(db_url: str, tmp_path: Path, clock: FakeClock) -> tuple[Pipeline, Path]:
    directory = tmp_path / "sipd"
    pipeline = build_mock_pipeline(sipd_settings(db_url, directory), MockWorld(Scenario.bundled("metro")),
                                   clock=clock, sleep=no_sleep)
    pipeline.cycle("metro", "2026-03")
    return pipeline, directory


def read(path: Path) -> tuple[Any, list[tuple[Any, ...]], list[Any]]:
    """The sheet, its line rows (values) and their cells (for types), without the totals row."""
    sheet = load_workbook(path)["TPP"]
    rows = list(sheet.iter_rows(min_row=4))
    lines = [r for r in rows if r[0].value != "Jumlah"]
    return sheet, [tuple(c.value for c in r) for r in lines], lines


def payroll_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return ledger.payroll_rows(conn, "metro", "2026-03")


def test_each_payroll_row_is_one_workbook_whose_figures_are_the_batch(cycle: tuple[Pipeline, Path]) -> None:
    pipeline, directory = cycle
    rows = payroll_rows(pipeline.engine)
    assert rows and all(r["status"] == "delivered" for r in rows)
    with pipeline.engine.connect() as conn:
        results = {r.nip: r.amount for r in repo.load_results(conn, "metro", "2026-03")}
        accounts = repo.load_bank_accounts(conn, "metro")
        people = {e.nip: e for e in repo.staged(conn, "metro", "employee")}
    in_workbooks: dict[str, int] = {}
    for row in rows:
        path = workbook_path(directory, row)
        assert row["answer"]["workbook"] == str(path) and path.name.endswith(".xlsx")
        sheet, values, cells = read(path)
        assert [c.value for c in sheet[3]] == list(COLUMNS)
        assert "Maret 2026" in sheet["A1"].value
        batch = {ln["nip"]: ln["amount"] for ln in row["payload"]["lines"]}
        for value, cell in zip(values, cells, strict=True):
            nip = value[COL["NIP Pegawai"]]
            assert cell[COL["NIP Pegawai"]].data_type == "s" and re.fullmatch(r"\d{18}", nip)
            account = cell[COL["Nomor Rekening Pegawai"]]
            assert account.data_type == "s" and account.value == accounts[nip].account_number  # leading zeros kept
            person = people[nip]
            if person.nik:
                assert cell[COL["NIK Pegawai"]].data_type == "s" and cell[COL["NIK Pegawai"]].value == person.nik
            if person.birth_date:
                assert value[COL["Tanggal Lahir Pegawai"]] == person.birth_date.strftime("%d-%m-%Y")
            assert value[COL["Golongan"]] == person.golongan
            employer = sum(value[COL[name]] for name in EMPLOYER)
            # Jumlah TPP minus the tax allowance and the employer contributions is the batch's amount.
            assert value[COL["Jumlah TPP"]] - value[COL["Tunjangan PPH"]] - employer == batch[nip]
            assert value[COL["TPP Prestasi Kerja"]] == batch[nip]
            assert value[COL["Jumlah Ditransfer"]] == value[COL["Jumlah TPP"]] - value[COL["Jumlah Potongan"]]
            assert value[COL["Tunjangan PPH"]] == int(batch[nip] * Decimal(RATES["tunjangan_pph"]))
            in_workbooks[nip] = in_workbooks.get(nip, 0) + batch[nip]
    with pipeline.engine.connect() as conn:
        standing = ledger.positions(conn, "metro", "2026-03")
    # Every rupiah computed is in a workbook, or rejected in the ledger with its reason.
    for nip, amount in results.items():
        if amount == 0:
            continue
        if nip in accounts:
            assert in_workbooks[nip] == amount == standing[nip].acknowledged
        else:
            assert nip not in in_workbooks
            assert standing[nip].rejected == amount and standing[nip].reasons == ["missing bank account"]


def test_a_resend_finds_the_workbook_written_and_writes_nothing_new(cycle: tuple[Pipeline, Path]) -> None:
    pipeline, directory = cycle
    destination = pipeline.destinations["payroll"]
    row = payroll_rows(pipeline.engine)[0]
    path = workbook_path(directory, row)
    before = (path.read_bytes(), sorted(directory.rglob("*")))
    again = destination.deliver(row)
    assert again.status == "delivered" and again.answer == row["answer"]
    assert (path.read_bytes(), sorted(directory.rglob("*"))) == before  # no temporary file left either
    assert destination.lookup(row).answer["sha256"] == row["answer"]["sha256"]
    assert destination.lookup({**row, "idempotency_key": row["idempotency_key"] + "x"}) is None


def test_a_change_goes_in_a_correction_workbook_and_a_later_refusal_is_paid_after_the_fix(
        cycle: tuple[Pipeline, Path], clock: FakeClock) -> None:
    pipeline, directory = cycle
    engine = pipeline.engine
    with engine.begin() as conn:
        results = repo.load_results(conn, "metro", "2026-03")
        paid = [r for r in results if r.amount > 0 and ledger.positions(conn, "metro", "2026-03")
                .get(r.nip, ledger.Position()).acknowledged == r.amount]
        first, second = paid[0], paid[1]
        targets = {r.nip: ledger.Target(r.opd_id, r.amount) for r in results}
        targets[first.nip] = ledger.Target(first.opd_id, first.amount - 250_000)
        ledger.bring_to(conn, "metro", "2026-03", targets, clock())
    pipeline.relay()
    corrections = sorted(directory.rglob("KOREKSI_*.xlsx"))
    assert len(corrections) == 1
    sheet, values, _ = read(corrections[0])
    assert sheet["A1"].value.startswith("KOREKSI - ")
    assert [(v[COL["NIP Pegawai"]], v[COL["TPP Prestasi Kerja"]]) for v in values] == [(first.nip, -250_000)]
    assert values[0][COL["TPP Beban Kerja"]] == 0

    # The finance office sends the second employee's line back; the operator enters it, fixes it, reconciles.
    message = operations.reject(engine, "metro", "2026-03", [second.nip], now=clock(), actor="op",
                                reason="rekening tidak aktif")
    assert "1 employee" in message
    clock.advance(minutes=5)
    report = operations.reconcile(engine, "metro", "2026-03", pipeline.destinations["payroll"], now=clock())
    refused = {d.nip: d.detail for d in report.differences if d.kind == "rejected"}
    assert "rekening tidak aktif" in refused[second.nip]  # next to the employee with no bank account at all
    operations.reconcile(engine, "metro", "2026-03", pipeline.destinations["payroll"], now=clock(), fix=True,
                         actor="op", reason="rekening diperbarui")
    pipeline.relay()
    resent = [p for p in directory.rglob("*.xlsx") if p not in corrections and second.nip in
              {v[COL["NIP Pegawai"]] for v in read(p)[1]}]
    assert len(resent) == 2  # the first workbook, and the one sent after the fix
    with engine.connect() as conn:
        assert ledger.positions(conn, "metro", "2026-03")[second.nip].acknowledged == second.amount


def test_rejecting_what_was_never_acknowledged_is_an_operator_error(cycle: tuple[Pipeline, Path],
                                                                  clock: FakeClock) -> None:
    pipeline, _ = cycle
    with pytest.raises(operations.OperationError) as error:
        operations.reject(pipeline.engine, "metro", "2026-03", ["199001012020011001"], now=clock(), actor="op",
                          reason="x")
    assert error.value.exit_code == 2 and "199001012020011001" in str(error.value)


def test_bad_sipd_rates_name_the_tenant_and_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"tenant 'metro': sipd\.pph21"):
        build_mock_pipeline(sipd_settings(f"sqlite:///{tmp_path}/g.db", tmp_path, pph21="1.5"),
                            MockWorld(Scenario.bundled("metro")))


def test_period_titles_are_indonesian() -> None:
    assert period_title("2026-03") == "Maret 2026"
    assert period_title("2026-Q1") == "Triwulan I 2026"


def test_an_unwritable_directory_is_a_retryable_failure(tmp_path: Path, engine: Engine) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    destination = SipdDestination(engine, blocked, lambda _t: SipdRates())
    row = {"tenant": "metro", "idempotency_key": "metro:2026-03:OPD:tpp:abc", "payload": {
        "tenant": "metro", "period": "2026-03", "opd_id": "OPD", "lines": []}}
    from gateway.errors import DeliveryError
    with pytest.raises(DeliveryError) as error:
        destination.deliver(row)
    assert error.value.retryable and "SIPD workbook" in str(error.value)


def test_nik_birth_date_and_golongan_come_from_siasn(db_url: str, tmp_path: Path, clock: FakeClock) -> None:
    """e-Kinerja's listing without them (as the real one is): the workbook carries SIASN data-utama's."""
    bare = Scenario.bundled("metro")
    bare = bare.model_copy(update={"employees": [e.model_copy(update={"nik": None, "golongan": None})
                                                 for e in bare.employees]})
    world = MockWorld(bare)
    directory = tmp_path / "sipd"
    pipeline = build_mock_pipeline(sipd_settings(db_url, directory), world, clock=clock, sleep=no_sleep)
    pipeline.cycle("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        assert all(e.nik is None and e.golongan is None for e in repo.staged(conn, "metro", "employee"))
    seen = 0
    for row in payroll_rows(pipeline.engine):
        _sheet, values, cells = read(workbook_path(directory, row))
        for value, cell in zip(values, cells, strict=True):
            main = world.siasn.utama[value[COL["NIP Pegawai"]]]
            assert cell[COL["NIK Pegawai"]].value == main["nik"] and cell[COL["NIK Pegawai"]].data_type == "s"
            assert value[COL["Golongan"]] == main["golRuangAkhir"]
            assert value[COL["Tanggal Lahir Pegawai"]] == main["tglLahir"]
            seen += 1
    assert seen >= 40
