"""Kota Pekalongan's own apps: e-Seksama (programme results per bidang) and the attendance summary.

No public contract exists; this is the gateway's (docs/contracts/pekalongan.md). Both are paged by `limit` /
`offset`, filtered by `periode` (YYYY-MM), behind an `X-API-Key`, in the envelope
`{"status": "success", "total": N, "data": [...]}`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.domain.types import NIP, Ident, Name, Period, PlainDecimal


class Page(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    total: int
    data: list[Any]  # rows are checked one by one: one that is not an object is quarantined, not fatal


Amount = Annotated[PlainDecimal, Field(ge=0, le=10**12, max_digits=18, decimal_places=4, allow_inf_nan=False)]
Minutes = Annotated[int, Field(ge=0, le=24 * 60)]
Count = Annotated[int, Field(ge=0, le=1000)]  # a bound for arithmetic, not a business rule (the scheme caps)


class ProgramSeksama(BaseModel):
    id_program: Ident
    id_bidang: Ident
    nama_program: Name
    periode: Period
    target: Amount
    realisasi: Amount


class RekapPresensi(BaseModel):
    nip: NIP
    periode: Period
    terlambat_menit: list[Minutes] = Field(default=[], max_length=1000)
    pulang_cepat_menit: list[Minutes] = Field(default=[], max_length=1000)
    tanpa_catatan: Count = 0
    alpa_hari: Count = 0
