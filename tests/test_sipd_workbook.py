"""The SIPD "TPP" workbook: 34 columns in SIPD's order, text IDs, exact money identities, deterministic bytes."""

from __future__ import annotations

import hashlib
import io
from dataclasses import fields, replace
from datetime import date
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.outbox.sipd_workbook import COLUMNS, SipdRates, WorkbookLine, WorkbookRow, build_workbook, row_figures

HEADER_ROW = 3
FIRST_DATA_ROW = 4
EMPLOYER = ("Iuran Pemberi Kerja (BPJS Kesehatan)", "Iuran Jaminan Kecelakaan Kerja", "Iuran Jaminan Kematian",
            "Iuran Simpanan Tapera", "Iuran Pensiun", "Tunjangan Jaminan Hari Tua")
EMPLOYEE = ("BPJS Kesehatan 1% (peserta)", "Potongan PPh 21", "Zakat", "Bulog")
COMPONENTS = ("TPP Beban Kerja", "TPP Tempat Bertugas", "TPP Kondisi Kerja", "TPP Kelangkaan Profesi",
              "TPP Prestasi Kerja")
MONEY = COLUMNS[COLUMNS.index("TPP Beban Kerja"):]


def line(nip: str = "198803032012032003", amount: int = 3_400_000, **changes: Any) -> WorkbookLine:
    base = WorkbookLine(nip=nip, name="Siti Rahmawati", nik="0071020304050607", birth_date=date(1988, 3, 3),
                        position_type="Struktural", position="Kepala Seksi Data", eselon="IV.a", golongan="III/c",
                        bank_code="0002", bank_name="Bank Jateng", account_number="0012345678", amount=amount)
    return replace(base, **changes)


RATES = SipdRates(tunjangan_pph=Decimal("0.05"), bpjs_kesehatan_employer=Decimal("0.04"), jkk=Decimal("0.0024"),
                  jkm=Decimal("0.0072"), bpjs_kesehatan_employee=Decimal("0.01"), pph21=Decimal("0.05"),
                  zakat=Decimal("0.025"), beban_kerja=1_000_000, tempat_bertugas=250_000)

LINES = [line(), line(nip="197502022000031002", amount=2_777_777, name="Budi", nik=None, birth_date=None,
                      eselon=None, account_number="0098765432")]


def sheet(data: bytes) -> Any:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["TPP"]
    return wb["TPP"]


def records(ws: Any) -> list[dict[str, Any]]:
    """Data rows and the total row, as {header: value}."""
    return [dict(zip(COLUMNS, row, strict=True))
            for row in ws.iter_rows(min_row=FIRST_DATA_ROW, max_col=len(COLUMNS), values_only=True)]


def test_columns_are_sipd_tpp_layout_in_order() -> None:
    assert len(COLUMNS) == 34
    assert COLUMNS[0] == "No." and COLUMNS[-1] == "Jumlah Ditransfer"
    ws = sheet(build_workbook(title="TPP Maret 2026", lines=LINES, rates=RATES, correction=False))
    headers = [c.value for c in ws[HEADER_ROW]]
    assert tuple(headers) == COLUMNS
    assert all(c.font.bold for c in ws[HEADER_ROW])
    assert ws.freeze_panes == "A4"
    assert ws["A1"].value == "TPP Maret 2026"


def test_pph21_five_percent_of_prestasi_3_400_000_is_170_000() -> None:
    figures = row_figures(line(amount=3_400_000), SipdRates(pph21=Decimal("0.05")))
    assert figures.prestasi_kerja == 3_400_000
    assert figures.pph21 == 170_000
    assert figures.jumlah_tpp == 3_400_000
    assert figures.jumlah_potongan == 170_000
    assert figures.jumlah_ditransfer == 3_230_000


def test_hand_worked_row_with_fixed_components_allowance_and_contributions() -> None:
    # TPP = 1,000,000 + 250,000 + 3,400,000 = 4,650,000
    f = row_figures(line(amount=3_400_000), RATES)
    assert f.tpp == 4_650_000
    assert f.tunjangan_pph == 232_500  # 5 %
    assert (f.bpjs_kesehatan_employer, f.jkk, f.jkm) == (186_000, 11_160, 33_480)  # 4 %, 0.24 %, 0.72 %
    assert f.employer_contributions == 230_640
    assert (f.bpjs_kesehatan_employee, f.pph21, f.zakat, f.bulog) == (46_500, 232_500, 116_250, 0)
    assert f.jumlah_tpp == 4_650_000 + 232_500 + 230_640 == 5_113_140
    assert f.jumlah_potongan == 230_640 + 395_250 == 625_890
    assert f.jumlah_ditransfer == 5_113_140 - 625_890 == 4_487_250


def test_each_rate_cell_is_floored_once() -> None:
    # 2,777,777 x 0.025 = 69,444.425 -> 69,444; x 0.0072 = 19,999.9944 -> 19,999
    f = row_figures(line(amount=2_777_777), SipdRates(zakat=Decimal("0.025"), jkm=Decimal("0.0072")))
    assert (f.zakat, f.jkm) == (69_444, 19_999)


def test_negative_correction_rounds_toward_zero_and_mirrors_positive() -> None:
    rates = SipdRates(zakat=Decimal("0.025"), jkm=Decimal("0.0072"))
    minus = row_figures(line(amount=-2_777_777), rates)
    assert (minus.zakat, minus.jkm) == (-69_444, -19_999)
    assert minus.values() == tuple(-v for v in row_figures(line(amount=2_777_777), rates).values())


def test_ids_and_account_numbers_are_text_cells_keeping_leading_zeros() -> None:
    ws = sheet(build_workbook(title="t", lines=LINES, rates=RATES, correction=False))
    rows = records(ws)
    assert rows[0]["NIP Pegawai"] == "198803032012032003"
    assert rows[0]["NIK Pegawai"] == "0071020304050607"
    assert rows[0]["Kode Bank"] == "0002"
    assert rows[0]["Nomor Rekening Pegawai"] == "0012345678"
    for col in ("NIP Pegawai", "NIK Pegawai", "Kode Bank", "Nomor Rekening Pegawai"):
        cell = ws.cell(row=FIRST_DATA_ROW, column=COLUMNS.index(col) + 1)
        assert cell.data_type == "s"
        assert cell.number_format == "@"


def test_nip_with_leading_zero_stays_text() -> None:
    ws = sheet(build_workbook(title="t", lines=[line(nip="012345678901234567")], rates=RATES, correction=False))
    cell = ws.cell(row=FIRST_DATA_ROW, column=COLUMNS.index("NIP Pegawai") + 1)
    assert (cell.value, cell.data_type) == ("012345678901234567", "s")


def test_birth_date_is_text_dd_mm_yyyy_and_missing_values_are_empty() -> None:
    rows = records(sheet(build_workbook(title="t", lines=LINES, rates=RATES, correction=False)))
    assert rows[0]["Tanggal Lahir Pegawai"] == "03-03-1988"
    assert rows[1]["Tanggal Lahir Pegawai"] is None
    assert rows[1]["NIK Pegawai"] is None and rows[1]["Eselon"] is None
    assert rows[0]["Masa Kerja Golongan"] is None and rows[0]["Alamat"] is None
    assert rows[0]["Status ASN"] == "PNS"


def test_rows_are_numbered_and_money_cells_are_ints_with_thousands_format() -> None:
    ws = sheet(build_workbook(title="t", lines=LINES, rates=RATES, correction=False))
    rows = records(ws)
    assert [r["No."] for r in rows[:-1]] == [1, 2]
    for r in rows:
        assert all(type(r[col]) is int for col in MONEY)
    cell = ws.cell(row=FIRST_DATA_ROW, column=COLUMNS.index("Jumlah TPP") + 1)
    assert cell.number_format == "#,##0"


def test_every_row_satisfies_the_sipd_sums() -> None:
    for r in records(sheet(build_workbook(title="t", lines=LINES, rates=RATES, correction=False))):
        employer = sum(r[c] for c in EMPLOYER)
        assert r["Jumlah TPP"] - r["Tunjangan PPH"] - employer == sum(r[c] for c in COMPONENTS)
        assert r["Jumlah Potongan"] == employer + sum(r[c] for c in EMPLOYEE)
        assert r["Jumlah Ditransfer"] == r["Jumlah TPP"] - r["Jumlah Potongan"]


def test_total_row_is_labelled_jumlah_and_sums_every_money_column() -> None:
    rows = records(sheet(build_workbook(title="t", lines=LINES, rates=RATES, correction=False)))
    *data, total = rows
    assert total["No."] == "Jumlah"
    assert total["NIP Pegawai"] is None
    for col in MONEY:
        assert total[col] == sum(r[col] for r in data)


def test_empty_batch_has_headers_and_a_zero_total() -> None:
    rows = records(sheet(build_workbook(title="t", lines=[], rates=RATES, correction=False)))
    assert len(rows) == 1 and rows[0]["No."] == "Jumlah"
    assert all(rows[0][col] == 0 for col in MONEY)


def test_same_input_gives_byte_identical_workbook() -> None:
    first = build_workbook(title="t", lines=LINES, rates=RATES, correction=False)
    second = build_workbook(title="t", lines=LINES, rates=RATES, correction=False)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    assert build_workbook(title="t", lines=LINES[:1], rates=RATES, correction=False) != first


def test_correction_workbook_title_and_zero_fixed_components() -> None:
    ws = sheet(build_workbook(title="TPP Maret 2026", lines=[line(amount=-150_000)], rates=RATES, correction=True))
    assert ws["A1"].value == "KOREKSI - TPP Maret 2026"
    row = records(ws)[0]
    assert row["TPP Beban Kerja"] == row["TPP Tempat Bertugas"] == 0
    assert row["TPP Prestasi Kerja"] == -150_000
    assert row["Potongan PPh 21"] == -7_500
    assert row["Jumlah Ditransfer"] == row["Jumlah TPP"] - row["Jumlah Potongan"]


def test_text_starting_with_equals_is_not_a_formula() -> None:
    ws = sheet(build_workbook(title="=1+1", lines=[line(name="=HYPERLINK(\"x\")")], rates=RATES, correction=False))
    assert ws["A1"].data_type == "s" and ws["A1"].value == "=1+1"
    cell = ws.cell(row=FIRST_DATA_ROW, column=COLUMNS.index("Nama Pegawai") + 1)
    assert cell.data_type == "s"


@pytest.mark.parametrize("bad", [{"pph21": Decimal("-0.01")}, {"zakat": Decimal("1.5")}, {"jkk": "nan"},
                                 {"beban_kerja": -1}, {"unknown": 1}])
def test_rates_outside_zero_to_one_or_unknown_keys_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SipdRates(**bad)


rates_st = st.decimals(min_value=0, max_value=1, places=4)


@st.composite
def sipd_rates(draw: st.DrawFn) -> SipdRates:
    names = ("tunjangan_pph", "bpjs_kesehatan_employer", "jkk", "jkm", "tapera", "pensiun", "jht",
             "bpjs_kesehatan_employee", "pph21", "zakat", "bulog")
    return SipdRates(**{name: draw(rates_st) for name in names})


@given(amount=st.integers(min_value=-50_000_000, max_value=50_000_000), rates=sipd_rates())
def test_identities_hold_exactly_and_minus_x_mirrors_x(amount: int, rates: SipdRates) -> None:
    plus = row_figures(line(amount=amount), rates)
    minus = row_figures(line(amount=-amount), rates)
    for f in (plus, minus):
        assert f.jumlah_tpp - f.tunjangan_pph - f.employer_contributions == f.tpp
        assert f.jumlah_potongan == f.employer_contributions + f.employee_deductions
        assert f.jumlah_ditransfer == f.jumlah_tpp - f.jumlah_potongan
        assert all(type(getattr(f, fld.name)) is int for fld in fields(WorkbookRow))
    assert minus.values() == tuple(-v for v in plus.values())
    # each cell is one floor of |TPP| x rate, never more than the exact share
    assert 0 <= abs(amount) * rates.pph21 - abs(plus.pph21) < 1
