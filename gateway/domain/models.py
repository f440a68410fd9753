"""Canonical records shared by every layer. Upstream shapes are translated into these at the connector boundary."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from gateway.domain.types import NIP, AwareDatetime


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Unit(_Record):
    """An org unit: an OPD (department) or a bidang/seksi inside one."""

    id: str
    name: str
    parent_id: str | None = None
    head_nip: str | None = None
    level: str = "opd"  # opd | bidang | seksi


class Employee(_Record):
    """A civil servant (ASN) as BKN knows them."""

    nip: NIP
    name: str
    unit_id: str
    supervisor_nip: str | None = None  # atasan langsung
    kelas_jabatan: int = Field(ge=1, le=17)
    position: str = ""
    eselon: str | None = None
    position_group: str | None = None  # DKI's groups for the monthly maximum (e.g. "teknis", "lurah")
    nik: str | None = Field(default=None, pattern=r"^\d{16}$")  # Nomor Induk Kependudukan (civil registry id)
    birth_date: date | None = None  # must be the NIP's own (its first 8 digits)
    golongan: str | None = Field(default=None, pattern=r"^(I|II|III|IV)/[a-e]$")  # pangkat/golongan ruang, "III/a"

    @field_validator("birth_date")
    @classmethod
    def _birth_date_is_the_nips(cls, value: date | None, info: ValidationInfo) -> date | None:
        # A field validator, not a model validator: a third of the cost, on 65,000 employees a sync.
        return _nips_birth_date(value, info)


def _nips_birth_date(value: date | None, info: ValidationInfo) -> date | None:
    nip = info.data.get("nip")  # absent when the NIP itself was refused
    if value is not None and nip is not None and value.year * 10000 + value.month * 100 + value.day != int(nip[:8]):
        raise ValueError(f"birth date {value:%d-%m-%Y} does not agree with NIP {nip}, whose first 8 digits "
                         f"give {nip[6:8]}-{nip[4:6]}-{nip[0:4]}")
    return value


class Person(_Record):
    """An employee's main record in SIASN (`data-utama`): the civil registry and rank details payroll needs,
    which SIASN, not e-Kinerja, is the source of."""

    nip: NIP
    name: str
    nik: str | None = Field(default=None, pattern=r"^\d{16}$")
    birth_date: date
    golongan: str | None = Field(default=None, pattern=r"^(I|II|III|IV)/[a-e]$")
    unit_id: str | None = None

    @field_validator("birth_date")
    @classmethod
    def _birth_date_is_the_nips(cls, value: date, info: ValidationInfo) -> date | None:
        return _nips_birth_date(value, info)


class Position(_Record):
    """One post an employee held from `start` (SIASN's position history, `rw-jabatan`): until the employee's next
    position starts. A structural post (`kind` "struktural") heads its unit."""

    id: str
    nip: NIP
    unit_id: str
    post: str = ""
    kind: str = "pelaksana"  # struktural | fungsional | pelaksana
    eselon: str | None = None
    start: date  # TMT jabatan
    acting: bool = False  # Plt./Plh.: acting in the post, beside a post of their own, until `end`
    end: date | None = None  # an acting assignment's last day (None: until someone else takes the post)

    @property
    def heads_unit(self) -> bool:
        return self.kind == "struktural"


class BankAccount(_Record):
    """Where an employee's TPP is transferred, from the city's own HR listing (one account per NIP)."""

    nip: NIP
    bank_code: str = Field(pattern=r"^\d{3}$")  # kode bank (BI's three digits, e.g. "002" BRI)
    bank_name: str = Field(min_length=1)
    account_number: str = Field(pattern=r"^\d{6,20}$")  # text: leading zeros belong to the number
    account_name: str


class Indicator(_Record):
    """A monthly KPI: an RHK indicator with its weight (percent) and monthly target."""

    id: str
    nip: NIP
    period: str
    rhk: str
    name: str
    weight: Decimal
    target: Decimal


class Activity(_Record):
    """A logged activity (aktivitas) realising a quantity against one indicator."""

    id: str
    nip: NIP
    indicator_id: str
    day: date
    quantity: Decimal = Field(ge=0)
    kind: str = "dokumen"
    description: str = ""
    entered_at: AwareDatetime


class Evidence(_Record):
    """Evidence (bukti dukung) attached to an activity, with the hash BKN recorded at upload."""

    id: str
    activity_id: str
    kind: str = "dokumen"  # dokumen | undangan | dokumentasi | notulen | tindak_lanjut | foto
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    uploaded_at: AwareDatetime
    latitude: Decimal | None = None  # photo metadata, where the upload carried it
    longitude: Decimal | None = None
    captured_at: AwareDatetime | None = None


class Approval(_Record):
    id: str
    activity_id: str
    approver_nip: str
    approved: bool
    decided_at: AwareDatetime


class Attendance(_Record):
    """A monthly attendance summary: minutes of each late arrival and early leave, days absent without leave."""

    nip: NIP
    period: str
    late_minutes: tuple[int, ...] = ()
    early_leave_minutes: tuple[int, ...] = ()
    missing_records: int = Field(default=0, ge=0)  # check-ins/outs with no record: the highest step each
    absent_days: int = Field(default=0, ge=0)

    @property
    def id(self) -> str:
        """The summary's record id (one summary per employee and month), as the store and the quarantine name it."""
        return f"{self.nip}/{self.period}"


class Programme(_Record):
    """A programme of a bidang with its target and realisation for a period (Pekalongan's e-Seksama)."""

    id: str
    unit_id: str
    period: str
    name: str
    target: Decimal = Field(gt=0)
    realisation: Decimal = Field(ge=0)


class TteConclusion(StrEnum):
    VALID = "VALID"
    NO_SIGNATURE = "NO_SIGNATURE"
    INVALID = "INVALID"
    UNCHECKED = "UNCHECKED"  # concluded without a verdict (BKN has no document): counts as refused
    UNAVAILABLE = "UNAVAILABLE"  # BKN or BSrE did not answer: the employee is held, the next tick checks again


class EvidenceCheck(_Record):
    """What verification observed about one evidence item: the document's real hash and its TTE verdict."""

    evidence_id: str
    actual_sha256: str | None  # None: the document could not be fetched
    tte: TteConclusion
    tte_description: str = ""


class ResultStatus(StrEnum):
    FULL = "full"
    PARTIAL = "partial"
    NOTHING = "nothing"


class ExplanationLine(_Record):
    """One line of an allowance's explanation; `refs` name the input records it used."""

    code: str
    text: str
    refs: tuple[str, ...] = ()
    rupiah: str | None = None  # exact share of the amount (a fraction as text), where the line carries money


class Result(_Record):
    """One employee's allowance for one period under one scheme."""

    tenant: str
    period: str
    nip: NIP
    opd_id: str
    amount: int = Field(ge=0)
    ceiling: int = Field(ge=0)
    score: str  # exact, as a fraction or decimal string
    status: ResultStatus
    scheme: str
    settings_version: str
    lines: tuple[ExplanationLine, ...]
    input_ids: tuple[str, ...]
    metrics: dict[str, str] = {}  # scheme-specific figures for reports, e.g. indicators met (exact, as text)


class Problem(_Record):
    """A record the scheme or a connector refused to use: quarantined with its reason, never silently dropped."""

    record_kind: str
    record_id: str
    rule: str
    message: str
    nip: str | None = None


class PeriodData(BaseModel):
    """Everything a scheme needs for one tenant and period, already normalised and verified."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    period: str
    units: tuple[Unit, ...]
    employees: tuple[Employee, ...]
    indicators: tuple[Indicator, ...]
    activities: tuple[Activity, ...]
    evidence: tuple[Evidence, ...]
    approvals: tuple[Approval, ...]
    checks: tuple[EvidenceCheck, ...]
    attendance: tuple[Attendance, ...] = ()
    programmes: tuple[Programme, ...] = ()
    positions: tuple[Position, ...] = ()  # the tenant's dated position history (SIASN), every employee's
