"""Kota Pekalongan's own apps: e-Seksama (programme results per bidang) and the attendance summary.

No public contract exists; this is the gateway's (docs/contracts/pekalongan.md). Both are paged by `limit` /
`offset`, filtered by `periode` (YYYY-MM), behind an `X-API-Key`, in the envelope
`{"status": "success", "total": N, "data": [...]}`.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class Page(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    total: int
    data: list[dict]


class ProgramSeksama(BaseModel):
    id_program: str
    id_bidang: str
    nama_program: str
    periode: str
    target: Decimal
    realisasi: Decimal


class RekapPresensi(BaseModel):
    nip: str
    periode: str
    terlambat_menit: list[int] = []
    pulang_cepat_menit: list[int] = []
    tanpa_catatan: int = 0
    alpa_hari: int = 0
