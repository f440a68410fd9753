"""One SIPD "TPP" workbook: the spreadsheet a city's finance office uploads to SIPD-RI, one row per employee.

SIPD-RI has no public machine-to-machine API for TPP, so TPP reaches it as a workbook in SIPD's "TPP" layout
(34 columns, see ``COLUMNS`` and docs/design.md, "SIPD workbooks"). This module is pure:
it turns lines and tenant rates into workbook bytes; storing, checksumming and recording the export is the
caller's job.

Money rules:

- Money is int rupiah, everywhere, including in every cell.
- TPP = TPP Beban Kerja + TPP Tempat Bertugas + TPP Kondisi Kerja + TPP Kelangkaan Profesi + TPP Prestasi Kerja.
  The gateway computes only TPP Prestasi Kerja (``WorkbookLine.amount``); the other four are fixed rupiah per
  line from the tenant's ``SipdRates``. On a correction workbook they are 0: a correction carries only the
  difference of the computed part.
- Every rate-based cell (Tunjangan PPH, the six employer contributions, the four employee deductions) is
  floor(TPP x rate), computed exactly with Decimal, one rounding per cell. For a negative TPP (a correction)
  the rounding is toward zero instead (computed on abs(TPP), sign restored), so the row of -X is exactly the
  negation of the row of +X and a correction undoes the original to the rupiah.
- Employer contributions = Iuran Pemberi Kerja (BPJS Kesehatan) + Iuran JKK + Iuran JKM + Iuran Simpanan Tapera
  + Iuran Pensiun + Tunjangan Jaminan Hari Tua. They are paid on top of the TPP and withheld again, so they
  appear in both sums.
- Employee deductions = BPJS Kesehatan 1% (peserta) + Potongan PPh 21 + Zakat + Bulog.
- Jumlah TPP = TPP + Tunjangan PPH + employer contributions.
- Jumlah Potongan = employer contributions + employee deductions.
- Jumlah Ditransfer = Jumlah TPP - Jumlah Potongan (= TPP + Tunjangan PPH - employee deductions).

Layout: sheet "TPP"; A1 the title ("KOREKSI - " first on a correction); row 2 empty or a note; row 3 the
headers; one row per line from row 4, "No." numbered 1..n; a last row labelled "Jumlah" with the column totals
as values (no formulas, so a reader without a formula engine sees them). NIP, NIK, Kode Bank and Nomor Rekening
are text cells so leading zeros survive; Tanggal Lahir is text dd-mm-yyyy; a missing value is an empty cell.

The bytes are deterministic: the same title, lines, rates and flag always give the same SHA-256 (fixed document
timestamps and fixed zip entry times).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated, Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["COLUMNS", "SipdRates", "WorkbookLine", "WorkbookRow", "build_workbook", "row_figures"]

COLUMNS: tuple[str, ...] = (
    "No.",
    "Nama Pegawai",
    "NIP Pegawai",
    "NIK Pegawai",
    "Tanggal Lahir Pegawai",
    "Tipe Jabatan",
    "Nama Jabatan",
    "Eselon",
    "Status ASN",
    "Golongan",
    "Masa Kerja Golongan",
    "Alamat",
    "Kode Bank",
    "Nama Bank",
    "Nomor Rekening Pegawai",
    "TPP Beban Kerja",
    "TPP Tempat Bertugas",
    "TPP Kondisi Kerja",
    "TPP Kelangkaan Profesi",
    "TPP Prestasi Kerja",
    "Tunjangan PPH",
    "Iuran Pemberi Kerja (BPJS Kesehatan)",
    "Iuran Jaminan Kecelakaan Kerja",
    "Iuran Jaminan Kematian",
    "Iuran Simpanan Tapera",
    "Iuran Pensiun",
    "Tunjangan Jaminan Hari Tua",
    "BPJS Kesehatan 1% (peserta)",
    "Potongan PPh 21",
    "Zakat",
    "Bulog",
    "Jumlah TPP",
    "Jumlah Potongan",
    "Jumlah Ditransfer",
)

Rate = Annotated[Decimal, Field(ge=0, le=1)]
Rupiah = Annotated[int, Field(ge=0)]


class SipdRates(BaseModel):
    """A tenant's SIPD settings: each rate a fraction of the TPP (the sum of the five TPP components)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tunjangan_pph: Rate = Decimal(0)  # Tunjangan PPH: tax allowance paid by the employer, part of Jumlah TPP
    bpjs_kesehatan_employer: Rate = Decimal(0)  # Iuran Pemberi Kerja (BPJS Kesehatan)
    jkk: Rate = Decimal(0)  # Iuran Jaminan Kecelakaan Kerja
    jkm: Rate = Decimal(0)  # Iuran Jaminan Kematian
    tapera: Rate = Decimal(0)  # Iuran Simpanan Tapera
    pensiun: Rate = Decimal(0)  # Iuran Pensiun
    jht: Rate = Decimal(0)  # Tunjangan Jaminan Hari Tua
    bpjs_kesehatan_employee: Rate = Decimal(0)  # BPJS Kesehatan 1% (peserta)
    pph21: Rate = Decimal(0)  # Potongan PPh 21: the employee's tax, a deduction
    zakat: Rate = Decimal(0)
    bulog: Rate = Decimal(0)
    # The four TPP components the gateway does not compute: fixed rupiah per line.
    beban_kerja: Rupiah = 0
    tempat_bertugas: Rupiah = 0
    kondisi_kerja: Rupiah = 0
    kelangkaan_profesi: Rupiah = 0
    status_asn: str = "PNS"


@dataclass(frozen=True)
class WorkbookLine:
    """One employee's row as the caller knows it; ``amount`` is the computed TPP Prestasi Kerja (int rupiah,
    negative on a correction that lowers it)."""

    nip: str
    name: str | None
    nik: str | None
    birth_date: date | None
    position_type: str | None
    position: str | None
    eselon: str | None
    golongan: str | None
    bank_code: str | None
    bank_name: str | None
    account_number: str | None
    amount: int


@dataclass(frozen=True)
class WorkbookRow:
    """The figures of one row, int rupiah, in column order (TPP Beban Kerja .. Jumlah Ditransfer)."""

    beban_kerja: int
    tempat_bertugas: int
    kondisi_kerja: int
    kelangkaan_profesi: int
    prestasi_kerja: int
    tunjangan_pph: int
    bpjs_kesehatan_employer: int
    jkk: int
    jkm: int
    tapera: int
    pensiun: int
    jht: int
    bpjs_kesehatan_employee: int
    pph21: int
    zakat: int
    bulog: int
    jumlah_tpp: int
    jumlah_potongan: int
    jumlah_ditransfer: int

    @property
    def tpp(self) -> int:
        """The five TPP components."""
        return self.beban_kerja + self.tempat_bertugas + self.kondisi_kerja + self.kelangkaan_profesi \
            + self.prestasi_kerja

    @property
    def employer_contributions(self) -> int:
        return self.bpjs_kesehatan_employer + self.jkk + self.jkm + self.tapera + self.pensiun + self.jht

    @property
    def employee_deductions(self) -> int:
        return self.bpjs_kesehatan_employee + self.pph21 + self.zakat + self.bulog

    def values(self) -> tuple[int, ...]:
        """The figures in column order, for columns "TPP Beban Kerja" .. "Jumlah Ditransfer"."""
        return tuple(getattr(self, f.name) for f in fields(self))


_FIRST_MONEY_COLUMN = COLUMNS.index("TPP Beban Kerja")
_EMPLOYER = ("bpjs_kesehatan_employer", "jkk", "jkm", "tapera", "pensiun", "jht")
_EMPLOYEE = ("bpjs_kesehatan_employee", "pph21", "zakat", "bulog")
_FIXED = ("beban_kerja", "tempat_bertugas", "kondisi_kerja", "kelangkaan_profesi")
_TEXT_COLUMNS = frozenset({"NIP Pegawai", "NIK Pegawai", "Kode Bank", "Nomor Rekening Pegawai"})
_WIDTHS = {"No.": 6, "Nama Pegawai": 32, "NIP Pegawai": 21, "NIK Pegawai": 19, "Tanggal Lahir Pegawai": 14,
           "Nama Jabatan": 32, "Alamat": 24, "Nomor Rekening Pegawai": 22}
_MONEY_WIDTH = 16
_OTHER_WIDTH = 14
_FIXED_TIME = datetime(2000, 1, 1)  # openpyxl treats naive document times as UTC
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
_HEADER_ROW = 3
_CORRECTION_PREFIX = "KOREKSI - "
_CORRECTION_NOTE = "Koreksi: selisih TPP Prestasi Kerja; komponen tetap 0."


def _share(tpp: int, rate: Decimal) -> int:
    # Floor for a positive TPP, toward zero for a negative one, so that -X mirrors +X to the rupiah.
    cell = int((Decimal(abs(tpp)) * rate).to_integral_value(rounding=ROUND_FLOOR))
    return -cell if tpp < 0 else cell


def row_figures(line: WorkbookLine, rates: SipdRates) -> WorkbookRow:
    """The figures of ``line``'s row under ``rates`` (whose fixed components are used as given; a correction
    workbook passes them as 0)."""
    fixed = {name: getattr(rates, name) for name in _FIXED}
    tpp = sum(fixed.values()) + line.amount
    shares = {name: _share(tpp, getattr(rates, name)) for name in ("tunjangan_pph", *_EMPLOYER, *_EMPLOYEE)}
    employer = sum(shares[name] for name in _EMPLOYER)
    employee = sum(shares[name] for name in _EMPLOYEE)
    jumlah_tpp = tpp + shares["tunjangan_pph"] + employer
    jumlah_potongan = employer + employee
    return WorkbookRow(**fixed, prestasi_kerja=line.amount, **shares, jumlah_tpp=jumlah_tpp,
                       jumlah_potongan=jumlah_potongan, jumlah_ditransfer=jumlah_tpp - jumlah_potongan)


def _identity_cells(number: int, line: WorkbookLine, status_asn: str) -> tuple[Any, ...]:
    birth = line.birth_date.strftime("%d-%m-%Y") if line.birth_date else None
    return (number, line.name, line.nip, line.nik, birth, line.position_type, line.position, line.eselon,
            status_asn, line.golongan, None, None, line.bank_code, line.bank_name, line.account_number)


def _deterministic_zip(data: bytes) -> bytes:
    # zipfile stamps each entry with the wall clock; rewrite the entries, in order, with a fixed time.
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def build_workbook(*, title: str, lines: Sequence[WorkbookLine], rates: SipdRates, correction: bool) -> bytes:
    """The .xlsx bytes of one SIPD "TPP" workbook for ``lines``, in the given order.

    On a correction workbook the title starts with "KOREKSI - " and the four fixed TPP components are 0.
    """
    if correction:
        rates = rates.model_copy(update=dict.fromkeys(_FIXED, 0))
        title = title if title.startswith(_CORRECTION_PREFIX) else _CORRECTION_PREFIX + title
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new Workbook always has one sheet
    ws.title = "TPP"
    bold = Font(bold=True)
    title_cell = ws.cell(row=1, column=1, value=title)
    title_cell.font = Font(bold=True, size=12)
    title_cell.data_type = "s"
    if correction:
        ws.cell(row=2, column=1, value=_CORRECTION_NOTE)
    for col, header in enumerate(COLUMNS, start=1):
        ws.cell(row=_HEADER_ROW, column=col, value=header).font = bold
        width = _WIDTHS.get(header, _MONEY_WIDTH if col > _FIRST_MONEY_COLUMN else _OTHER_WIDTH)
        ws.column_dimensions[get_column_letter(col)].width = width

    totals = [0] * (len(COLUMNS) - _FIRST_MONEY_COLUMN)
    row = _HEADER_ROW
    for number, line in enumerate(lines, start=1):
        row += 1
        figures = row_figures(line, rates).values()
        totals = [t + v for t, v in zip(totals, figures, strict=True)]
        for col, value in enumerate(_identity_cells(number, line, rates.status_asn), start=1):
            if value is None or value == "":
                continue
            cell = ws.cell(row=row, column=col)
            if COLUMNS[col - 1] in _TEXT_COLUMNS:
                cell.value = str(value)
                cell.number_format = "@"
            else:
                cell.value = value
            if cell.data_type == "f":
                # upstream text such as a name "=HYPERLINK(...)" stays text, never becomes a formula
                cell.data_type = "s"
        _write_money(ws, row, figures)

    row += 1
    ws.cell(row=row, column=1, value="Jumlah").font = bold
    _write_money(ws, row, totals, font=bold)
    ws.freeze_panes = ws.cell(row=_HEADER_ROW + 1, column=1)

    wb.properties.created = _FIXED_TIME
    wb.properties.modified = _FIXED_TIME
    buffer = io.BytesIO()
    # ExcelWriter rather than Workbook.save: save stamps "modified" with the wall clock.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).write_data()
    return _deterministic_zip(buffer.getvalue())


def _write_money(ws: Any, row: int, values: Sequence[int], font: Font | None = None) -> None:
    for offset, value in enumerate(values):
        cell = ws.cell(row=row, column=_FIRST_MONEY_COLUMN + 1 + offset, value=value)
        cell.number_format = "#,##0"
        if font is not None:
            cell.font = font
