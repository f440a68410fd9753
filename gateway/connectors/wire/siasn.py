"""BKN SIASN web service shapes (docs/contracts/siasn.md): the `{"code": 1, "data": ...}` envelope, PascalCase units."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from gateway.domain.types import NIP, Code, Ident, Name

NOT_FOUND = "Data tidak ditemukan"
# 401 bodies seen from the real gateway and SSO.
INVALID_JWT = "invalid or expired jwt"
SSO_MISMATCH = "Token SSO mismatch"
INVALID_CREDENTIALS = "Invalid Credentials"


class Envelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: int
    count: int | None = None
    data: Any = None


class TokenAnswer(BaseModel):
    access_token: str
    expires_in: int = 3600
    token_type: str = "Bearer"


class RefUnor(BaseModel):
    """One unit from `GET /referensi/ref-unor` (flat; the tree is built from `DiatasanId`)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    Id: str = Field(pattern=r"^[0-9A-F]{32}$", max_length=32)
    DiatasanId: Ident | None = None
    NamaUnor: Name
    NamaJabatan: Name | None = None
    EselonId: Code | None = None
    PemimpinPnsId: NIP | None = None


def parse_siasn_date(value: object) -> object:
    """SIASN dates are `dd-mm-yyyy` strings."""
    if isinstance(value, str) and len(value) == 10 and value[2] == "-" and value[5] == "-":
        return date(int(value[6:]), int(value[3:5]), int(value[:2]))
    return value


SiasnDate = Annotated[date, BeforeValidator(parse_siasn_date), PlainSerializer(lambda d: d.strftime("%d-%m-%Y"))]


class DataUtama(BaseModel):
    """`GET /pns/data-utama/{nip}`: one employee (camelCase with some snake_case, as SIASN sends it)."""

    model_config = ConfigDict(extra="allow")

    id: Ident
    nipBaru: NIP
    nama: Name
    nik: Code | None = None  # Nomor Induk Kependudukan, 16 digits
    tglLahir: SiasnDate
    jenisKelamin: str | None = None
    unorId: Ident
    unorNama: str = ""
    jabatanNama: str = ""
    eselon: str | None = None
    golRuangAkhir: Code | None = None  # e.g. "III/a"
    kelas_jabatan: int | None = None
    tmtJabatan: SiasnDate | None = None
    statusPegawai: str = "PNS"


class RiwayatJabatan(BaseModel):
    """One row of `GET /pns/rw-jabatan/{nip}`: a position held from `tmtJabatan`."""

    model_config = ConfigDict(extra="allow")

    id: Ident
    nipBaru: NIP
    unorId: Ident
    unorNama: str = ""
    namaJabatan: str | None = None  # structural posts; real SIASN sends null for the others
    jabatanFungsionalNama: str | None = None  # fungsional tertentu
    jabatanFungsionalUmumNama: str | None = None  # fungsional umum (pelaksana)
    jenisJabatan: str | None = None  # "1" struktural, "2" fungsional tertentu, "4" fungsional umum
    eselon: str | None = None
    tmtJabatan: SiasnDate
    tanggalSk: str | None = None
    nomorSk: str | None = None
    # An acting assignment (Plt.) beside the employee's own post, to its last day. Public clients do not show the
    # real field names for these; the mock's convention (docs/contracts/siasn.md).
    isPlt: bool | None = None
    tmtSelesaiPlt: SiasnDate | None = None

    @property
    def post(self) -> str:
        """The post's name, wherever its kind puts it."""
        return self.namaJabatan or self.jabatanFungsionalNama or self.jabatanFungsionalUmumNama or ""


class KinerjaPeriodik(BaseModel):
    """One row of `GET /pns/rw-kinerjaperiodik/{nip}`: a monthly or quarterly performance rating."""

    model_config = ConfigDict(extra="allow")

    id: str
    nipBaru: str
    tahun: int
    periodeBulan: int | None = None  # 1-12 for monthly ratings
    periodeTriwulan: int | None = None  # 1-4 for quarterly ratings
    predikatKinerja: str  # "Sangat Baik" | "Baik" | "Butuh Perbaikan" | "Kurang" | "Sangat Kurang"
