"""Hand-built period data for scheme tests: one OPD, a head, a supervisor and staff.

The defaults are Metro's; Pekalongan and DKI tests add units, employees, evidence kinds, attendance and programmes
with the helpers below.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from gateway.domain import (
    WIB,
    Activity,
    Approval,
    Attendance,
    Employee,
    Evidence,
    EvidenceCheck,
    Indicator,
    PeriodData,
    Programme,
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


def make_nip(serial: int) -> str:
    """A valid NIP (born 1980-01-01, appointed 2010-01, sex digit 1) with the given serial 0-999."""
    return f"198001012010011{serial:03d}"


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
    attendance: list[Attendance] = field(default_factory=list)
    programmes: list[Programme] = field(default_factory=list)

    def unit(self, unit_id: str, name: str, parent: str | None = OPD, *, level: str = "bidang",
             head: str | None = None) -> str:
        self.units.append(Unit(id=unit_id, name=name, parent_id=parent, level=level, head_nip=head))
        return unit_id

    def employee(self, emp_nip: str, unit_id: str = OPD, *, supervisor: str | None = None, kelas: int = 7,
                 position: str = "", eselon: str | None = None, group: str | None = None) -> str:
        self.employees.append(Employee(nip=emp_nip, name=f"Pegawai {emp_nip[-3:]}", unit_id=unit_id,
                                       supervisor_nip=supervisor, kelas_jabatan=kelas, position=position,
                                       eselon=eselon, position_group=group))
        return emp_nip

    def indicator(self, ind_id: str, weight: int | str, target: int | str, nip: str = STAFF) -> str:
        self.indicators.append(Indicator(id=ind_id, nip=nip, period=self.period, rhk="RHK", name=ind_id,
                                         weight=Decimal(weight), target=Decimal(target)))
        return ind_id

    def activity(self, ind_id: str, day: date, qty: int | str = 1, *, nip: str = STAFF,
                 approver: str | None = SUPERVISOR, approved: bool = True, evidence: int = 1,
                 uploaded_at: datetime | None = None, tte: TteConclusion = TteConclusion.VALID,
                 altered: bool = False, kind: str = "dokumen", entered_at: datetime | None = None,
                 evidence_kinds: Sequence[str] | None = None) -> str:
        """An activity entered at 16:00 WIB on its day (or `entered_at`), with `evidence` documents (or one item of
        each of `evidence_kinds`) uploaded an hour later, and an approval the next day."""
        act_id = f"ACT-{len(self.activities) + 1:03d}"
        entered = entered_at or datetime.combine(day, time(16, 0), tzinfo=WIB)
        self.activities.append(Activity(id=act_id, nip=nip, indicator_id=ind_id, day=day, quantity=Decimal(qty),
                                        kind=kind, entered_at=entered))
        for ev_kind in evidence_kinds if evidence_kinds is not None else ["dokumen"] * evidence:
            self.add_evidence(act_id, ev_kind, uploaded_at=uploaded_at or entered + timedelta(hours=1), tte=tte,
                              altered=altered)
        if approver:
            self.approvals.append(Approval(id=f"APR-{act_id}", activity_id=act_id, approver_nip=approver,
                                           approved=approved, decided_at=entered + timedelta(days=1)))
        return act_id

    def add_evidence(self, act_id: str, kind: str = "dokumen", *, uploaded_at: datetime | None = None,
                     tte: TteConclusion = TteConclusion.VALID, altered: bool = False,
                     latitude: str | None = None, longitude: str | None = None,
                     captured_at: datetime | None = None) -> str:
        """One more evidence item (photo metadata optional), uploaded an hour after the activity was entered."""
        if uploaded_at is None:
            uploaded_at = next(a for a in self.activities if a.id == act_id).entered_at + timedelta(hours=1)
        ev_id = f"EV-{act_id}-{sum(e.activity_id == act_id for e in self.evidence)}"
        self.evidence.append(Evidence(
            id=ev_id, activity_id=act_id, kind=kind, sha256=sha(ev_id), uploaded_at=uploaded_at,
            latitude=None if latitude is None else Decimal(latitude),
            longitude=None if longitude is None else Decimal(longitude), captured_at=captured_at))
        self.checks.append(EvidenceCheck(evidence_id=ev_id, actual_sha256=sha(ev_id + "x" * altered), tte=tte))
        return ev_id

    def attend(self, emp_nip: str = STAFF, *, late: Sequence[int] = (), early: Sequence[int] = (),
               missing: int = 0, absent: int = 0, period: str | None = None) -> None:
        self.attendance.append(Attendance(nip=emp_nip, period=period or self.period, late_minutes=tuple(late),
                                          early_leave_minutes=tuple(early), missing_records=missing,
                                          absent_days=absent))

    def programme(self, prog_id: str, unit_id: str, target: int | str, realisation: int | str,
                  period: str | None = None) -> str:
        self.programmes.append(Programme(id=prog_id, unit_id=unit_id, period=period or self.period, name=prog_id,
                                         target=Decimal(target), realisation=Decimal(realisation)))
        return prog_id

    def build(self, tenant: str = "metro") -> PeriodData:
        return PeriodData(tenant=tenant, period=self.period, units=tuple(self.units),
                          employees=tuple(self.employees), indicators=tuple(self.indicators),
                          activities=tuple(self.activities), evidence=tuple(self.evidence),
                          approvals=tuple(self.approvals), checks=tuple(self.checks),
                          attendance=tuple(self.attendance), programmes=tuple(self.programmes))
