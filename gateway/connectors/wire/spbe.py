"""SPBE audit trail: the gateway's own contract (docs/contracts/spbe.md).

`POST /api/v1/audit/evidence-verdicts` with a batch of verdicts and an `Idempotency-Key`; each verdict has its
own id, so a verdict sent twice is recorded once. `GET /api/v1/audit/evidence-verdicts?tenant=` lists them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class EvidenceVerdict(BaseModel):
    verdict_id: str  # tenant:evidence_id:document hash:TTE conclusion — the same verdict is the same id
    tenant: str
    period: str
    evidence_id: str
    recorded_sha256: str
    actual_sha256: str | None
    tte: str
    verdict: Literal["accepted", "refused", "unchecked"]
    reason: str
    checked_at: datetime


class AuditHead(BaseModel):
    """The head of the tenant's audit chain when the batch was written: SPBE keeps it as an anchor outside the
    gateway's database, against which `gateway audit verify --head` detects the chain's newest entries removed."""

    tenant: str
    entries: int
    hash: str
    at: datetime | None  # when the newest entry was written


class VerdictBatch(BaseModel):
    verdicts: list[EvidenceVerdict]
    audit_head: AuditHead | None = None


class VerdictAnswer(BaseModel):
    recorded: int
    duplicates: int
