"""The city's own HR system (SIMPEG): its listing of employees' bank accounts (rekening).

No public contract exists; this is the gateway's (docs/contracts/hr.md). `GET /rekening`, paged by `limit` /
`offset`, behind an `X-API-Key`, in the envelope `{"status": "success", "total": N, "data": [...]}` (as
Pekalongan's apps). One row per employee; account numbers are text (their leading zeros belong to them).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from gateway.domain.types import NIP, Code, Name


class Page(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    total: int
    data: list[Any]  # rows are checked one by one: one that is not an object is quarantined, not fatal


class Rekening(BaseModel):
    """One employee's bank account for the TPP transfer."""

    model_config = ConfigDict(extra="ignore")

    nip: NIP
    kodeBank: Code  # three digits, e.g. "002" (BRI), "113" (Bank Jateng)
    namaBank: Name
    nomorRekening: Code  # a JSON number is refused: its leading zeros would be lost
    namaRekening: Name
