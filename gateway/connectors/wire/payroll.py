"""BPKAD payroll API: the gateway's own contract (docs/contracts/payroll.md).

`POST /batches` with an `Idempotency-Key` header; the same key with the same body gets the same answer and books
nothing twice, the same key with another body is refused with 409. Lines are acknowledged asynchronously:
`GET /batches/{batch_id}` shows each line `pending`, `accepted` or `rejected` with a reason.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class PayrollLine(BaseModel):
    line_id: str
    nip: str
    amount: int  # whole rupiah; negative only on adjustment lines (a recovery)
    kind: Literal["tpp", "adjustment"] = "tpp"


class BatchRequest(BaseModel):
    tenant: str
    period: str
    opd_id: str
    lines: list[PayrollLine]


class LineStatus(BaseModel):
    line_id: str
    nip: str
    status: Literal["pending", "accepted", "rejected"]
    reason: str | None = None


class BatchAnswer(BaseModel):
    batch_id: str
    status: Literal["received", "completed"]
    lines: list[LineStatus]


REJECT_UNKNOWN_NIP = "unknown NIP"
REJECT_NO_ACCOUNT = "missing bank account"
REJECT_BUDGET = "budget ceiling exceeded"
