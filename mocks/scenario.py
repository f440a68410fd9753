"""The scenario format: the upstream state for one tenant and period (docs/scenario-format.md).

A scenario is what BKN, BSrE and the payroll office would hold; mocks are seeded from it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar, overload

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

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
        return cls.load(bundled_path(tenant))


class ScenarioData(Protocol):
    """What the mocks read of a scenario: a `Scenario`, or a `ScenarioFile` that builds each record when read."""

    @property
    def tenant(self) -> str: ...
    @property
    def period(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def units(self) -> Sequence[ScenarioUnit]: ...
    @property
    def employees(self) -> Sequence[ScenarioEmployee]: ...
    @property
    def plans(self) -> Sequence[ScenarioPlan]: ...
    @property
    def activities(self) -> Sequence[ScenarioActivity]: ...
    @property
    def evidence(self) -> Sequence[ScenarioEvidence]: ...
    @property
    def approvals(self) -> Sequence[ScenarioApproval]: ...
    @property
    def documents(self) -> Sequence[ScenarioDocument]: ...
    @property
    def attendance(self) -> Sequence[ScenarioAttendance]: ...
    @property
    def programmes(self) -> Sequence[ScenarioProgramme]: ...
    @property
    def positions(self) -> Sequence[ScenarioPosition]: ...


M = TypeVar("M", bound=BaseModel)
# The lists of a scenario, by field name, and the model of each record (Scenario's own declarations).
_SECTIONS: dict[str, type[BaseModel]] = {
    name: field.annotation.__args__[0]  # type: ignore[union-attr]
    for name, field in Scenario.model_fields.items() if getattr(field.annotation, "__origin__", None) is list}


class Section(Sequence[M], Generic[M]):
    """One list of a scenario file, held as the parsed JSON; each record is validated by its model when read,
    and not kept: reading a section twice validates twice, holds nothing."""

    def __init__(self, model: type[M], raw: list[Any], name: str) -> None:
        self.model, self.raw, self.name = model, raw, name

    def _record(self, i: int, item: Any) -> M:
        try:
            return self.model.model_validate(item)
        except ValidationError as exc:
            raise ValueError(f"{self.name}[{i}]: {_first_error(exc)}") from None

    def __len__(self) -> int:
        return len(self.raw)

    @overload
    def __getitem__(self, index: int) -> M: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[M]: ...
    def __getitem__(self, index: int | slice) -> M | Sequence[M]:
        if isinstance(index, slice):
            return [self._record(i, self.raw[i]) for i in range(*index.indices(len(self.raw)))]
        return self._record(index, self.raw[index])

    def __iter__(self) -> Iterator[M]:
        for i, item in enumerate(self.raw):
            yield self._record(i, item)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


class ScenarioFile:
    """A scenario read from its JSON for seeding mocks, without building it: the file's bytes parsed once
    (`json`), the header validated as `Scenario` validates it, and each list a `Section` whose records are built
    one at a time as a mock reads them, by the same models. A mock that encodes each record as it reads it
    (`mocks.bkn`) then holds the only copy; `release()` drops the parsed lists the mocks no longer need.

    The same data as `Scenario.load(path)` gives, record by record (tests/test_mock_memory.py); an invalid record
    is a ValueError naming it when it is read (`check()` reads them all first)."""

    def __init__(self, data: bytes) -> None:
        try:  # numbers with a fraction as Decimal, exactly as written (`Scenario.load` reads them losslessly too)
            parsed = json.loads(data, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise ValueError("a scenario is a JSON object")
        raw = {name: parsed.pop(name, []) for name in _SECTIONS}
        for name, value in raw.items():
            if not isinstance(value, list):
                raise ValueError(f"{name}: Input should be a valid list")
        try:  # the header, with the lists empty: every rule of Scenario's own fields, extra keys refused
            header = Scenario.model_validate({**parsed, "units": [], "employees": []})
        except ValidationError as exc:
            raise ValueError(_first_error(exc)) from None
        self.tenant, self.period, self.description = header.tenant, header.period, header.description
        self.updated_at = header.updated_at
        self.units: Section[ScenarioUnit] = Section(ScenarioUnit, raw["units"], "units")
        self.employees: Section[ScenarioEmployee] = Section(ScenarioEmployee, raw["employees"], "employees")
        self.plans: Section[ScenarioPlan] = Section(ScenarioPlan, raw["plans"], "plans")
        self.activities: Section[ScenarioActivity] = Section(ScenarioActivity, raw["activities"], "activities")
        self.evidence: Section[ScenarioEvidence] = Section(ScenarioEvidence, raw["evidence"], "evidence")
        self.approvals: Section[ScenarioApproval] = Section(ScenarioApproval, raw["approvals"], "approvals")
        self.documents: Section[ScenarioDocument] = Section(ScenarioDocument, raw["documents"], "documents")
        self.attendance: Section[ScenarioAttendance] = Section(ScenarioAttendance, raw["attendance"],
                                                               "attendance")
        self.programmes: Section[ScenarioProgramme] = Section(ScenarioProgramme, raw["programmes"], "programmes")
        self.positions: Section[ScenarioPosition] = Section(ScenarioPosition, raw["positions"], "positions")

    @classmethod
    def read(cls, path: str | Path) -> ScenarioFile:
        return cls(Path(path).read_bytes())

    @classmethod
    def bundled(cls, tenant: str) -> ScenarioFile:
        return cls.read(bundled_path(tenant))

    def sections(self) -> dict[str, Section[Any]]:
        return {name: getattr(self, name) for name in _SECTIONS}

    def check(self) -> None:
        """Validate every record now (nothing kept): a ValueError naming the first invalid one."""
        for section in self.sections().values():
            for _ in section:
                pass

    def release(self, *names: str) -> None:
        """Forget the parsed records of these sections (default: the e-Kinerja bulk, held encoded by the BKN mock
        once it is seeded): they read as empty from now on."""
        for name in names or ("plans", "activities", "evidence", "approvals", "documents"):
            getattr(self, name).raw = []


def bundled_path(tenant: str) -> Path:
    matches = sorted(SCENARIOS.glob(f"{tenant}-*.json"))
    if not matches:
        raise FileNotFoundError(f"no bundled scenario for tenant {tenant!r} in {SCENARIOS}")
    return matches[-1]


def document_bytes(scenario: ScenarioData) -> Mapping[str, bytes]:
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


__all__ = ["Scenario", "ScenarioActivity", "ScenarioApproval", "ScenarioAttendance", "ScenarioData",
           "ScenarioDocument", "ScenarioFile", "Section", "bundled_path",
           "ScenarioEmployee", "ScenarioEvidence", "ScenarioProgramme", "document_bytes",
           "ScenarioIndicator", "ScenarioPlan", "ScenarioSignature", "ScenarioUnit", "sha256_text"]
