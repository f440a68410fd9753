"""Hand-built period data for scheme tests: one OPD, a head, a supervisor and staff."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from gateway.domain import (
    WIB,
    Activity,
    Approval,
    Employee,
    Evidence,
    EvidenceCheck,
    Indicator,
    PeriodData,
    TteConclusion,
    Unit,
)

OPD = "A" * 32
HEAD = "197001011995031001"
SUPERVISOR = "197502022000031002"
STAFF = "198803032012032003"
OTHER = "198004042005041004"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class PeriodBuilder:
    period: str = "2026-03"
    units: list[Unit] = field(default_factory=lambda: [Unit(id=OPD, name="Dinas Contoh", level="opd")])
    employees: list[Employee] = field(default_factory=lambda: [
        Employee(nip=HEAD, name="Kepala", unit_id=OPD, kelas_jabatan=14),
        Employee(nip=SUPERVISOR, name="Kasi", unit_id=OPD, supervisor_nip=HEAD, kelas_jabatan=9),
        Employee(nip=STAFF, name="Staf", unit_id=OPD, supervisor_nip=SUPERVISOR, kelas_jabatan=7),
        Employee(nip=OTHER, name="Lain", unit_id=OPD, supervisor_nip=HEAD, kelas_jabatan=9),
    ])
    indicators: list[Indicator] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    checks: list[EvidenceCheck] = field(default_factory=list)

    def indicator(self, ind_id: str, weight: int | str, target: int | str, nip: str = STAFF) -> str:
        self.indicators.append(Indicator(id=ind_id, nip=nip, period=self.period, rhk="RHK", name=ind_id,
                                         weight=Decimal(weight), target=Decimal(target)))
        return ind_id

    def activity(self, ind_id: str, day: date, qty: int | str = 1, *, nip: str = STAFF,
                 approver: str | None = SUPERVISOR, approved: bool = True, evidence: int = 1,
                 uploaded_at: datetime | None = None, tte: TteConclusion = TteConclusion.VALID,
                 altered: bool = False) -> str:
        act_id = f"ACT-{len(self.activities) + 1:03d}"
        entered = datetime.combine(day, time(16, 0), tzinfo=WIB)
        self.activities.append(Activity(id=act_id, nip=nip, indicator_id=ind_id, day=day, quantity=Decimal(qty),
                                        entered_at=entered))
        for k in range(evidence):
            ev_id = f"EV-{act_id}-{k}"
            self.evidence.append(Evidence(id=ev_id, activity_id=act_id, sha256=sha(ev_id),
                                          uploaded_at=uploaded_at or entered + timedelta(hours=1)))
            self.checks.append(EvidenceCheck(evidence_id=ev_id, actual_sha256=sha(ev_id + "x" * altered),
                                             tte=tte))
        if approver:
            self.approvals.append(Approval(id=f"APR-{act_id}", activity_id=act_id, approver_nip=approver,
                                           approved=approved, decided_at=entered + timedelta(days=1)))
        return act_id

    def build(self, tenant: str = "metro") -> PeriodData:
        return PeriodData(tenant=tenant, period=self.period, units=tuple(self.units),
                          employees=tuple(self.employees), indicators=tuple(self.indicators),
                          activities=tuple(self.activities), evidence=tuple(self.evidence),
                          approvals=tuple(self.approvals), checks=tuple(self.checks))
