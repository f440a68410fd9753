"""Scenario generator: synthetic upstream data for one tenant and period, at any scale, streamed.

    generate("dki", 65_000, "2026-03", seed=1, out=open("dki.json", "wb"))     # the scenario file (format 1)
    for kind, record in iter_records("metro", 60, "2026-Q1", seed=1): ...       # the same records, no file

What it makes (docs/scenario-format.md):

- an organisation (`mocks._org`): a pemda root, OPDs scaled to the head count (DKI's 65,000 employees give a few
  hundred OPDs and several thousand units), bidang and seksi under them, a head for every unit, valid unique NIPs,
  supervisors along the tree, eselon II/III/IV for the heads, kelas jabatan by level; at DKI a position group
  for every employee (keys in `mocks._org.POSITION_GROUPS`);
- per employee and month: a KPI plan whose RHK and indicator names cascade from the supervisor's RHK, weights
  summing to 100; activities on working days (about 21 per employee-month at DKI, 10-12 elsewhere; nobody enters
  activities for the Sekretaris Daerah, who has no supervisor on record, nor at DKI for the eselon II heads, who are
  paid "sundulan"); evidence with a document of its own each (a variant of a signed template, `mocks.signing.variant`),
  uploaded within the SLA in working days (holidays and cuti bersama skipped); approval by the direct supervisor
  on the next working day;
- Pekalongan: activity kinds `rapat` (evidence: undangan, dokumentasi, notulen or tindak_lanjut), `lapangan`
  (foto with coordinates in the city's bounding box and a capture time on the activity day) and `dokumen`; monthly
  attendance summaries; e-Seksama programmes per bidang with target and realisation, about one in five missed.
  DKI: kinds `dokumen`, `pelayanan`, `rapat`, `lapangan`, entered inside the 15:00-08:00 input window.
- bad data, each kind at its own share (BAD_KINDS, below; `bad_share` sets them all, `bad` overrides some).

Streaming: records are produced employee by employee and written as they come; only the organisation (a few MB)
is held. The scenario's arrays come in a fixed order, so the writer writes `activities` straight to the output and
spills `plans`, `evidence`, `approvals` and `attendance` (produced alongside) to temporary files, appended when the
section ends. Output is deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import io
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import IO, Any, TypeVar

import orjson

from mocks import _calendar
from mocks._org import POSITION_GROUPS, PROFILES, Organisation, Person
from mocks.signing import PoolDocument, signed_pool, template_documents, variant

TENANTS = tuple(PROFILES)
# How the scenario format's BSrE verdict (`ScenarioSignature.status`) names each kind of pool document.
SIGNATURE_STATUS = {"valid": "valid", "foreign": "foreign", "unsigned": "none", "altered": "invalid"}

# Bad-data kinds and what the share is a share of. Kinds that do not apply to a tenant are ignored there.
BAD_KINDS: dict[str, str] = {
    "late_evidence": "evidence items uploaded after the SLA deadline in working days (one in ten at 00:00:00 just "
                     "after it); good items are sometimes uploaded at the deadline's 23:59:59, or in time only "
                     "because holidays and cuti bersama do not count",
    "bad_signature": "evidence items pointing at a foreign-signed or unsigned pool document",
    "altered_document": "evidence items pointing at a pool document altered after signing (hash mismatch)",
    "wrong_approver": "approvals decided by someone other than the direct supervisor (their supervisor, or the "
                      "employee themself)",
    "outside_window": "DKI activities entered outside the 15:00-08:00 input window (08:00:00 sharp included)",
    "photo_no_coordinates": "Pekalongan photos without latitude/longitude",
    "photo_outside_area": "Pekalongan photos with coordinates outside the city's bounding box",
    "bad_weights": "KPI plans whose weights do not sum to 100",
    "duplicate_id": "activities sent a second time under the same id with different content",
    "supervisor_cycle": "seksi-level heads whose recorded supervisor is one of their own staff (a cycle)",
    "unknown_unit": "staff recorded against a unit id that is not in the unit tree",
}
# Integrity patterns (issue 18) and what the share is a share of; planted with a random stream of their own, so a
# scenario without them draws exactly what it drew before. A planted pattern may change money where it makes
# evidence late (a backfilled month); the others leave every amount as it was.
PATTERNS: dict[str, str] = {
    "shared_document": "evidence items given the very document (same bytes, same hash) of an earlier item of "
                       "another employee",
    "shared_photo": "Pekalongan photos given the capture time and coordinates of an earlier photo of another "
                    "employee the same day",
    "rapid_approval": "supervisors who approve all their staff's activities of a day seconds apart, at 16:00",
    "burst_entry": "employee-months whose activities are all entered in one sitting on the month's last working "
                   "day, 15 seconds apart (their evidence may turn late)",
    "sla_edge": "employee-months whose evidence is all uploaded in the last ten minutes before the SLA deadline",
}
PATTERN_APPLIES_TO = {"shared_photo": ("pekalongan",)}

APPLIES_TO = {"outside_window": ("dki",), "photo_no_coordinates": ("pekalongan",),
              "photo_outside_area": ("pekalongan",)}  # the other kinds apply to every tenant
DEFAULT_BAD_SHARE = 0.05
SLA_WORKING_DAYS = 3

# Inside Kota Pekalongan (the tenant's `area` setting is -6.9289..-6.8450, 109.6319..109.7053): good photos fall
# here; bad ones in Batang or Pemalang next door, or in the sea north of the city.
PEKALONGAN_BOX = ((-6.92, -6.86), (109.64, 109.70))
_OUTSIDE_PEKALONGAN = ((-6.91, 109.75), (-6.90, 109.38), (-6.82, 109.68))

_ARRAYS = {"unit": "units", "employee": "employees", "document": "documents", "activity": "activities",
           "plan": "plans", "evidence": "evidence", "approval": "approvals", "attendance": "attendance",
           "programme": "programmes"}
# The order records come in; the first kind of a section is written straight out, the others are spilled.
SECTIONS: tuple[tuple[str, ...], ...] = (
    ("unit",), ("employee",), ("document",), ("activity", "plan", "evidence", "approval", "attendance"),
    ("programme",))

_GOOD_WEIGHTS = ((40, 30, 30), (50, 50), (25, 25, 25, 25), (60, 40), (30, 30, 20, 20), (35, 35, 30))
_BAD_WEIGHTS = ((40, 40, 30), (50, 40), (30, 30, 30), (60, 50), (25, 25, 25, 20))
_INDICATORS = (("Jumlah laporan kegiatan yang disusun", "laporan"),
               ("Jumlah rapat koordinasi yang dilaksanakan", "kegiatan"),
               ("Jumlah layanan yang diselesaikan", "layanan"), ("Jumlah data yang diverifikasi", "data"),
               ("Jumlah kegiatan lapangan yang dilaksanakan", "kegiatan"),
               ("Jumlah dokumen yang diselesaikan", "dokumen"))
_DESCRIPTIONS = {
    "dokumen": ("Penyusunan laporan", "Verifikasi berkas", "Penyusunan konsep surat", "Pengolahan data"),
    "rapat": ("Rapat koordinasi", "Rapat evaluasi kegiatan", "Rapat persiapan program"),
    "lapangan": ("Peninjauan lapangan", "Monitoring lokasi kegiatan", "Pendataan lapangan"),
    "pelayanan": ("Pelayanan masyarakat", "Pelayanan administrasi kependudukan", "Pelayanan perizinan"),
}
# Activity kinds per tenant in percent, as a table of 100 slots to draw from.
_KIND_SHARES = {"metro": (("dokumen", 100),), "pekalongan": (("rapat", 25), ("lapangan", 30), ("dokumen", 45)),
                "dki": (("dokumen", 40), ("pelayanan", 30), ("rapat", 15), ("lapangan", 15))}
_KINDS = {t: tuple(k for k, pct in shares for _ in range(pct)) for t, shares in _KIND_SHARES.items()}
_PROGRAMMES = ("Peningkatan Pelayanan", "Pembinaan dan Pengawasan", "Pengembangan Sistem Informasi",
               "Penataan Sarana", "Pemberdayaan Masyarakat", "Pengendalian dan Evaluasi")
_DAY = 86_400
_T = TypeVar("_T")
_HMS = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(_DAY)]


def bad_shares(bad_share: float = DEFAULT_BAD_SHARE, bad: Mapping[str, float] | None = None) -> dict[str, float]:
    """Every kind at `bad_share`, except those named in `bad`."""
    shares = dict.fromkeys(BAD_KINDS, bad_share)
    for kind, share in (bad or {}).items():
        if kind not in BAD_KINDS:
            raise ValueError(f"unknown bad-data kind {kind!r}; known: {', '.join(BAD_KINDS)}")
        shares[kind] = share
    for kind, share in shares.items():
        if not 0 <= share <= 1:
            raise ValueError(f"share of {kind} is {share}; a share is between 0 and 1")
    return shares


@dataclass(frozen=True)
class _Month:
    label: str  # 2026-03
    tag: str  # 202603
    workdays: tuple[int, ...]  # day indexes (days since the period's first day) of its working days


def plant_shares(plant: Mapping[str, float] | None = None) -> dict[str, float]:
    """Every integrity pattern at 0, except those named in `plant`."""
    shares = dict.fromkeys(PATTERNS, 0.0)
    for kind, share in (plant or {}).items():
        if kind not in PATTERNS:
            raise ValueError(f"unknown integrity pattern {kind!r}; known: {', '.join(PATTERNS)}")
        if not 0 <= share <= 1:
            raise ValueError(f"share of {kind} is {share}; a share is between 0 and 1")
        shares[kind] = share
    return shares


class ScenarioGenerator:
    """One scenario's records, in SECTIONS order; `injected` counts the bad records made so far, by kind."""

    def __init__(self, tenant: str, employees: int, period: str, seed: int = 0,
                 bad_share: float = DEFAULT_BAD_SHARE, *, bad: Mapping[str, float] | None = None,
                 sla_working_days: int = SLA_WORKING_DAYS, plant: Mapping[str, float] | None = None) -> None:
        if tenant not in PROFILES:
            raise ValueError(f"unknown tenant {tenant!r}; known: {', '.join(TENANTS)}")
        self.tenant, self.employees, self.period, self.seed = tenant, employees, period, seed
        self.shares = bad_shares(bad_share, bad)
        self.sla = sla_working_days
        self.first, self.last, months = _parse_period(period)
        self.planted = plant_shares(plant)
        self.injected: Counter[str] = Counter()
        self._rng = random.Random(f"{tenant}/{employees}/{period}/{seed}")
        self._prng = random.Random(f"plant/{tenant}/{employees}/{period}/{seed}")  # the patterns' own draws
        self._last_doc: tuple[str, dict[str, Any]] | None = None  # (nip, document fields) of the latest item
        self._last_photo: dict[int, tuple[str, dict[str, Any]]] = {}  # day -> (nip, capture fields)
        self._rapid: dict[str, bool] = {}  # approver NIP -> planted
        self._rapid_count: Counter[tuple[str, int]] = Counter()
        self._edge = False
        self._build_days(months)

    # calendar tables --------------------------------------------------------------------------------------------
    def _build_days(self, months: list[tuple[str, date, date]]) -> None:
        """Per day index: its date text, the SLA deadline (second index), the earlier deadline a calendar that
        forgot cuti bersama would give, and the next working day (index)."""
        span = (self.last - self.first).days + 1 + 40
        days = [self.first + timedelta(days=i) for i in range(span)]
        self._days = [d.isoformat() for d in days]
        index = {d: i for i, d in enumerate(days)}
        horizon = len(days) - 1
        self._deadline, self._naive_deadline, self._next_workday = [], [], []
        for d in days[:(self.last - self.first).days + 2]:
            real = index.get(_calendar.add_working_days(d, self.sla), horizon)
            naive = index.get(_calendar.add_working_days(d, self.sla, _calendar.PUBLIC), horizon)
            self._deadline.append(real * _DAY + _DAY - 1)
            self._naive_deadline.append(naive * _DAY + _DAY - 1)
            self._next_workday.append(index.get(_calendar.add_working_days(d, 1), horizon))
        self.months = [
            _Month(label, label.replace("-", ""),
                   tuple(index[d] for d in _calendar.working_days(first, last)))
            for label, first, last in months]

    def _ts(self, t: int) -> str:
        return f"{self._days[t // _DAY]}T{_HMS[t % _DAY]}+07:00"

    # records ----------------------------------------------------------------------------------------------------
    def records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The records, once: a second call on the same generator would not repeat the first."""
        rng, shares = self._rng, self.shares
        profile = PROFILES[self.tenant]
        org = Organisation(profile, self.employees, self.first.year, rng)
        cycles, moved = org.make_cycles(shares["supervisor_cycle"]), org.move_to_unknown_units(shares["unknown_unit"])
        self.injected.update(+Counter(supervisor_cycle=cycles, unknown_unit=moved))
        self.org = org
        active = ", ".join(f"{k} {v:g}" for k, v in shares.items()
                           if v and self.tenant in APPLIES_TO.get(k, TENANTS)) or "none"
        planted = ", ".join(f"{k} {v:g}" for k, v in self.planted.items()
                            if v and self.tenant in PATTERN_APPLIES_TO.get(k, TENANTS))
        yield "scenario", {
            "format_version": 1, "tenant": self.tenant, "period": self.period,
            "description": f"Generated by mocks.generator (seed {self.seed}): {self.tenant}, {self.employees} "
                           f"employees, period {self.period}, SLA {self.sla} working days; bad-data shares: {active}"
                           + (f"; integrity patterns: {planted}" if planted else ""),
            "updated_at": f"{(self.last + timedelta(days=1)).isoformat()}T07:00:00+07:00"}
        for unit in org.units:
            yield "unit", org.unit_record(unit)
        for person in org.people:
            yield "employee", org.employee_record(person)
        for doc in template_documents():  # each evidence item gets a variant of one of these: a document of its own
            yield "document", {"id": doc.id, "content_b64": _b64(doc.pdf), "note": f"template document: {doc.kind}"}
        self._act = 0
        for month in self.months:
            for person in org.people:
                yield from self._employee_month(person, month)
        if self.tenant == "pekalongan":
            yield from self._programmes()

    def _employee_month(self, person: Person, month: _Month) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self._rng
        rnd = rng.random
        shares = self.shares
        tenant = self.tenant
        dki = tenant == "dki"
        if rnd() < shares["bad_weights"]:
            weights = rng.choice(_BAD_WEIGHTS)
            self.injected["bad_weights"] += 1
        else:
            weights = rng.choice(_GOOD_WEIGHTS)
        plan_id = f"{month.tag}-{person.index + 1:06d}"
        prnd = self._prng.random
        burst = bool(self.planted["burst_entry"]) and prnd() < self.planted["burst_entry"]
        self._edge = bool(self.planted["sla_edge"]) and prnd() < self.planted["sla_edge"]
        supports = self.org.supervisor_rhk(person)
        acts = bool(month.workdays) and not (person.role == "top" or (dki and person.role == "opd_head"))
        if dki:
            n = int(21 * (0.8 + 0.4 * rnd()) + 0.5) if acts else 0
            targets = [max(1, round(n * w / 100)) for w in weights]
            per_indicator = targets
        else:
            targets = [2 + int(rnd() * (5 if tenant == "metro" else 6)) for _ in weights]
            share = rng.choice((0.5, 0.75, 1.0, 1.0, 1.0, 1.25)) if acts else 0
            per_indicator = [round(t * share) for t in targets]
        indicators = []
        for i, (w, t) in enumerate(zip(weights, targets, strict=True)):
            noun, unit = _INDICATORS[(person.index + i) % len(_INDICATORS)]
            indicators.append({"id": f"IND-{plan_id}-{i + 1}", "name": f"{noun} (mendukung: {supports})",
                               "weight": str(w), "target": str(t), "unit": unit})
        yield "plan", {"id": f"RHK-{plan_id}", "nip": person.nip, "period": month.label, "rhk": person.rhk,
                       "indicators": indicators}
        if acts:
            workdays = month.workdays
            nwd = len(workdays)
            if dki:
                k = len(indicators)
                slots = sorted((workdays[int(rnd() * nwd)], j % k) for j in range(n))
            else:
                slots = sorted((workdays[int(rnd() * nwd)], i) for i, c in enumerate(per_indicator) for _ in range(c))
            if burst or self._edge:
                self.injected.update(+Counter(burst_entry=int(burst), sla_edge=int(self._edge)))
            yield from self._activities(person, indicators, slots, workdays[-1] if burst else None)
        if tenant == "pekalongan":
            yield "attendance", self._attendance(person, month)

    def _activities(self, person: Person, indicators: list[dict[str, Any]],
                    slots: list[tuple[int, int]], burst_day: int | None = None
                    ) -> Iterator[tuple[str, dict[str, Any]]]:
        rnd, shares, injected = self._rng.random, self.shares, self.injected
        ts, tenant = self._ts, self.tenant
        kinds = _KINDS[tenant]
        dki, pekalongan = tenant == "dki", tenant == "pekalongan"
        people = self.org.people
        approver = people[person.supervisor].nip if person.supervisor is not None else person.nip
        if person.supervisor is not None and people[person.supervisor].supervisor is not None:
            wrong = people[people[person.supervisor].supervisor].nip  # type: ignore[index]
        else:
            wrong = person.nip
        s_window, s_dup, s_wrong = shares["outside_window"], shares["duplicate_id"], shares["wrong_approver"]
        rapid = self._rapid.get(approver)
        if rapid is None:
            share = self.planted["rapid_approval"]
            rapid = self._rapid[approver] = bool(share) and self._prng.random() < share
        for n, (day, ind) in enumerate(slots):
            self._act += 1
            aid = f"ACT-{self._act:07d}"
            kind = kinds[int(rnd() * 100)]
            base = day * _DAY
            if dki:
                if rnd() < s_window:
                    injected["outside_window"] += 1
                    entered = base + _DAY + 8 * 3600 if rnd() < 0.1 else base + 8 * 3600 + int(rnd() * 7 * 3600)
                else:
                    r = rnd()
                    entered = (base + 15 * 3600 if r < 0.03 else
                               base + 15 * 3600 + int(rnd() * 9 * 3600) if r < 0.83 else
                               base + _DAY + int(rnd() * 8 * 3600))
            else:
                entered = base + 9 * 3600 + int(rnd() * 12 * 3600)
            if burst_day is not None:  # backfilled: the whole month in one sitting
                entered = burst_day * _DAY + 16 * 3600 + 15 * n
            activity = {"id": aid, "nip": person.nip, "indicator_id": indicators[ind]["id"],
                        "date": self._days[day], "quantity": "1", "kind": kind,
                        "description": _pick(rnd, _DESCRIPTIONS[kind]), "entered_at": ts(entered)}
            yield "activity", activity
            if rnd() < s_dup:
                injected["duplicate_id"] += 1
                yield "activity", {**activity, "quantity": "2", "description": activity["description"] + " (revisi)"}
            if pekalongan and kind == "rapat":
                ekinds: tuple[str, ...] = ("undangan", "dokumentasi", "notulen" if rnd() < 0.6 else "tindak_lanjut")
            elif pekalongan and kind == "lapangan":
                ekinds = ("foto",) if rnd() < 0.7 else ("foto", "foto")
            elif tenant == "metro" and rnd() < 0.1:
                ekinds = ("dokumen", "dokumen")
            else:
                ekinds = ("dokumen",)
            for k, ekind in enumerate(ekinds, 1):
                yield "evidence", self._evidence(f"EV-{self._act:07d}-{k}", aid, ekind, day, entered, person.nip)
            if rnd() < s_wrong:
                injected["wrong_approver"] += 1
                who = wrong
            else:
                who = approver
            decided = self._next_workday[entered // _DAY] * _DAY + 9 * 3600 + int(rnd() * 8 * 3600)
            if rapid and who == approver:
                on = self._next_workday[entered // _DAY]
                decided = on * _DAY + 16 * 3600 + 2 * self._rapid_count[(approver, on)]
                self._rapid_count[(approver, on)] += 1
                self.injected["rapid_approval"] += 1
            yield "approval", {"id": f"APR-{self._act:07d}", "activity_id": aid, "approver_nip": who,
                               "decided_at": ts(decided)}

    def _evidence(self, eid: str, aid: str, kind: str, day: int, entered: int, nip: str) -> dict[str, Any]:
        rng, rnd, shares, injected = self._rng, self._rng.random, self.shares, self.injected
        r = rnd()
        doc_kind: Any
        if r < shares["altered_document"]:
            injected["altered_document"] += 1
            rnd()  # the draw that once picked one of the pool's documents, kept so that the data stays the same
            doc_kind = "altered"
        elif r < shares["altered_document"] + shares["bad_signature"]:
            injected["bad_signature"] += 1
            doc_kind = "foreign" if rnd() < 0.5 else "unsigned"
        else:
            rnd()
            doc_kind = "valid"
        doc = variant(doc_kind, eid)
        fields: dict[str, Any] = {"document_id": doc.id.partition("/")[0], "document_variant": eid,
                                  "sha256": doc.signed_sha256}
        if doc_kind != "valid":
            fields["signature"] = {"status": SIGNATURE_STATUS[doc_kind]}
        share = self.planted["shared_document"]
        if share and self._last_doc is not None and self._last_doc[0] != nip and self._prng.random() < share:
            fields = self._last_doc[1]  # the same document as another employee's item
            injected["shared_document"] += 1
        else:
            self._last_doc = (nip, fields)
        deadline = self._deadline[day]
        if rnd() < shares["late_evidence"]:
            injected["late_evidence"] += 1
            uploaded = deadline + 1 if rnd() < 0.1 else deadline + 1 + int(rnd() * 2 * _DAY)
        else:
            r = rnd()
            naive = max(self._naive_deadline[day], entered)
            if r < 0.75:
                uploaded = entered + 60 + int(rnd() * 3540)
            elif r < 0.77:
                uploaded = deadline  # 23:59:59 of the last working day: still in time
            elif r < 0.87 and naive < deadline:  # in time only because cuti bersama are not working days
                uploaded = naive + 1 + int(rnd() * (deadline - naive))
            else:
                uploaded = entered + int(rnd() * (deadline - entered))
            if self._edge:
                uploaded = max(entered, deadline - int(self._prng.random() * 600))
        record: dict[str, Any] = {"id": eid, "activity_id": aid, "kind": kind, **fields,
                                  "uploaded_at": self._ts(uploaded)}
        if kind == "foto":
            (lat0, lat1), (lon0, lon1) = PEKALONGAN_BOX
            if rnd() < shares["photo_no_coordinates"]:
                injected["photo_no_coordinates"] += 1
            else:
                if rnd() < shares["photo_outside_area"]:
                    injected["photo_outside_area"] += 1
                    lat, lon = rng.choice(_OUTSIDE_PEKALONGAN)
                    lat, lon = lat + (rnd() - 0.5) * 0.02, lon + (rnd() - 0.5) * 0.02
                else:
                    lat, lon = lat0 + rnd() * (lat1 - lat0), lon0 + rnd() * (lon1 - lon0)
                record["latitude"], record["longitude"] = f"{lat:.6f}", f"{lon:.6f}"
            record["captured_at"] = self._ts(day * _DAY + 8 * 3600 + int(rnd() * 7 * 3600))
            share, last = self.planted["shared_photo"], self._last_photo.get(day)
            if share and last is not None and last[0] != nip and "latitude" in last[1] and self._prng.random() < share:
                record.update(last[1])  # another employee's photo: same capture time and place
                injected["shared_photo"] += 1
            elif share:
                self._last_photo[day] = (nip, {k: record[k] for k in ("latitude", "longitude", "captured_at")
                                               if k in record})
        return record

    def _attendance(self, person: Person, month: _Month) -> dict[str, Any]:
        rnd = self._rng.random

        def minutes() -> int:
            r = rnd()
            return (1 + int(rnd() * 30) if r < 0.7 else 31 + int(rnd() * 30) if r < 0.85 else
                    61 + int(rnd() * 30) if r < 0.95 else 91 + int(rnd() * 120))

        late = [minutes() for _ in range(int(rnd() ** 2 * 5))]
        early = [minutes() for _ in range(int(rnd() ** 3 * 3))]
        return {"nip": person.nip, "period": month.label, "late_minutes": late, "early_leave_minutes": early,
                "missing_records": int(rnd() ** 4 * 3), "absent_days": int(rnd() ** 6 * 3)}

    def _programmes(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rng, rnd = self._rng, self._rng.random
        for month in self.months:
            for unit in self.org.units:
                if unit.role != "mid":
                    continue
                for k in range(1, 1 + rng.randint(1, 3)):
                    target = rng.randint(4, 24)
                    missed = rnd() < 0.2
                    realised = int(target * (0.3 + 0.65 * rnd())) if missed else target + rng.randint(0, 3)
                    yield "programme", {
                        "id": f"PRG-{month.tag}-{unit.index:05d}-{k}", "unit_id": unit.id, "period": month.label,
                        "name": f"{rng.choice(_PROGRAMMES)} {unit.name}", "target": str(target),
                        "realisation": str(realised)}


def document_pool() -> list[PoolDocument]:
    """The documents evidence items point at: a few signed PDFs of each kind (valid, foreign, unsigned, altered),
    shared, since signing costs tens of milliseconds a document. `signed_sha256` is the hash BKN recorded."""
    return signed_pool(per_kind=2, seed=0)


def iter_records(tenant: str, employees: int, period: str, seed: int = 0, bad_share: float = DEFAULT_BAD_SHARE,
                 *, bad: Mapping[str, float] | None = None, plant: Mapping[str, float] | None = None
                 ) -> Iterator[tuple[str, dict[str, Any]]]:
    """The scenario's records as (kind, record): first ("scenario", top-level fields), then units, employees,
    documents, per employee-month a plan, activities with their evidence and approvals and (Pekalongan)
    attendance, and last (Pekalongan) programmes. A generator: nothing is held beyond the organisation."""
    return ScenarioGenerator(tenant, employees, period, seed, bad_share, bad=bad, plant=plant).records()


@dataclass
class GenerationStats:
    records: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    bytes_written: int = 0
    seconds: float = 0.0


def generate(tenant: str, employees: int, period: str, seed: int = 0, bad_share: float = DEFAULT_BAD_SHARE,
             out: IO[bytes] | IO[str] | None = None, *, bad: Mapping[str, float] | None = None,
             spill_dir: str | None = None, plant: Mapping[str, float] | None = None) -> GenerationStats:
    """Write the scenario as JSON (format_version 1) to `out` (binary or text; default: standard output)."""
    import sys

    started = time.perf_counter()
    gen = ScenarioGenerator(tenant, employees, period, seed, bad_share, bad=bad, plant=plant)
    stats = GenerationStats(injected=gen.injected)
    writer = ScenarioWriter(_byte_sink(out if out is not None else sys.stdout), spill_dir=spill_dir)
    try:
        for kind, record in gen.records():
            writer.add(kind, record)
        writer.close()
    finally:
        writer.discard_spills()
    stats.records, stats.bytes_written = writer.records, writer.bytes_written
    stats.seconds = time.perf_counter() - started
    return stats


# writing ------------------------------------------------------------------------------------------------------------
class _Array:
    """One JSON array's records, buffered and joined before they are written."""

    __slots__ = ("buffer", "count", "write")

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self.write, self.buffer, self.count = write, [], 0

    def add(self, data: bytes) -> None:
        buffer = self.buffer
        buffer.append(data)
        if len(buffer) >= 2048:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.write((b",\n" if self.count else b"\n") + b",\n".join(self.buffer))
            self.count += len(self.buffer)
            self.buffer.clear()


class ScenarioWriter:
    """Writes (kind, record) pairs that come in SECTIONS order as one scenario JSON object, streaming."""

    def __init__(self, write: Callable[[bytes], object], *, spill_dir: str | None = None) -> None:
        self._out, self._spill_dir = write, spill_dir
        self.bytes_written = 0
        self.records: Counter[str] = Counter()
        self._section = -1
        self._lead: _Array | None = None
        self._lead_kind = ""
        self._spills: dict[str, IO[bytes]] = {}
        self._spilled: dict[str, _Array] = {}
        self._where = {kind: i for i, section in enumerate(SECTIONS) for kind in section}
        self._header_done = False

    def _write(self, data: bytes) -> None:
        self.bytes_written += len(data)
        self._out(data)

    def add(self, kind: str, record: Mapping[str, Any]) -> None:
        if kind == self._lead_kind:  # the hot path: activities
            self._lead.add(orjson.dumps(record))  # type: ignore[union-attr]
            self.records[kind] += 1
            return
        spilled = self._spilled.get(kind)
        if spilled is not None:
            spilled.add(orjson.dumps(record))
            self.records[kind] += 1
            return
        self._add_first(kind, record)

    def _add_first(self, kind: str, record: Mapping[str, Any]) -> None:
        """The first record of a kind in its section: the header, a new section, or a new spill."""
        if kind == "scenario":
            if self._header_done:
                raise ValueError("the scenario's top-level fields come once, first")
            self._write(b"{" + b",".join(orjson.dumps(k) + b":" + orjson.dumps(v) for k, v in record.items()))
            self._header_done = True
            return
        if not self._header_done:
            raise ValueError("the scenario's top-level fields come first")
        section = self._where[kind]
        if section < self._section:
            raise ValueError(f"{kind} records after their section was closed")
        while self._section < section:
            self._close_section()
            self._section += 1
            self._open_section()
        if kind != self._lead_kind:
            spill = tempfile.TemporaryFile(prefix="scenario-", dir=self._spill_dir)  # noqa: SIM115
            self._spills[kind] = spill
            self._spilled[kind] = _Array(spill.write)
        self.add(kind, record)

    def _open_section(self) -> None:
        self._lead_kind = SECTIONS[self._section][0]
        self._write(b',\n"' + _ARRAYS[self._lead_kind].encode() + b'":[')
        self._lead = _Array(self._write)

    def _close_section(self) -> None:
        if self._section < 0 or self._lead is None:
            return
        self._lead.flush()
        self._write(b"\n]" if self._lead.count else b"]")
        for kind in SECTIONS[self._section][1:]:
            self._write(b',\n"' + _ARRAYS[kind].encode() + b'":[')
            spill, array = self._spills.pop(kind, None), self._spilled.pop(kind, None)
            if spill is None or array is None:
                self._write(b"]")
                continue
            array.flush()
            spill.seek(0)
            while chunk := spill.read(1 << 20):
                self._write(chunk)
            spill.close()
            self._write(b"\n]")
        self._lead, self._lead_kind = None, ""

    def close(self) -> None:
        if not self._header_done:
            raise ValueError("no scenario was written")
        while self._section < len(SECTIONS) - 1:
            self._close_section()
            self._section += 1
            self._open_section()
        self._close_section()
        self._write(b"\n}\n")

    def discard_spills(self) -> None:
        for spill in self._spills.values():
            spill.close()
        self._spills.clear()
        self._spilled.clear()


def _byte_sink(out: IO[bytes] | IO[str]) -> Callable[[bytes], object]:
    if isinstance(out, io.TextIOBase) or hasattr(out, "encoding"):
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            out.flush()
            return buffer.write
        return lambda data: out.write(data.decode())  # type: ignore[arg-type]
    return out.write  # type: ignore[return-value]


def _pick(rnd: Callable[[], float], seq: Sequence[_T]) -> _T:
    """`random.choice`, cheaper: the hot loop draws a few of these per record."""
    return seq[int(rnd() * len(seq))]


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def _parse_period(period: str) -> tuple[date, date, list[tuple[str, date, date]]]:
    """A month YYYY-MM or a quarter YYYY-Qn: first day, last day and the months in it."""
    try:
        year_text, rest = period.split("-")
        year = int(year_text)
        months = [3 * int(rest[1:]) - 2 + i for i in range(3)] if rest[:1] == "Q" else [int(rest)]
        if len(year_text) != 4 or len(rest) != 2 or not all(1 <= m <= 12 for m in months):
            raise ValueError
    except ValueError:
        raise ValueError(f"period {period!r} is neither a month (YYYY-MM) nor a quarter (YYYY-Qn)") from None
    spans = []
    for m in months:
        first = date(year, m, 1)
        last = date(year + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
        spans.append((f"{year:04d}-{m:02d}", first, last))
    return spans[0][1], spans[-1][2], spans


__all__ = ["APPLIES_TO", "BAD_KINDS", "DEFAULT_BAD_SHARE", "PATTERNS", "plant_shares",
           "POSITION_GROUPS", "SECTIONS", "TENANTS", "GenerationStats",
           "ScenarioGenerator", "ScenarioWriter", "bad_shares", "document_pool", "generate", "iter_records"]
