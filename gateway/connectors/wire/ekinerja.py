"""BKN e-Kinerja integration contract: the gateway's own (docs/contracts/ekinerja.md).

SIASN-style auth and envelope; every listing is ordered by (`updatedAt`, `id`), filtered by `periode`, and paged
by keyset: `after=<updatedAt>|<id>` (rows strictly after that one) with `limit`; `updated_since` (inclusive) and
`offset` are accepted too. `count` is the size of the whole filtered listing. Dates are `dd-mm-yyyy`, times
ISO 8601 with offset.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from gateway.domain.types import (
    NIP,
    AwareDatetime,
    Code,
    Description,
    Ident,
    Latitude,
    Longitude,
    Name,
    Period,
    Quantity,
    Sha256,
    Short,
    Target,
    Weight,
)

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

    updatedAt: AwareDatetime


class Pegawai(_Wire):
    nipBaru: NIP
    nama: Name
    unorId: Ident
    atasanNip: NIP | None = None
    kelas_jabatan: int = Field(ge=1, le=17)
    jabatanNama: Name = ""
    eselon: Code | None = None
    kelompokJabatan: Code | None = None  # DKI position group
    nik: Code | None = None  # Nomor Induk Kependudukan, 16 digits
    tglLahir: date | None = None  # dd-mm-yyyy, as SIASN
    golongan: Code | None = None  # golongan ruang, e.g. "III/a" (golRuangAkhir)

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

    id: Ident
    nip: NIP
    periode: Period
    rhk: Description
    indikator: Description
    bobot: Weight  # percent, decimal text
    target: Target  # decimal text
    satuan: Short = ""


class Aktivitas(_Wire):
    id: Ident
    nip: NIP
    indikatorId: Ident
    tanggal: date
    jumlah: Quantity
    jenis: Code = "dokumen"
    keterangan: Description = ""
    dibuatPada: AwareDatetime

    _parse_tanggal = field_validator("tanggal", mode="before")(parse_date)

    @field_serializer("tanggal")
    def _dump_tanggal(self, value: date) -> str:
        return value.strftime(DATE_FORMAT)


class Bukti(_Wire):
    id: Ident
    aktivitasId: Ident
    jenis: Code = "dokumen"
    sha256: Sha256
    diunggahPada: AwareDatetime
    namaFile: Name = ""
    lintang: Latitude | None = None  # photo latitude
    bujur: Longitude | None = None  # photo longitude
    waktuAmbil: AwareDatetime | None = None  # photo capture time


class Persetujuan(_Wire):
    id: Ident
    aktivitasId: Ident
    penyetujuNip: NIP
    status: str = Field(pattern="^(disetujui|ditolak)$")
    diputuskanPada: AwareDatetime
