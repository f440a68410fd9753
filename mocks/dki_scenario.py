"""Builds the bundled DKI Jakarta scenario (2026-Q1, paid quarterly): 4 OPDs, 28 employees, three months of
activities, every DKI rule exercised.

Run `python -m mocks.dki_scenario` to rewrite `scenarios/dki-2026-Q1.json`; the build is deterministic.

Organisation: a root "Pemerintah Provinsi DKI Jakarta"; the Dinas Kependudukan dan Pencatatan Sipil (bidang, one with
a seksi), the Badan Pendapatan Daerah (one bidang), the Sekretariat Daerah (two biro, one with a bagian, the other
newly formed with only its head) and the Kota Administrasi Jakarta Pusat (Kecamatan Menteng, Kelurahan Menteng
under it). Supervisors follow the tree: staff report to the head of their unit, heads to the head of the parent unit
(eselon IV to III, III to II). Position groups are the keys of the 2015 table; structural posts the table does not
name take the group of their eselon, as `mocks._org` does (III -> camat, IV -> lurah; the wali kota administrasi ->
kepala_badan).

Activities: kind `pelayanan` for the service counters, `dokumen` otherwise; no KPI plans (the scheme does not use
them). Each counted activity is entered inside the input window, on its date from 15:03 WIB on, a few the next
morning before 08:00; approved by the direct supervisor on the next working day. One in 25 carries a document of the
signed pool (DKI checks no evidence, but the gateway verifies it and writes the verdicts to SPBE).

The quarter has Isra Mi'raj (16 January), Imlek (17 February, cuti bersama 16th), Nyepi and Idul Fitri (18-24 March)
off; activity dates are working days. Counts per employee and month are in `COUNTS`: at Rp 9,000 a point, a
service-level staff member (maximum Rp 4,005,000) reaches the maximum with 445 jobs; each measured unit but one has a
month in which its counter staff do, so exactly one unit stays below half in all three months.

The cases (names as `cases()` gives them, used by the tests; amounts in tests/test_city_cycles.py):

- `window`: in January an entry at exactly 15:00:00 (in), one at 07:59:59 the next morning (in), one at exactly
  08:00:00 (out) and one at 10:30 (out); an activity of 30 January entered on 2 February at 06:15 belongs to January.
- `over_max`: 460 jobs in February, over the service-level maximum: capped; `window` has exactly 445 in March.
- `kaban` (Bapenda) and `kabiro_organisasi`: eselon II, paid "sundulan" from their subtree; `kadis` (Dukcapil) also
  enters two activities, refused; `kabiro_pemerintahan` heads a biro with nobody under him: 0, with that reason.
- `approvals`: one activity approved by the supervisor's supervisor, one with no approval, one rejected.
- `on_leave`: no activity all quarter: 0, no payroll line.
- the Bidang Pengelolaan Informasi Administrasi Kependudukan stays below half every month: the candidate for
  merging or closure.
- quarantined: the Sekretaris Daerah (no position group: eselon I is not in the table), a functional post with group
  `fungsional` (not in the table), an employee listed against a unit closed in SIASN; and, by the February sync, an
  activity whose NIP the mobile app cut short (`wire-format`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from mocks._calendar import add_working_days, working_days
from mocks._kit import WIB, People, dump, pool_documents
from mocks._personal import details
from mocks.scenario import (
    SCENARIOS,
    Scenario,
    ScenarioActivity,
    ScenarioApproval,
    ScenarioEmployee,
    ScenarioEvidence,
    ScenarioUnit,
)
from mocks.signing import pool_by_kind, signed_pool

PERIOD = "2026-Q1"
MONTHS = ((2026, 1), (2026, 2), (2026, 3))
CLOSED_UNIT = "F" * 32  # "Seksi Pengaduan", merged away in SIASN

# Counted activities per employee in January, February, March.
COUNTS: dict[str, tuple[int, int, int]] = {
    # Dukcapil, Bidang Pelayanan Pendaftaran Penduduk and its Seksi Identitas Penduduk
    "kabid_pelayanan": (20, 20, 20), "over_max": (45, 460, 60), "kasi_identitas": (20, 20, 20),
    "window": (40, 40, 445),
    # Dukcapil, Bidang Pengelolaan Informasi Administrasi Kependudukan: little logged, the closure candidate
    "kabid_informasi": (20, 18, 22), "analis_data": (40, 35, 45), "approvals": (30, 30, 30),
    "operator_2": (30, 25, 35), "operator_3": (25, 30, 30), "pengadministrasi": (35, 30, 40),
    "arsiparis": (30, 30, 30), "on_leave": (0, 0, 0),
    # Bapenda, Bidang Pajak Daerah
    "kabid_pajak": (37, 37, 37), "petugas_pajak": (445, 89, 89),
    # Setda, Biro Organisasi, Bagian Kelembagaan dan Analisis Jabatan
    "kabag_kelembagaan": (37, 37, 37), "operator_jabatan": (43, 43, 645),
    # Kota Administrasi Jakarta Pusat
    "camat": (20, 20, 20), "petugas_kecamatan": (45, 445, 45), "lurah": (20, 20, 20),
    "petugas_kelurahan": (45, 45, 445),
}


class _Builder:
    def __init__(self, seed: int = 1527) -> None:
        self.people = People(seed)
        self.units: dict[str, ScenarioUnit] = {}
        self.employees: list[ScenarioEmployee] = []
        self.activities: list[ScenarioActivity] = []
        self.evidence: list[ScenarioEvidence] = []
        self.approvals: list[ScenarioApproval] = []
        self.cases: dict[str, ScenarioEmployee] = {}
        self.pool = signed_pool(per_kind=2, seed=0)
        self.by_kind = pool_by_kind(self.pool)
        self.days = {m: working_days(date(y, m, 1), date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1))
                     for y, m in MONTHS}

    # organisation ---------------------------------------------------------------------------------------------------
    def unit(self, name: str, parent: str | None, title: str, eselon: str | None = None) -> str:
        uid = self.people.unit_id()
        self.units[uid] = ScenarioUnit(id=uid, name=name, parent_id=parent, head_title=title, eselon=eselon)
        return uid

    def person(self, case: str, unit: str, supervisor: ScenarioEmployee | None, kelas: int, position: str,
               group: str | None, eselon: str | None = None, *, heads: bool = False) -> ScenarioEmployee:
        nip, name = self.people.nip_and_name((40, 57) if eselon else (24, 55))
        account = self.people.bank_account()
        emp = ScenarioEmployee(nip=nip, name=name, unit_id=unit, supervisor_nip=supervisor.nip if supervisor else None,
                               kelas_jabatan=kelas, position=position, eselon=eselon, position_group=group,
                               bank_account=account, **details("dki", nip, kelas, account=account))
        self.employees.append(emp)
        if heads:
            self.units[unit] = self.units[unit].model_copy(update={"head_nip": nip})
        self.cases[case] = emp
        return emp

    def org(self) -> None:
        p = self.person
        root = self.unit("Pemerintah Provinsi DKI Jakarta", None, "GUBERNUR")
        setda = self.unit("Sekretariat Daerah", root, "SEKRETARIS DAERAH", "I.b")
        sekda = p("sekda", setda, None, 17, "Sekretaris Daerah", None, "I.b", heads=True)

        dukcapil = self.unit("Dinas Kependudukan dan Pencatatan Sipil", root, "KEPALA DINAS", "II.b")
        kadis = p("kadis", dukcapil, sekda, 15, "Kepala Dinas Kependudukan dan Pencatatan Sipil", "kepala_dinas",
                  "II.b", heads=True)
        pelayanan = self.unit("Bidang Pelayanan Pendaftaran Penduduk", dukcapil, "KEPALA BIDANG", "III.b")
        kabid = p("kabid_pelayanan", pelayanan, kadis, 12, "Kepala Bidang Pelayanan Pendaftaran Penduduk", "camat",
                  "III.b", heads=True)
        p("over_max", pelayanan, kabid, 6, "Petugas Pelayanan", "pelayanan")
        identitas = self.unit("Seksi Identitas Penduduk", pelayanan, "KEPALA SEKSI", "IV.a")
        kasi = p("kasi_identitas", identitas, kabid, 9, "Kepala Seksi Identitas Penduduk", "lurah", "IV.a",
                 heads=True)
        p("window", identitas, kasi, 5, "Petugas Pelayanan", "pelayanan")
        informasi = self.unit("Bidang Pengelolaan Informasi Administrasi Kependudukan", dukcapil, "KEPALA BIDANG",
                              "III.b")
        kabid = p("kabid_informasi", informasi, kadis, 12,
                  "Kepala Bidang Pengelolaan Informasi Administrasi Kependudukan", "camat", "III.b", heads=True)
        p("analis_data", informasi, kabid, 9, "Analis Data Kependudukan", "teknis")
        p("approvals", informasi, kabid, 7, "Operator Basis Data", "operasional")
        p("operator_2", informasi, kabid, 7, "Operator Basis Data", "operasional")
        p("operator_3", informasi, kabid, 6, "Operator Perekaman Data", "operasional")
        p("pengadministrasi", informasi, kabid, 7, "Pengadministrasi Umum", "administrasi")
        p("arsiparis", informasi, kabid, 5, "Petugas Arsip", "pelayanan")
        p("on_leave", informasi, kabid, 7, "Pengolah Data", "operasional")  # on maternity leave all quarter
        p("fungsional", informasi, kabid, 9, "Pranata Komputer Ahli Pertama", "fungsional")
        self.informasi = informasi

        bapenda = self.unit("Badan Pendapatan Daerah", root, "KEPALA BADAN", "II.a")
        kaban = p("kaban", bapenda, sekda, 15, "Kepala Badan Pendapatan Daerah", "kepala_badan", "II.a", heads=True)
        pajak = self.unit("Bidang Pajak Daerah", bapenda, "KEPALA BIDANG", "III.b")
        kabid = p("kabid_pajak", pajak, kaban, 12, "Kepala Bidang Pajak Daerah", "camat", "III.b", heads=True)
        p("petugas_pajak", pajak, kabid, 6, "Petugas Pelayanan Pajak", "pelayanan")

        organisasi = self.unit("Biro Organisasi dan Reformasi Birokrasi", setda, "KEPALA BIRO", "II.b")
        kabiro = p("kabiro_organisasi", organisasi, sekda, 14, "Kepala Biro Organisasi dan Reformasi Birokrasi",
                   "kepala_biro", "II.b", heads=True)
        kelembagaan = self.unit("Bagian Kelembagaan dan Analisis Jabatan", organisasi, "KEPALA BAGIAN", "III.b")
        kabag = p("kabag_kelembagaan", kelembagaan, kabiro, 12, "Kepala Bagian Kelembagaan dan Analisis Jabatan",
                  "camat", "III.b", heads=True)
        p("operator_jabatan", kelembagaan, kabag, 7, "Operator Sistem Informasi Jabatan", "operasional")
        pemerintahan = self.unit("Biro Pemerintahan", setda, "KEPALA BIRO", "II.b")
        p("kabiro_pemerintahan", pemerintahan, sekda, 14, "Kepala Biro Pemerintahan", "kepala_biro", "II.b",
          heads=True)

        jakpus = self.unit("Kota Administrasi Jakarta Pusat", root, "WALI KOTA", "II.a")
        walikota = p("walikota", jakpus, sekda, 15, "Wali Kota Administrasi Jakarta Pusat", "kepala_badan", "II.a",
                     heads=True)
        menteng = self.unit("Kecamatan Menteng", jakpus, "CAMAT", "III.a")
        camat = p("camat", menteng, walikota, 12, "Camat Menteng", "camat", "III.a", heads=True)
        p("petugas_kecamatan", menteng, camat, 6, "Petugas Pelayanan Terpadu Satu Pintu", "pelayanan")
        kelurahan = self.unit("Kelurahan Menteng", menteng, "LURAH", "IV.a")
        lurah = p("lurah", kelurahan, camat, 10, "Lurah Menteng", "lurah", "IV.a", heads=True)
        p("petugas_kelurahan", kelurahan, lurah, 5, "Petugas Pelayanan Kelurahan", "pelayanan")
        p("unknown_unit", CLOSED_UNIT, lurah, 6, "Petugas Pengaduan", "pelayanan")

    # activities -----------------------------------------------------------------------------------------------------
    def activity(self, emp: ScenarioEmployee, day: date, entered: datetime, *, approver: str | None = "supervisor",
                 approved: bool = True, note: str = "") -> ScenarioActivity:
        n = len(self.activities) + 1
        kind = "pelayanan" if emp.position_group == "pelayanan" else "dokumen"
        act = ScenarioActivity(id=f"A{n:05d}", nip=emp.nip, indicator_id=f"KEG-{kind[:3].upper()}", date=day,
                               quantity=Decimal(1), kind=kind, description=note, entered_at=entered)
        self.activities.append(act)
        if n % 25 == 0 or note:
            kinds = ("valid",) * 6 + ("foreign", "unsigned")
            doc = self.by_kind[kinds[(n // 25) % len(kinds)]][n % 2]
            self.evidence.append(ScenarioEvidence(id=f"E{n:05d}", activity_id=act.id, filename=f"bukti-{act.id}.pdf",
                                                  document_id=doc.id, sha256=doc.sha256,
                                                  uploaded_at=entered + timedelta(hours=1)))
        if approver is not None:
            self.approvals.append(ScenarioApproval(
                id=f"P{n:05d}", activity_id=act.id, approved=approved,
                approver_nip=(emp.supervisor_nip or "") if approver == "supervisor" else approver,
                decided_at=datetime.combine(add_working_days(entered.date(), 1), time(9, 0), tzinfo=WIB)))
        return act

    def slots(self, month: int, count: int) -> Iterator[tuple[date, datetime]]:
        """`count` (date, entered) pairs over the month's working days: each day's entries from 15:03 WIB, five
        minutes apart; every seventh the next morning from 06:00."""
        days = self.days[month]
        for i in range(count):
            day, nth = days[i % len(days)], i // len(days)
            if i % 7 == 6:
                yield day, datetime.combine(day + timedelta(days=1), time(6, nth % 60), tzinfo=WIB)
            else:
                yield day, datetime.combine(day, time(15, 3), tzinfo=WIB) + timedelta(minutes=5 * nth)

    def counted(self) -> None:
        for case, counts in COUNTS.items():
            emp = self.cases[case]
            for (_, month), count in zip(MONTHS, counts, strict=True):
                if case == "window" and month == 1:
                    count -= 3  # three of January's come from the edge cases below
                for day, entered in self.slots(month, count):
                    self.activity(emp, day, entered)

    def edges(self) -> None:
        c = self.cases
        emp = c["window"]
        wed, thu = date(2026, 1, 14), date(2026, 1, 15)
        self.activity(emp, wed, datetime.combine(wed, time(15, 0, 0), tzinfo=WIB), note="entered 15:00:00: in")
        self.activity(emp, wed, datetime.combine(thu, time(7, 59, 59), tzinfo=WIB),
                      note="entered the next morning 07:59:59: in")
        self.activity(emp, thu, datetime.combine(date(2026, 1, 19), time(8, 0, 0), tzinfo=WIB),
                      note="entered 08:00:00: out")
        self.activity(emp, thu, datetime.combine(thu, time(10, 30), tzinfo=WIB), note="entered in office hours: out")
        fri = date(2026, 1, 30)
        self.activity(emp, fri, datetime(2026, 2, 2, 6, 15, tzinfo=WIB),
                      note="activity of 30 January entered 2 February 06:15: January's")

        emp = c["approvals"]
        kabid = c["kabid_informasi"]
        day = date(2026, 2, 11)
        at = datetime.combine(day, time(16, 0), tzinfo=WIB)
        self.activity(emp, day, at, approver=c["kadis"].nip, note="approved by the kepala dinas, not the kepala bidang")
        self.activity(emp, day, at + timedelta(minutes=10), approver=None, note="never approved")
        self.activity(emp, day, at + timedelta(minutes=20), approver=kabid.nip, approved=False,
                      note="rejected by the kepala bidang")

        # The mobile app sent one with the NIP cut short: the February sync holds it back (`wire-format`).
        day = date(2026, 2, 12)
        self.activity(emp.model_copy(update={"nip": emp.nip[:-1]}), day,
                      datetime.combine(day, time(16, 0), tzinfo=WIB), note="NIP cut short by the mobile app")

        emp = c["kadis"]  # eselon II heads enter no activities: refused
        for day in (date(2026, 1, 8), date(2026, 1, 9)):
            self.activity(emp, day, datetime.combine(day, time(16, 30), tzinfo=WIB), approver=c["sekda"].nip,
                          note="rapat pimpinan")

    def scenario(self) -> Scenario:
        self.org()
        self.counted()
        self.edges()
        return Scenario(
            tenant="dki", period=PERIOD, updated_at=datetime(2026, 4, 1, 7, 0, tzinfo=WIB),
            description=(
                "DKI Jakarta, 2026-Q1 (paid quarterly): 4 OPDs, 28 employees, three months of activities "
                "(mocks/dki_scenario.py). Rules exercised: input window at 15:00:00 (in) and 08:00:00 (out), an "
                "activity entered in the next month, a month over the maximum and one exactly at it, sundulan for "
                "eselon II heads, a head with no subordinates, activities entered by an eselon II head, wrong "
                "approver, no approval, rejection, nothing logged all quarter, a unit below half in all three months "
                "(candidate for merging or closure); quarantined: no position group, a group outside the table, an "
                "unknown unit, an activity with a truncated NIP."),
            units=list(self.units.values()), employees=self.employees, activities=self.activities,
            evidence=self.evidence, approvals=self.approvals, documents=pool_documents(self.pool))


def build(seed: int = 1527) -> Scenario:
    return _Builder(seed).scenario()


def cases() -> dict[str, str]:
    """Case name -> NIP in the bundled scenario (the tests look employees up by case)."""
    builder = _Builder()
    builder.org()
    return {name: emp.nip for name, emp in builder.cases.items()}


def closure_candidate() -> str:
    """The id of the unit built to be the candidate for merging or closure."""
    builder = _Builder()
    builder.org()
    return builder.informasi


def main(path: Path = SCENARIOS / f"dki-{PERIOD}.json") -> None:
    path.write_text(dump(build()), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
