"""BKN e-Kinerja integration contract: the gateway's own (docs/contracts/ekinerja.md).

SIASN-style auth and envelope; every listing is ordered by (`updatedAt`, `id`), filtered by `periode`, and paged
by keyset: `after=<updatedAt>|<id>` (rows strictly after that one) with `limit`; `updated_since` (inclusive) and
`offset` are accepted too. `count` is the size of the whole filtered listing. Dates are `dd-mm-yyyy`, times
ISO 8601 with offset.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

DATE_FORMAT = "%d-%m-%Y"


def parse_date(value: object) -> object:
    """`dd-mm-yyyy` by slicing: strptime was half the cost of reading an activity page."""
    if isinstance(value, str):
        if len(value) != 10 or value[2] != "-" or value[5] != "-":
            raise ValueError(f"date {value!r} is not dd-mm-yyyy")
        return date(int(value[6:10]), int(value[3:5]), int(value[0:2]))
    return value


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")

    updatedAt: datetime


class Pegawai(_Wire):
    nipBaru: str
    nama: str
    unorId: str
    atasanNip: str | None = None
    kelas_jabatan: int
    jabatanNama: str = ""
    eselon: str | None = None
    kelompokJabatan: str | None = None  # DKI position group
    nik: str | None = None  # Nomor Induk Kependudukan, 16 digits
    tglLahir: date | None = None  # dd-mm-yyyy, as SIASN
    golongan: str | None = None  # golongan ruang, e.g. "III/a" (SIASN's golRuangAkhir)

    @field_validator("tglLahir", mode="before")
    @classmethod
    def _parse_tgl_lahir(cls, value: object) -> object:
        """`dd-mm-yyyy`; empty means "not on record" (so do an empty `nik` and `golongan`: `_to_domain`)."""
        return None if value == "" else parse_date(value)

    @field_serializer("tglLahir")
    def _dump_tgl_lahir(self, value: date | None) -> str | None:
        return None if value is None else value.strftime(DATE_FORMAT)


class Indikator(_Wire):
    """One RHK indicator with its monthly target (KPI bulanan)."""

    id: str
    nip: str
    periode: str
    rhk: str
    indikator: str
    bobot: str  # percent, decimal text
    target: str  # decimal text
    satuan: str = ""


class Aktivitas(_Wire):
    id: str
    nip: str
    indikatorId: str
    tanggal: date
    jumlah: str
    jenis: str = "dokumen"
    keterangan: str = ""
    dibuatPada: datetime

    _parse_tanggal = field_validator("tanggal", mode="before")(parse_date)

    @field_serializer("tanggal")
    def _dump_tanggal(self, value: date) -> str:
        return value.strftime(DATE_FORMAT)


class Bukti(_Wire):
    id: str
    aktivitasId: str
    jenis: str = "dokumen"
    sha256: str
    diunggahPada: datetime
    namaFile: str = ""
    lintang: Decimal | None = None  # photo latitude
    bujur: Decimal | None = None  # photo longitude
    waktuAmbil: datetime | None = None  # photo capture time


class Persetujuan(_Wire):
    id: str
    aktivitasId: str
    penyetujuNip: str
    status: str = Field(pattern="^(disetujui|ditolak)$")
    diputuskanPada: datetime


STREAMS: dict[str, type[_Wire]] = {
    "pegawai": Pegawai,
    "indikator": Indikator,
    "aktivitas": Aktivitas,
    "bukti": Bukti,
    "persetujuan": Persetujuan,
}
