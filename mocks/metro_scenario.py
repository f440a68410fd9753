"""Builds the bundled Kota Metro scenario (March 2026): 4 OPDs, 52 employees, every Metro rule exercised.

March 2026 holds Nyepi (19th) with cuti bersama (18th), and Idul Fitri (21st-22nd) with cuti bersama
(20th, 23rd, 24th), so SLA windows in working days cross holidays. Run `python -m mocks.metro_scenario` to
rewrite `scenarios/metro-2026-03.json`; the build is deterministic.

Evidence documents are real PDFs from the signed pool of `mocks.signing` (a few documents shared by every evidence
item, held once in `Scenario.documents`): valid evidence points at a "valid" document; the invalid-TTE case at an
"altered" one whose recorded hash is its own (only the signature fails), the foreign case at a "foreign" one, the
no-signature case at an "unsigned" one, and the altered-document case at an "altered" one with the hash recorded
when it was signed (hash mismatch and a broken signature).
"""

from __future__ import annotations

import base64
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from mocks._personal import details
from mocks.scenario import (
    SCENARIOS,
    Scenario,
    ScenarioActivity,
    ScenarioApproval,
    ScenarioDocument,
    ScenarioEmployee,
    ScenarioEvidence,
    ScenarioIndicator,
    ScenarioPlan,
    ScenarioUnit,
)
from mocks.signing import PoolDocument, pool_by_kind, signed_pool

WIB = ZoneInfo("Asia/Jakarta")
PERIOD = "2026-03"
# Working days of March 2026 (weekends, Nyepi, Idul Fitri and their cuti bersama removed).
WORKDAYS = [date(2026, 3, d) for d in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 25, 26, 27, 30, 31)]

OPDS = [
    ("Sekretariat Daerah", "SEKRETARIS DAERAH", "II.a"),
    ("Dinas Pendidikan dan Kebudayaan", "KEPALA DINAS", "II.b"),
    ("Dinas Kesehatan", "KEPALA DINAS", "II.b"),
    ("Badan Kepegawaian dan Pengembangan SDM", "KEPALA BADAN", "II.b"),
]
NAMES = ["Agus", "Budi", "Citra", "Dewi", "Eko", "Fitri", "Gilang", "Hendra", "Indah", "Joko", "Kartika",
         "Lestari", "Made", "Nur", "Oktavia", "Putri", "Rahmat", "Sari", "Taufik", "Umi", "Wahyu", "Yanti"]
SURNAMES = ["Saputra", "Wijaya", "Lestari", "Pratama", "Hidayat", "Siregar", "Nasution", "Kurniawan",
            "Handayani", "Permata", "Santoso", "Rahayu"]


_NOTES = {
    "valid": "valid: PAdES-BASELINE-B, signer chained to the test Root CA Indonesia via BSrE (TEST)",
    "foreign": "foreign: PAdES-BASELINE-B, signer chained to a root BSrE does not trust",
    "unsigned": "unsigned: no signature",
    "altered": "altered: signed, then changed inside the signed range; SHA-256 as signed {signed_sha256}",
}


class _Builder:
    def __init__(self, seed: int = 2026) -> None:
        self.rng = random.Random(seed)
        self.units: list[ScenarioUnit] = []
        self.employees: list[ScenarioEmployee] = []
        self.plans: list[ScenarioPlan] = []
        self.activities: list[ScenarioActivity] = []
        self.evidence: list[ScenarioEvidence] = []
        self.approvals: list[ScenarioApproval] = []
        self._serial = 0
        self._nips: set[str] = set()
        self.pool = signed_pool(per_kind=2, seed=0)
        self.pool_by_kind = pool_by_kind(self.pool)

    def unit_id(self) -> str:
        return f"{self.rng.getrandbits(128):032X}"

    def nip(self, sex: int) -> str:
        while True:
            birth = date(1965, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 33))
            appointed = (birth.year + self.rng.randint(22, 30), self.rng.randint(1, 12))
            nip = f"{birth:%Y%m%d}{appointed[0]:04d}{appointed[1]:02d}{sex}{self.rng.randint(1, 999):03d}"
            if nip not in self._nips:
                self._nips.add(nip)
                return nip

    def employee(self, unit: str, supervisor: str | None, kelas: int, position: str, eselon: str | None,
                 *, bank: bool = True) -> ScenarioEmployee:
        sex = self.rng.choice((1, 2))
        nip = self.nip(sex)
        name = f"{self.rng.choice(NAMES)} {self.rng.choice(SURNAMES)}"
        account = f"{self.rng.randint(10**9, 10**10 - 1)}" if bank else None
        emp = ScenarioEmployee(
            nip=nip, name=name, unit_id=unit,
            supervisor_nip=supervisor, kelas_jabatan=kelas, position=position, eselon=eselon,
            bank_account=account, **details("metro", nip, kelas, account=account))
        self.employees.append(emp)
        return emp

    def org(self) -> None:
        root = ScenarioUnit(id=self.unit_id(), name="Pemerintah Kota Metro", head_title="WALI KOTA")
        self.units.append(root)
        self.sekda: ScenarioEmployee | None = None
        for name, title, eselon in OPDS:
            opd = ScenarioUnit(id=self.unit_id(), name=name, parent_id=root.id, head_title=title, eselon=eselon)
            self.units.append(opd)
            head = self.employee(opd.id, self.sekda.nip if self.sekda else None,
                                 15 if self.sekda is None else 14, title.title(), eselon)
            self.units[-1] = opd.model_copy(update={"head_nip": head.nip})
            if self.sekda is None:
                self.sekda = head
            for b in range(2):
                bidang = ScenarioUnit(id=self.unit_id(), name=f"Bidang {b + 1} {name}", parent_id=opd.id,
                                      head_title="KEPALA BIDANG", eselon="III.b")
                kabid = self.employee(bidang.id, head.nip, 12, "Kepala Bidang", "III.b")
                self.units.append(bidang.model_copy(update={"head_nip": kabid.nip}))
                seksi = ScenarioUnit(id=self.unit_id(), name=f"Seksi {b + 1}.1 {name}", parent_id=bidang.id,
                                     head_title="KEPALA SEKSI", eselon="IV.a")
                kasi = self.employee(seksi.id, kabid.nip, 9, "Kepala Seksi", "IV.a")
                self.units.append(seksi.model_copy(update={"head_nip": kasi.nip}))
                for _ in range(4):
                    self.employee(seksi.id, kasi.nip, self.rng.choice((5, 6, 7, 8)), "Pelaksana", None)

    def plan(self, emp: ScenarioEmployee, weights: list[int]) -> ScenarioPlan:
        indicators = [ScenarioIndicator(
            id=f"IND-{emp.nip[-6:]}-{i + 1}", name=f"Dokumen kinerja {i + 1}", weight=Decimal(w),
            target=Decimal(self.rng.choice((2, 3, 4, 5, 6))), unit="dokumen") for i, w in enumerate(weights)]
        plan = ScenarioPlan(id=f"RHK-{emp.nip[-6:]}-{PERIOD}", nip=emp.nip, period=PERIOD,
                            rhk="Terlaksananya layanan sesuai standar", indicators=indicators)
        self.plans.append(plan)
        return plan

    def activity(self, emp: ScenarioEmployee, ind: ScenarioIndicator, day: date, qty: int = 1, *,
                 upload_after: timedelta = timedelta(hours=2), signature: str = "valid", altered: bool = False,
                 approver: str | None = "supervisor", approved: bool = True, evidence: int = 1,
                 uploaded_at: datetime | None = None) -> ScenarioActivity:
        n = len(self.activities) + 1
        entered = datetime.combine(day, time(15, 30), tzinfo=WIB)
        act = ScenarioActivity(id=f"ACT-{n:05d}", nip=emp.nip, indicator_id=ind.id, date=day,
                               quantity=Decimal(qty), kind="dokumen", description=f"{ind.name} ({day})",
                               entered_at=entered)
        self.activities.append(act)
        for k in range(evidence):
            doc, recorded = self.document(signature, altered)
            self.evidence.append(ScenarioEvidence(
                id=f"EV-{n:05d}-{k + 1}", activity_id=act.id, filename=f"bukti-{act.id}-{k + 1}.pdf",
                document_id=doc.id, sha256=recorded, uploaded_at=uploaded_at or entered + upload_after))
        if approver is not None:
            who = emp.supervisor_nip if approver == "supervisor" else approver
            self.approvals.append(ScenarioApproval(
                id=f"APR-{n:05d}", activity_id=act.id, approver_nip=who or "", approved=approved,
                decided_at=entered + timedelta(days=1)))
        return act

    def document(self, signature: str, altered: bool) -> tuple[PoolDocument, str]:
        """The pool document for an evidence item and the hash BKN recorded at upload."""
        if altered:  # changed after upload: BKN holds the hash of the document as signed
            doc = self.pool_by_kind["altered"][-1]
            return doc, doc.signed_sha256
        kind = {"valid": "valid", "invalid": "altered", "foreign": "foreign", "none": "unsigned"}[signature]
        docs = self.pool_by_kind[kind]
        doc = docs[len(self.evidence) % len(docs)] if kind == "valid" else docs[0]
        return doc, doc.sha256  # uploaded as it is now: only the signature can fail

    def realise(self, emp: ScenarioEmployee, plan: ScenarioPlan, share: Decimal) -> None:
        """Log activities reaching `share` of every target, one unit per working day."""
        for ind in plan.indicators:
            units = int(ind.target * share)
            for i in range(units):
                self.activity(emp, ind, WORKDAYS[(i * 3 + len(self.activities)) % len(WORKDAYS)])

    def scenario(self) -> Scenario:
        self.org()
        by_role = self.employees
        special = {e.nip for e in by_role[:1]}  # the Sekda: no KPI plan this month
        cases = iter(e for e in by_role if e.position == "Pelaksana")
        on_time_cuti = next(cases)
        late_cuti = next(cases)
        deadline_edge = next(cases)
        bad_tte = next(cases)
        altered = next(cases)
        wrong_approver = next(cases)
        bad_weights = next(cases)
        capped = next(cases)
        no_evidence = next(cases)
        rejected = next(cases)
        no_bank = next(cases)
        lost_unit = next(cases)
        specials = {on_time_cuti.nip, late_cuti.nip, deadline_edge.nip, bad_tte.nip, altered.nip,
                    wrong_approver.nip, bad_weights.nip, capped.nip, no_evidence.nip, rejected.nip} | special
        tue = date(2026, 3, 17)  # SLA 3 working days -> Fri 27 March 23:59:59 WIB, across Nyepi and Lebaran
        shares = [Decimal(1), Decimal("0.5"), Decimal("0.75"), Decimal(1), Decimal("1.5"), Decimal(0)]
        for idx, emp in enumerate(self.employees):
            if emp.nip in specials:
                continue
            plan = self.plan(emp, self.rng.choice(([40, 30, 30], [50, 50], [25, 25, 25, 25], [60, 40])))
            self.realise(emp, plan, shares[idx % len(shares)])

        def full_plan(emp: ScenarioEmployee, weights: list[int]) -> ScenarioPlan:
            """Half of every target met, so that the case's own activity visibly changes the amount."""
            plan = self.plan(emp, weights)
            self.realise(emp, plan, Decimal("0.5"))
            return plan

        p = full_plan(on_time_cuti, [50, 50])
        # Uploaded on the 2nd working day after the 17th (Thu 26th): in time only because the 18th-24th are
        # Nyepi, Idul Fitri and cuti bersama.
        self.activity(on_time_cuti, p.indicators[0], tue, upload_after=timedelta(days=9))
        p = full_plan(late_cuti, [50, 50])
        self.activity(late_cuti, p.indicators[0], tue, uploaded_at=datetime(2026, 3, 30, 9, 0, tzinfo=WIB))
        p = full_plan(deadline_edge, [50, 50])
        self.activity(deadline_edge, p.indicators[0], tue, uploaded_at=datetime(2026, 3, 27, 23, 59, 59, tzinfo=WIB))
        self.activity(deadline_edge, p.indicators[1], tue, uploaded_at=datetime(2026, 3, 28, 0, 0, 0, tzinfo=WIB))
        p = full_plan(bad_tte, [40, 30, 30])
        self.activity(bad_tte, p.indicators[0], date(2026, 3, 5), signature="invalid")
        self.activity(bad_tte, p.indicators[1], date(2026, 3, 6), signature="foreign")
        self.activity(bad_tte, p.indicators[2], date(2026, 3, 9), signature="none")
        p = full_plan(altered, [50, 50])
        self.activity(altered, p.indicators[0], date(2026, 3, 10), altered=True, evidence=2)
        p = full_plan(wrong_approver, [50, 50])
        kabid = next(e for e in self.employees if e.nip == next(
            x.supervisor_nip for x in self.employees if x.nip == wrong_approver.supervisor_nip))
        self.activity(wrong_approver, p.indicators[0], date(2026, 3, 11), approver=kabid.nip)
        self.activity(wrong_approver, p.indicators[1], date(2026, 3, 12), approver=None)
        p = self.plan(bad_weights, [40, 40, 30])
        self.realise(bad_weights, p, Decimal(1))
        p = self.plan(capped, [60, 40])
        self.realise(capped, p, Decimal(2))  # 200% of the first target, capped at 100%
        p = self.plan(no_evidence, [50, 50])
        self.realise(no_evidence, p, Decimal("0.5"))
        self.activity(no_evidence, p.indicators[0], date(2026, 3, 13), evidence=0)
        p = full_plan(rejected, [50, 50])
        self.activity(rejected, p.indicators[1], date(2026, 3, 16), approved=False)
        # Payroll has no bank account for this one: the line is rejected and shows up for reconciliation.
        # Nor does the city's HR listing.
        self.employees[self.employees.index(no_bank)] = no_bank.model_copy(
            update={"bank_account": None, "bank_code": None, "bank_name": None})
        # This one's unit was closed in SIASN: BKN still lists the employee against it.
        self.employees[self.employees.index(lost_unit)] = lost_unit.model_copy(
            update={"unit_id": "F" * 32})

        return Scenario(
            tenant="metro", period=PERIOD, updated_at=datetime(2026, 4, 1, 7, 0, tzinfo=WIB),
            description=(
                "Kota Metro, March 2026: 4 OPDs, 52 employees. Rules exercised: evidence in time across cuti "
                "bersama, evidence late across cuti bersama, the 23:59:59 deadline edge, invalid/foreign/no "
                "TTE, altered document, approval by someone other than the direct supervisor, no approval, "
                "rejection, weights summing to 110, achievement capped at 100%, activity without evidence, no "
                "KPI plan, missing bank account, unknown unit."),
            units=self.units, employees=self.employees, plans=self.plans, activities=self.activities,
            evidence=self.evidence, approvals=self.approvals, documents=[
                ScenarioDocument(id=d.id, content_b64=base64.b64encode(d.pdf).decode(), note=_NOTES[d.kind].format(
                    signed_sha256=d.signed_sha256)) for d in self.pool])


def build(seed: int = 2026) -> Scenario:
    return _Builder(seed).scenario()


def dump(scenario: Scenario) -> str:
    """The scenario as JSON; evidence `signature` is left out (verdicts come from the signed documents)."""
    return scenario.model_dump_json(indent=1, exclude_none=True, exclude={"evidence": {"__all__": {"signature"}}})


def main(path: Path = SCENARIOS / f"metro-{PERIOD}.json") -> None:
    path.write_text(dump(build()) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
