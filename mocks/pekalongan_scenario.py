"""Builds the bundled Kota Pekalongan scenario (March 2026): 4 OPDs, 31 employees, every Pekalongan rule exercised.

Run `python -m mocks.pekalongan_scenario` to rewrite `scenarios/pekalongan-2026-03.json`; the build is deterministic.

Organisation: a root "Pemerintah Kota Pekalongan"; the Sekretariat Daerah (the Sekda and a Bagian Organisasi); three
dinas (DPUPR, Diskominfo, DLH), each with a "Sekretariat ..." unit whose head is the OPD's sekretaris (the scheme finds
the sekretaris by that name), bidang under the OPD, seksi or subbagian under those. Every employee's supervisor is the
head of their unit, or of the parent unit for a head; the OPD heads report to the Sekda, who has no supervisor on
record. At Diskominfo the sekretaris is also acting head (Plt.) of the Bidang Aplikasi Informatika.

Activities are entered on March working days (Nyepi on the 19th, Idul Fitri on the 21st-22nd and their cuti
bersama 18th-24th are not) at 15:30 WIB, with evidence from the signed pool of `mocks.signing` uploaded two hours later
(TTE is not required at Pekalongan, so foreign and unsigned documents count too), approved by the direct supervisor
the next working day. The evidence fits the activity kind: `dokumen` one dokumen; `rapat` an undangan, a dokumentasi
and a notulen or tindak_lanjut; `lapangan` a foto with coordinates inside the city, taken on the day.

The cases, one employee each (names as `cases()` gives them, used by the tests; amounts in tests/test_city_cycles.py):

- joint liability: Bidang Bina Marga and Bidang Sumber Daya Air of DPUPR each miss a programme: the Kadis and the
  sekretaris of DPUPR lose 2 x 5%, each kepala bidang 5%. The Diskominfo sekretaris, acting head of the Bidang Aplikasi
  Informatika that misses a programme, loses 5% once for holding both roles. The Bidang Pengelolaan Sampah of DLH
  misses 5 programmes: its head, the DLH sekretaris and the DLH Kadis lose 25%, capped at 20%. A programme of a
  dissolved unit is quarantined (`programme-unit`); a programme realised at exactly 100% is met.
- K: lapangan photos without coordinates, outside the city (in Batang) and taken the day before; a lapangan activity
  with a document but no photo; a rapat without notulen or tindak lanjut; evidence uploaded late across Lebaran and in
  time across it; an altered document; approval by the wrong person, none, a rejection; an activity without evidence;
  one against an indicator that is not in the plan; evidence with a foreign or no TTE (counted).
- D: every step of the deduction table at its edges (30/31, 60/61, 90/91 minutes), early leave, a missing record, a
  day absent; a summary with 35 days absent (the attendance app sent the year-to-date count): D floored at 0.
- no KPI plan (the Sekda): K = 0, D applies; weights summing to 110 (quarantined); no attendance summary
  (quarantined); an employee listed against a unit closed in SIASN (quarantined `unknown-unit`).
"""

from __future__ import annotations

from dataclasses import dataclass
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
    ScenarioAttendance,
    ScenarioEmployee,
    ScenarioEvidence,
    ScenarioIndicator,
    ScenarioPlan,
    ScenarioProgramme,
    ScenarioUnit,
)
from mocks.signing import pool_by_kind, signed_pool

PERIOD = "2026-03"
WORKDAYS = working_days(date(2026, 3, 1), date(2026, 3, 31))  # 17 days: 2-6, 9-13, 16-17, 25-27, 30-31
CLOSED_UNIT = "F" * 32  # "UPT Laboratorium Lingkungan", closed in SIASN: not in ref-unor any more
DISSOLVED_UNIT = "E" * 32  # a bidang e-Seksama still lists a programme for
INSIDE = (Decimal("-6.8886"), Decimal("109.6753"))  # alun-alun Kota Pekalongan
OUTSIDE = (Decimal("-6.9075"), Decimal("109.7300"))  # Batang, east of the city's bounding box


@dataclass(frozen=True)
class Ev:
    """One evidence item: its kind, the pool document ("valid", "foreign", "unsigned"; "altered": changed after
    upload), photo metadata, and the upload time (default: two hours after entry)."""

    kind: str = "dokumen"
    doc: str = "valid"
    where: tuple[Decimal, Decimal] | None = None
    taken: datetime | None = None
    uploaded: datetime | None = None


DOC = (Ev(),)
RAPAT = (Ev("undangan"), Ev("dokumentasi"), Ev("notulen"))


def photo(day: date, where: tuple[Decimal, Decimal] | None = INSIDE, *, taken: date | None = None) -> Ev:
    return Ev("foto", where=where, taken=datetime.combine(taken or day, time(9, 40), tzinfo=WIB))


class _Builder:
    def __init__(self, seed: int = 2026) -> None:
        self.people = People(seed)
        self.rng = self.people.rng
        self.units: dict[str, ScenarioUnit] = {}
        self.employees: list[ScenarioEmployee] = []
        self.plans: list[ScenarioPlan] = []
        self.activities: list[ScenarioActivity] = []
        self.evidence: list[ScenarioEvidence] = []
        self.approvals: list[ScenarioApproval] = []
        self.attendance: list[ScenarioAttendance] = []
        self.programmes: list[ScenarioProgramme] = []
        self.cases: dict[str, ScenarioEmployee] = {}
        self.pool = signed_pool(per_kind=2, seed=0)
        self.by_kind = pool_by_kind(self.pool)

    # organisation ---------------------------------------------------------------------------------------------------
    def unit(self, name: str, parent: str | None, title: str, eselon: str | None = None) -> str:
        uid = self.people.unit_id()
        self.units[uid] = ScenarioUnit(id=uid, name=name, parent_id=parent, head_title=title, eselon=eselon)
        return uid

    def person(self, unit: str, supervisor: ScenarioEmployee | None, kelas: int, position: str,
               eselon: str | None = None, *, heads: str | None = None, case: str | None = None) -> ScenarioEmployee:
        nip, name = self.people.nip_and_name((40, 57) if eselon else (24, 55))
        account = self.people.bank_account()
        emp = ScenarioEmployee(nip=nip, name=name, unit_id=unit, supervisor_nip=supervisor.nip if supervisor else None,
                               kelas_jabatan=kelas, position=position, eselon=eselon,
                               bank_account=account, **details("pekalongan", nip, kelas, account=account))
        self.employees.append(emp)
        if heads is not None:
            self.units[heads] = self.units[heads].model_copy(update={"head_nip": nip})
        if case is not None:
            self.cases[case] = emp
        return emp

    def org(self) -> None:
        p = self.person
        root = self.unit("Pemerintah Kota Pekalongan", None, "WALI KOTA")
        setda = self.unit("Sekretariat Daerah", root, "SEKRETARIS DAERAH", "II.a")
        sekda = p(setda, None, 15, "Sekretaris Daerah", "II.a", heads=setda, case="sekda")
        bagian = self.unit("Bagian Organisasi", setda, "KEPALA BAGIAN", "III.a")
        kabag = p(bagian, sekda, 12, "Kepala Bagian Organisasi", "III.a", heads=bagian)
        p(bagian, kabag, 7, "Analis Kelembagaan")
        self.bagian = bagian

        dpu = self.unit("Dinas Pekerjaan Umum dan Penataan Ruang", root, "KEPALA DINAS", "II.b")
        kadis = p(dpu, sekda, 14, "Kepala Dinas Pekerjaan Umum dan Penataan Ruang", "II.b", heads=dpu,
                  case="dpu_kadis")
        sekretariat = self.unit("Sekretariat Dinas Pekerjaan Umum dan Penataan Ruang", dpu, "SEKRETARIS", "III.a")
        sekretaris = p(sekretariat, kadis, 12, "Sekretaris", "III.a", heads=sekretariat, case="dpu_sekretaris")
        umum = self.unit("Subbagian Umum dan Kepegawaian", sekretariat, "KEPALA SUBBAGIAN", "IV.a")
        kasubbag = p(umum, sekretaris, 9, "Kepala Subbagian Umum dan Kepegawaian", "IV.a", heads=umum,
                     case="bad_weights")
        p(umum, kasubbag, 6, "Pengadministrasi Umum", case="tte_not_required")
        p(umum, kasubbag, 7, "Pengelola Kepegawaian", case="refusals")
        bina_marga = self.unit("Bidang Bina Marga", dpu, "KEPALA BIDANG", "III.b")
        kabid_bm = p(bina_marga, kadis, 12, "Kepala Bidang Bina Marga", "III.b", heads=bina_marga,
                     case="bina_marga_kabid")
        jalan = self.unit("Seksi Jalan dan Jembatan", bina_marga, "KEPALA SEKSI", "IV.a")
        kasi = p(jalan, kabid_bm, 9, "Kepala Seksi Jalan dan Jembatan", "IV.a", heads=jalan)
        p(jalan, kasi, 7, "Pengawas Lapangan", case="lapangan")
        p(jalan, kasi, 8, "Teknisi Jalan dan Jembatan", case="deduction_steps")
        sda = self.unit("Bidang Sumber Daya Air", dpu, "KEPALA BIDANG", "III.b")
        kabid_sda = p(sda, kadis, 12, "Kepala Bidang Sumber Daya Air", "III.b", heads=sda)
        drainase = self.unit("Seksi Drainase", sda, "KEPALA SEKSI", "IV.a")
        kasi = p(drainase, kabid_sda, 9, "Kepala Seksi Drainase", "IV.a", heads=drainase, case="no_attendance")
        p(drainase, kasi, 6, "Petugas Pemeliharaan Saluran", case="d_floor")
        p(drainase, kasi, 7, "Teknisi Drainase", case="sla")
        self.bina_marga, self.sda, self.dpu_sekretariat = bina_marga, sda, sekretariat

        kominfo = self.unit("Dinas Komunikasi dan Informatika", root, "KEPALA DINAS", "II.b")
        kadis = p(kominfo, sekda, 14, "Kepala Dinas Komunikasi dan Informatika", "II.b", heads=kominfo,
                  case="kominfo_kadis")
        sekretariat = self.unit("Sekretariat Dinas Komunikasi dan Informatika", kominfo, "SEKRETARIS", "III.a")
        aptika = self.unit("Bidang Aplikasi Informatika", kominfo, "PLT. KEPALA BIDANG", "III.b")
        sekretaris = p(sekretariat, kadis, 12, "Sekretaris, Plt. Kepala Bidang Aplikasi Informatika", "III.a",
                       heads=sekretariat, case="acting_head")
        self.units[aptika] = self.units[aptika].model_copy(update={"head_nip": sekretaris.nip})  # acting (Plt.)
        aplikasi = self.unit("Seksi Pengembangan Aplikasi", aptika, "KEPALA SEKSI", "IV.a")
        kasi = p(aplikasi, sekretaris, 9, "Kepala Seksi Pengembangan Aplikasi", "IV.a", heads=aplikasi)
        p(aplikasi, kasi, 8, "Pranata Komputer", case="rounding")
        p(aplikasi, kasi, 7, "Pengembang Aplikasi")
        ikp = self.unit("Bidang Informasi dan Komunikasi Publik", kominfo, "KEPALA BIDANG", "III.b")
        kabid = p(ikp, kadis, 12, "Kepala Bidang Informasi dan Komunikasi Publik", "III.b", heads=ikp)
        informasi = self.unit("Seksi Pengelolaan Informasi Publik", ikp, "KEPALA SEKSI", "IV.a")
        kasi = p(informasi, kabid, 9, "Kepala Seksi Pengelolaan Informasi Publik", "IV.a", heads=informasi)
        p(informasi, kasi, 7, "Pengelola Informasi Publik", case="rapat")
        p(informasi, kasi, 7, "Pranata Humas")
        self.aptika, self.ikp = aptika, ikp

        dlh = self.unit("Dinas Lingkungan Hidup", root, "KEPALA DINAS", "II.b")
        kadis = p(dlh, sekda, 14, "Kepala Dinas Lingkungan Hidup", "II.b", heads=dlh, case="dlh_kadis")
        sekretariat = self.unit("Sekretariat Dinas Lingkungan Hidup", dlh, "SEKRETARIS", "III.a")
        p(sekretariat, kadis, 12, "Sekretaris", "III.a", heads=sekretariat)
        sampah = self.unit("Bidang Pengelolaan Sampah", dlh, "KEPALA BIDANG", "III.b")
        kabid = p(sampah, kadis, 12, "Kepala Bidang Pengelolaan Sampah", "III.b", heads=sampah)
        p(sampah, kabid, 6, "Petugas Pengangkutan Sampah")
        p(sampah, kabid, 7, "Pengawas Tempat Pemrosesan Akhir")
        # Closed in SIASN; BKN still lists its analyst against it.
        p(CLOSED_UNIT, kadis, 8, "Analis Laboratorium Lingkungan", case="unknown_unit")
        self.sampah = sampah

    # plans and activities -------------------------------------------------------------------------------------------
    def plan(self, emp: ScenarioEmployee, *indicators: tuple[int, int, str]) -> list[ScenarioIndicator]:
        """A plan of (weight, target, name) indicators."""
        inds = [ScenarioIndicator(id=f"IND-{emp.nip[-6:]}-{i + 1}", name=name, weight=Decimal(w),
                                  target=Decimal(t), unit="kegiatan") for i, (w, t, name) in enumerate(indicators)]
        self.plans.append(ScenarioPlan(id=f"RHK-{emp.nip[-6:]}-{PERIOD}", nip=emp.nip, period=PERIOD,
                                       rhk="Meningkatnya kualitas layanan perangkat daerah", indicators=inds))
        return inds

    def activity(self, emp: ScenarioEmployee, ind: ScenarioIndicator | str, day: date, *, kind: str = "dokumen",
                 evidence: tuple[Ev, ...] = DOC, approver: str | None = "supervisor", approved: bool = True,
                 note: str = "") -> ScenarioActivity:
        n = len(self.activities) + 1
        entered = datetime.combine(day, time(15, 30), tzinfo=WIB)
        name = ind.name if isinstance(ind, ScenarioIndicator) else "Kegiatan di luar rencana"
        act = ScenarioActivity(id=f"ACT-{n:04d}", nip=emp.nip, indicator_id=ind.id if isinstance(
            ind, ScenarioIndicator) else ind, date=day, quantity=Decimal(1), kind=kind,
            description=f"{name} ({day}){note}", entered_at=entered)
        self.activities.append(act)
        for k, ev in enumerate(evidence, start=1):
            if ev.doc == "altered":  # changed after upload: BKN holds the hash of the document as signed
                doc = self.by_kind["altered"][-1]
                recorded = doc.signed_sha256
            else:
                docs = self.by_kind[ev.doc]
                doc = docs[len(self.evidence) % len(docs)]
                recorded = doc.sha256
            self.evidence.append(ScenarioEvidence(
                id=f"EV-{n:04d}-{k}", activity_id=act.id, kind=ev.kind, filename=f"{ev.kind}-{act.id}-{k}.pdf",
                document_id=doc.id, sha256=recorded, uploaded_at=ev.uploaded or entered + timedelta(hours=2),
                latitude=ev.where[0] if ev.where else None, longitude=ev.where[1] if ev.where else None,
                captured_at=ev.taken))
        if approver is not None:
            decided = datetime.combine(add_working_days(day, 1), time(9, 0), tzinfo=WIB)
            self.approvals.append(ScenarioApproval(
                id=f"APR-{n:04d}", activity_id=act.id, approved=approved, decided_at=decided,
                approver_nip=(emp.supervisor_nip or "") if approver == "supervisor" else approver))
        return act

    def realise(self, emp: ScenarioEmployee, ind: ScenarioIndicator, count: int, **kwargs: object) -> None:
        """`count` counted activities of one unit on working days (spread out, so that no two of an employee's
        activities share a day where it can be helped)."""
        for _ in range(count):
            mine = sum(1 for a in self.activities if a.nip == emp.nip)
            self.activity(emp, ind, WORKDAYS[(mine * 5 + len(emp.nip) + int(emp.nip[-3:])) % len(WORKDAYS)],
                          **kwargs)  # type: ignore[arg-type]

    def attend(self, emp: ScenarioEmployee, late: tuple[int, ...] = (), early: tuple[int, ...] = (),
               missing: int = 0, absent: int = 0) -> None:
        self.attendance.append(ScenarioAttendance(nip=emp.nip, period=PERIOD, late_minutes=list(late),
                                                  early_leave_minutes=list(early), missing_records=missing,
                                                  absent_days=absent))

    def programme(self, unit: str, name: str, target: int, realised: int) -> None:
        n = len(self.programmes) + 1
        self.programmes.append(ScenarioProgramme(id=f"PRG-{n:03d}", unit_id=unit, period=PERIOD, name=name,
                                                 target=Decimal(target), realisation=Decimal(realised)))

    # the cases ------------------------------------------------------------------------------------------------------
    def cases_k(self) -> None:
        c = self.cases
        # Kadis DPUPR: 3 of 4 and 2 of 2 -> K = 0.6 x 3/4 + 0.4 x 1 = 0.85.
        a, b = self.plan(c["dpu_kadis"], (60, 4, "Dokumen kebijakan infrastruktur"), (40, 2, "Laporan kinerja"))
        self.realise(c["dpu_kadis"], a, 3)
        self.realise(c["dpu_kadis"], b, 2)
        for case in ("dpu_sekretaris", "acting_head", "dlh_kadis", "deduction_steps", "bina_marga_kabid",
                     "kominfo_kadis"):
            a, b = self.plan(c[case], (50, 3, "Dokumen perencanaan"), (50, 2, "Laporan pelaksanaan"))
            self.realise(c[case], a, 3)
            self.realise(c[case], b, 2)

        # Field work: two good photos count; no coordinates, outside the city, taken the day before, and a
        # document without a photo are refused. K = 0.6 x 2/4 + 0.4 x 2/2 = 0.7.
        emp = c["lapangan"]
        survey, report = self.plan(emp, (60, 4, "Survei kondisi jalan"), (40, 2, "Laporan hasil survei"))
        for day in (date(2026, 3, 3), date(2026, 3, 10)):
            self.activity(emp, survey, day, kind="lapangan", evidence=(photo(day), Ev()))
        day = date(2026, 3, 11)
        self.activity(emp, survey, day, kind="lapangan", evidence=(photo(day, None),), note=" foto tanpa koordinat")
        day = date(2026, 3, 12)
        self.activity(emp, survey, day, kind="lapangan", evidence=(photo(day, OUTSIDE),), note=" foto di Batang")
        day = date(2026, 3, 13)
        self.activity(emp, survey, day, kind="lapangan", evidence=(photo(day, taken=date(2026, 3, 12)),),
                      note=" foto diambil sehari sebelumnya")
        self.activity(emp, survey, date(2026, 3, 16), kind="lapangan", evidence=(Ev(),), note=" tanpa foto")
        self.realise(emp, report, 2)

        # Meetings: with notulen, with tindak lanjut instead, and one without either (refused).
        # K = 0.5 x 2/3 + 0.5 x 2/2 = 5/6.
        emp = c["rapat"]
        rapat, doc = self.plan(emp, (50, 3, "Rapat koordinasi diseminasi informasi"), (50, 2, "Rilis berita"))
        self.activity(emp, rapat, date(2026, 3, 4), kind="rapat", evidence=RAPAT)
        self.activity(emp, rapat, date(2026, 3, 11), kind="rapat",
                      evidence=(Ev("undangan"), Ev("dokumentasi"), Ev("tindak_lanjut")))
        self.activity(emp, rapat, date(2026, 3, 25), kind="rapat", evidence=(Ev("undangan"), Ev("dokumentasi")),
                      note=" notulen belum diunggah")
        self.realise(emp, doc, 2)

        # An exact K that does not round: 0.7 x 2/3 + 0.3 x 3/7 = 25/42.
        emp = c["rounding"]
        a, b = self.plan(emp, (70, 3, "Modul aplikasi"), (30, 7, "Dokumentasi teknis"))
        self.realise(emp, a, 2)
        self.realise(emp, b, 3)

        # D floored at 0; K = 0.5 x 1/2 + 0.5 x 1/2 = 0.5.
        emp = c["d_floor"]
        a, b = self.plan(emp, (50, 2, "Pembersihan saluran"), (50, 2, "Laporan pemeliharaan"))
        self.realise(emp, a, 1)
        self.realise(emp, b, 1)

        # Upload deadline across Nyepi and Lebaran (18-24 March off): activity Tue 17 March, deadline Fri 27 March
        # 23:59:59 WIB. In time on the 26th; late on Mon 30 March. And a document altered after upload.
        emp = c["sla"]
        a, b = self.plan(emp, (50, 4, "Pemeriksaan pintu air"), (50, 2, "Laporan drainase"))
        self.realise(emp, a, 2)
        self.realise(emp, b, 1)
        tue = date(2026, 3, 17)
        self.activity(emp, a, tue, evidence=(Ev(uploaded=datetime(2026, 3, 26, 15, 30, tzinfo=WIB)),))
        self.activity(emp, a, tue, evidence=(Ev(uploaded=datetime(2026, 3, 30, 9, 0, tzinfo=WIB)),))
        self.activity(emp, b, date(2026, 3, 9), evidence=(Ev(doc="altered"),))

        # TTE is not required: foreign and unsigned documents count. Approval by the supervisor's supervisor, and
        # none at all, do not.
        emp = c["tte_not_required"]
        a, b = self.plan(emp, (50, 2, "Administrasi persuratan"), (50, 2, "Arsip kepegawaian"))
        self.activity(emp, a, date(2026, 3, 5), evidence=(Ev(doc="foreign"),))
        self.activity(emp, a, date(2026, 3, 6), evidence=(Ev(doc="unsigned"),))
        sekretaris = c["dpu_sekretaris"]
        self.activity(emp, b, date(2026, 3, 9), approver=sekretaris.nip)
        self.activity(emp, b, date(2026, 3, 10), approver=None)
        self.realise(emp, b, 1)

        # Rejected, no evidence, an indicator not in the plan.
        emp = c["refusals"]
        a, b = self.plan(emp, (60, 2, "Layanan kepegawaian"), (40, 2, "Data kepegawaian"))
        self.realise(emp, a, 1)
        self.realise(emp, b, 2)
        self.activity(emp, a, date(2026, 3, 12), approved=False)
        self.activity(emp, a, date(2026, 3, 13), evidence=())
        self.activity(emp, f"IND-{emp.nip[-6:]}-9", date(2026, 3, 16))

        # Weights 50 + 40 + 20 = 110: the month is quarantined.
        emp = c["bad_weights"]
        inds = self.plan(emp, (50, 2, "Layanan umum"), (40, 2, "Pengelolaan aset"), (20, 1, "Laporan"))
        for ind in inds:
            self.realise(emp, ind, int(ind.target))

    def ordinary(self) -> None:
        """Everyone not in a case: a plan met at 100%, 50%, 75% or 150%, in turn."""
        special = {e.nip for e in self.cases.values()} - {self.cases["no_attendance"].nip,
                                                         self.cases["unknown_unit"].nip}
        shares = (Decimal(1), Decimal("0.5"), Decimal("0.75"), Decimal("1.5"))
        plans = ([(60, 4, "Dokumen teknis"), (40, 2, "Laporan bulanan")],
                 [(40, 2, "Dokumen teknis"), (30, 3, "Koordinasi"), (30, 2, "Laporan bulanan")])
        for idx, emp in enumerate(e for e in self.employees if e.nip not in special):
            share = shares[idx % len(shares)]
            for ind in self.plan(emp, *plans[idx % 2]):
                self.realise(emp, ind, int(ind.target * share))

    def discipline(self) -> None:
        c = self.cases
        self.attend(c["sekda"], late=(40,))  # D = 1 - 1% = 0.99
        self.attend(c["dpu_kadis"], late=(20,))  # D = 1 - 0.5% = 0.995
        self.attend(c["acting_head"], early=(45,))  # D = 0.99
        # Each step at its edges: 30 -> 0.5%, 31 and 60 -> 1%, 61 and 90 -> 1.25%, 91 -> 1.5%; early 15 -> 0.5%; a
        # missing record 1.5%; a day absent 3%: 11.5% in all, D = 0.885.
        self.attend(c["deduction_steps"], late=(30, 31, 60, 61, 90, 91), early=(15,), missing=1, absent=1)
        self.attend(c["d_floor"], absent=35)  # 35 x 3% = 105%: D floored at 0
        done = {a.nip for a in self.attendance} | {c["no_attendance"].nip}
        quiet = {c[k].nip for k in ("dpu_sekretaris", "dlh_kadis", "lapangan", "rapat", "rounding",
                                    "bina_marga_kabid", "kominfo_kadis")}
        for idx, emp in enumerate(e for e in self.employees if e.nip not in done):
            if emp.nip in quiet or idx % 3 == 0:
                self.attend(emp)
            elif idx % 3 == 1:
                self.attend(emp, late=(self.rng.randint(5, 25),))
            else:
                self.attend(emp, late=(self.rng.randint(35, 55),), early=(self.rng.randint(10, 20),))

    def eseksama(self) -> None:
        bm, sda, ap, ikp, sampah = self.bina_marga, self.sda, self.aptika, self.ikp, self.sampah
        self.programme(bm, "Pemeliharaan rutin jalan kota (km)", 12, 9)  # missed
        self.programme(bm, "Rehabilitasi jembatan", 2, 2)
        self.programme(sda, "Normalisasi saluran drainase (ruas)", 8, 5)  # missed
        self.programme(sda, "Pemeliharaan pintu air", 4, 4)
        self.programme(self.dpu_sekretariat, "Penyusunan laporan keuangan", 1, 1)
        self.programme(ap, "Pengembangan aplikasi layanan publik", 3, 2)  # missed
        self.programme(ikp, "Diseminasi informasi publik", 24, 24)  # exactly 100%: met
        for name, target, done in (("Pengangkutan sampah (ton)", 900, 850), ("Bank sampah baru", 10, 6),
                                   ("Sosialisasi pemilahan sampah", 12, 9), ("Pengadaan kontainer", 20, 15),
                                   ("Penataan TPS", 8, 5), ("Rehabilitasi TPA", 1, 1)):
            self.programme(sampah, name, target, done)  # five of six missed
        self.programme(self.bagian, "Evaluasi kelembagaan", 2, 2)
        self.programme(DISSOLVED_UNIT, "Pengawasan reklame", 6, 3)  # unit dissolved: quarantined

    def scenario(self) -> Scenario:
        self.org()
        self.cases_k()
        self.ordinary()
        self.discipline()
        self.eseksama()
        return Scenario(
            tenant="pekalongan", period=PERIOD, updated_at=datetime(2026, 4, 1, 7, 0, tzinfo=WIB),
            description=(
                "Kota Pekalongan, March 2026: 4 OPDs, 31 employees (mocks/pekalongan_scenario.py). Joint liability: "
                "two bidang of one OPD missing a programme each, an acting head holding two roles, five missed "
                "programmes capped at 20%, a programme of a dissolved unit; K: rapat evidence incomplete, lapangan "
                "photos without or outside coordinates or taken another day, upload deadline across Lebaran, "
                "altered document, foreign and unsigned TTE counted, wrong approver, no approval, rejection, no "
                "evidence, indicator outside the plan; D: every deduction step at its edges, D floored at 0; no "
                "KPI plan, weights summing to 110, no attendance summary, unknown unit."),
            units=list(self.units.values()), employees=self.employees, plans=self.plans,
            activities=self.activities, evidence=self.evidence, approvals=self.approvals,
            documents=pool_documents(self.pool), attendance=self.attendance, programmes=self.programmes)


def build(seed: int = 2026) -> Scenario:
    return _Builder(seed).scenario()


def cases() -> dict[str, str]:
    """Case name -> NIP in the bundled scenario (the tests look employees up by case)."""
    builder = _Builder()
    builder.org()
    return {name: emp.nip for name, emp in builder.cases.items()}


def main(path: Path = SCENARIOS / f"pekalongan-{PERIOD}.json") -> None:
    path.write_text(dump(build()), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
