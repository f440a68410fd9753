"""The scenario format: the upstream state for one tenant and period (docs/scenario-format.md).

A scenario is what BKN, BSrE and the payroll office would hold; mocks are seeded from it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

SCENARIOS = Path(__file__).with_name("scenarios")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScenarioUnit(_Model):
    id: str = Field(description="32-character upper-case hex, as SIASN ids")
    name: str
    parent_id: str | None = None
    head_nip: str | None = None
    head_title: str | None = None
    eselon: str | None = None


class ScenarioEmployee(_Model):
    nip: str
    name: str
    unit_id: str
    supervisor_nip: str | None = None
    kelas_jabatan: int
    position: str = ""
    eselon: str | None = None
    position_group: str | None = None
    nik: str | None = None
    birth_date: date | None = None
    golongan: str | None = None
    bank_account: str | None = Field(default=None, description="the account number, as text")
    bank_code: str | None = None
    bank_name: str | None = None
    account_name: str | None = Field(default=None, description="the name on the account; default: `name`")


class ScenarioPosition(_Model):
    """A row of an employee's position history (SIASN `rw-jabatan`). An employee with rows here has exactly these
    as their history; the others have one row, their post now, from their appointment (docs/scenario-format.md)."""

    nip: str
    unit_id: str
    position: str = ""
    eselon: str | None = Field(default=None, description="a structural post (the unit's head) has one")
    start: date = Field(description="TMT jabatan")
    acting: bool = Field(default=False, description="Plt.: acting head beside the employee's own post")
    end: date | None = Field(default=None, description="an acting assignment's last day")


class ScenarioIndicator(_Model):
    id: str
    name: str
    weight: Decimal
    target: Decimal
    unit: str = ""


class ScenarioPlan(_Model):
    id: str
    nip: str
    period: str
    rhk: str
    indicators: list[ScenarioIndicator]


class ScenarioActivity(_Model):
    id: str
    nip: str
    indicator_id: str
    date: date
    quantity: Decimal
    kind: str = "dokumen"
    description: str = ""
    entered_at: AwareDatetime


class ScenarioSignature(_Model):
    """How the document is signed: `valid` (trusted chain), `invalid` (broken), `foreign` (untrusted root),
    `none` (no signature)."""

    status: Literal["valid", "invalid", "foreign", "none"] = "valid"
    signer_nip: str | None = None


class ScenarioDocument(_Model):
    """A document in the scenario's pool; many evidence items may point at one (signing is costly)."""

    id: str
    content_b64: str = Field(description="the document's bytes, base64")
    note: str = ""


class ScenarioEvidence(_Model):
    id: str
    activity_id: str
    kind: str = "dokumen"
    filename: str = "bukti.pdf"
    content: str | None = Field(default=None, description="the document as stored by BKN now, as text")
    document_id: str | None = Field(default=None, description="or: a document of the pool, by id")
    document_variant: str | None = Field(default=None, description="with a template `document_id` (tpl-<kind>): "
                                         "the document of its own derived from it (mocks.signing.variant)")
    sha256: str = Field(description="the hash BKN recorded at upload; differs from the document's if altered")
    uploaded_at: AwareDatetime
    signature: ScenarioSignature = ScenarioSignature()
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    captured_at: AwareDatetime | None = None


class ScenarioAttendance(_Model):
    nip: str
    period: str
    late_minutes: list[int] = []
    early_leave_minutes: list[int] = []
    missing_records: int = 0
    absent_days: int = 0


class ScenarioProgramme(_Model):
    id: str
    unit_id: str
    period: str
    name: str
    target: Decimal
    realisation: Decimal


class ScenarioApproval(_Model):
    id: str
    activity_id: str
    approver_nip: str
    approved: bool = True
    decided_at: AwareDatetime


class Scenario(_Model):
    format_version: Literal[1] = 1
    tenant: str
    period: str
    description: str = ""
    updated_at: AwareDatetime = Field(description="updatedAt the mocks report for every record")
    units: list[ScenarioUnit]
    employees: list[ScenarioEmployee]
    plans: list[ScenarioPlan] = []
    activities: list[ScenarioActivity] = []
    evidence: list[ScenarioEvidence] = []
    approvals: list[ScenarioApproval] = []
    documents: list[ScenarioDocument] = []
    attendance: list[ScenarioAttendance] = []
    programmes: list[ScenarioProgramme] = []
    positions: list[ScenarioPosition] = []

    @field_validator("period")
    @classmethod
    def _a_period(cls, value: str) -> str:
        from gateway.domain import Period

        return Period.parse(value).label  # a ValueError naming the period and both forms

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        return cls.model_validate_json(Path(path).read_bytes())

    @classmethod
    def bundled(cls, tenant: str) -> Scenario:
        matches = sorted(SCENARIOS.glob(f"{tenant}-*.json"))
        if not matches:
            raise FileNotFoundError(f"no bundled scenario for tenant {tenant!r} in {SCENARIOS}")
        return cls.load(matches[-1])


def document_bytes(scenario: Scenario) -> Mapping[str, bytes]:
    """Evidence id -> the bytes BKN serves for it now (variants derived when first asked for)."""
    pool = {d.id: base64.b64decode(d.content_b64) for d in scenario.documents}
    out: dict[str, bytes] = {}
    variants: dict[str, tuple[str, str]] = {}
    for e in scenario.evidence:
        if e.document_id is not None:
            if e.document_id not in pool:
                raise ValueError(f"evidence {e.id}: document_id {e.document_id!r} is not in the scenario's "
                                 "documents")
            if e.document_variant is not None:
                variants[e.id] = (e.document_id, e.document_variant)
            else:
                out[e.id] = pool[e.document_id]
        elif e.content is not None:
            out[e.id] = e.content.encode()
    return DerivedDocuments(out, variants) if variants else out


class DerivedDocuments(Mapping[str, bytes]):
    """Stored documents plus per-evidence variants of template documents, each signed on first request (tens of
    microseconds) and kept in a bounded cache."""

    def __init__(self, stored: dict[str, bytes], variants: dict[str, tuple[str, str]]) -> None:
        self._stored, self._variants = stored, variants

    def __getitem__(self, evidence_id: str) -> bytes:
        found = self._stored.get(evidence_id)
        if found is not None:
            return found
        template, key = self._variants[evidence_id]
        return _variant(template, key)

    def __iter__(self) -> Iterator[str]:
        yield from self._stored
        yield from self._variants

    def __len__(self) -> int:
        return len(self._stored) + len(self._variants)


@lru_cache(maxsize=4096)
def _variant(template: str, key: str) -> bytes:
    from mocks.signing import variant_of

    return variant_of(template, key)


def sha256_text(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


__all__ = ["Scenario", "ScenarioActivity", "ScenarioApproval", "ScenarioAttendance", "ScenarioDocument",
           "ScenarioEmployee", "ScenarioEvidence", "ScenarioProgramme", "document_bytes",
           "ScenarioIndicator", "ScenarioPlan", "ScenarioSignature", "ScenarioUnit", "sha256_text"]
