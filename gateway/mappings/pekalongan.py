"""Kota Pekalongan: evidence-backed e-Kinerja, discipline and joint liability (scheme `pekalongan`,
docs/schemes.md).

Allowance = floor(ceiling[kelas] x (k_weight x K + d_weight x D) x (1 - C)), rounded down once.

- K (0-1): Metro's score / 100 with Metro's checks (approval by the direct supervisor, hash unchanged, upload within
  the SLA in working days) but no TTE; instead the evidence a kind of activity needs (`evidence_needs`): a `rapat`
  needs an undangan, a dokumentasi and a notulen or tindak_lanjut; a `lapangan` a foto with coordinates inside
  `area`, captured on the activity date (WIB); any other kind a dokumen. No plan: K = 0, D and C still apply.
- D (0-1): 1 - the deductions of the month's attendance summary (`deductions`), floored at 0.
- C (0-max_cut): `cut_per_programme` for each missed e-Seksama programme (realisation < programme_threshold x
  target) where the employee holds one of `liable_roles`, once per programme however many roles they hold.

Questions the city's rules leave open, decided here:
- Head of the bidang / of the OPD: the unit's `head_nip` (SIASN's head, an acting head included). The sekretaris of
  an OPD: the NIP the `sekretaris` setting names for that OPD's unit id; else the head of the OPD's direct child unit
  whose name starts with `sekretariat_unit_prefix` ("Sekretariat", any case); else nobody holds that role.
- The "bidang" of a programme is its unit, whatever its level; a programme whose unit is unknown or lies under no
  OPD is quarantined (`programme-unit`) and cuts nobody.
- An employee with no attendance summary for the month is quarantined (`no-attendance-summary`): D is unknown, and
  paying it as full or as nothing would both be a guess. Two different summaries: quarantined
  (`duplicate-attendance`).
- A late arrival or early leave of 0 minutes or less is no occurrence; each missing record takes the top step.
- Evidence needs count evidence kinds present; extra items do no harm but every item must pass the integrity and
  SLA checks. An activity with no evidence at all is refused `no-evidence`, as in Metro.
- A NIP that comes as two different employee records is quarantined (`duplicate-id`), never paid twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.domain import (
    WIB,
    Activity,
    Attendance,
    Employee,
    Evidence,
    ExplanationLine,
    Indicator,
    Period,
    PeriodData,
    Problem,
    Programme,
    Result,
    ResultStatus,
    Unit,
    WorkingDayCalendar,
    fmt,
)
from gateway.mappings._base import Outcome, SchemeSettings, fraction_text, opd_of
from gateway.mappings._checks import (
    ActivityRecords,
    Refusal,
    check_approval,
    check_evidence_items,
    every_refusal,
    plan_problem,
    unique_employees,
)
from gateway.mappings.metro import DEFAULT_CEILINGS

Role = Literal["bidang_head", "sekretaris", "opd_head"]
ROLE_NAMES: dict[str, str] = {"bidang_head": "head of the bidang", "sekretaris": "sekretaris of the OPD",
                              "opd_head": "head of the OPD"}
PHOTO = "foto"


class _Table(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BoundingBox(_Table):
    """The tenant's area in decimal degrees, edges included. Default: Kota Pekalongan, 6°50'42"-6°55'44" S,
    109°37'55"-109°42'19" E."""

    min_latitude: Decimal = Decimal("-6.9289")
    max_latitude: Decimal = Decimal("-6.8450")
    min_longitude: Decimal = Decimal("109.6319")
    max_longitude: Decimal = Decimal("109.7053")

    @model_validator(mode="after")
    def _ordered(self) -> BoundingBox:
        if self.min_latitude > self.max_latitude or self.min_longitude > self.max_longitude:
            raise ValueError("area: min_latitude/min_longitude must not exceed max_latitude/max_longitude")
        return self

    def contains(self, latitude: Decimal, longitude: Decimal) -> bool:
        return (self.min_latitude <= latitude <= self.max_latitude
                and self.min_longitude <= longitude <= self.max_longitude)


class DeductionTable(_Table):
    """Discipline deductions as fractions of 1. `steps`: (up to N minutes late or early, deduction) ascending; over
    the last step, and for each missing record, `top`; `absence_per_day` per day absent without leave."""

    steps: tuple[tuple[int, Decimal], ...] = ((30, Decimal("0.005")), (60, Decimal("0.01")), (90, Decimal("0.0125")))
    top: Decimal = Field(default=Decimal("0.015"), ge=0)
    absence_per_day: Decimal = Field(default=Decimal("0.03"), ge=0)

    @field_validator("steps")
    @classmethod
    def _ascending(cls, value: tuple[tuple[int, Decimal], ...]) -> tuple[tuple[int, Decimal], ...]:
        bounds = [minutes for minutes, _ in value]
        if any(b < 1 for b in bounds) or bounds != sorted(set(bounds)) or any(d < 0 for _, d in value):
            raise ValueError("deduction steps must have ascending minute bounds >= 1 and deductions >= 0")
        return value

    def step(self, minutes: int) -> tuple[str, Decimal]:
        """The step label and deduction for one late arrival or early leave of `minutes` (>= 1)."""
        low = 1
        for bound, deduction in self.steps:
            if minutes <= bound:
                return f"{low}-{bound} min", deduction
            low = bound + 1
        return f"over {low - 1} min", self.top


def _rapat_needs() -> dict[str, tuple[tuple[str, ...], ...]]:
    return {"rapat": (("undangan",), ("dokumentasi",), ("notulen", "tindak_lanjut")), "lapangan": ()}


class PekalonganSettings(SchemeSettings):
    ceilings: dict[int, int] = Field(default_factory=lambda: dict(DEFAULT_CEILINGS))
    k_weight: Decimal = Field(default=Decimal("0.60"), ge=0, le=1)
    d_weight: Decimal = Field(default=Decimal("0.40"), ge=0, le=1)
    evidence_sla_working_days: int = Field(default=3, ge=1)
    extra_holidays: tuple[date, ...] = ()
    # activity kind -> evidence kinds it needs: each inner tuple is alternatives, one of which must be present
    evidence_needs: dict[str, tuple[tuple[str, ...], ...]] = Field(default_factory=_rapat_needs)
    default_evidence_need: tuple[tuple[str, ...], ...] = (("dokumen",),)
    field_work_kinds: tuple[str, ...] = ("lapangan",)  # these need a geotagged photo taken on the day, in `area`
    area: BoundingBox = BoundingBox()
    deductions: DeductionTable = DeductionTable()
    programme_threshold: Decimal = Field(default=Decimal(1), ge=0)
    cut_per_programme: Decimal = Field(default=Decimal("0.05"), ge=0, le=1)
    max_cut: Decimal = Field(default=Decimal("0.20"), ge=0, le=1)
    liable_roles: tuple[Role, ...] = ("bidang_head", "sekretaris", "opd_head")
    sekretariat_unit_prefix: str = "Sekretariat"
    sekretaris: dict[str, str] = Field(default_factory=dict)  # OPD unit id -> NIP, where the unit tree cannot say

    @field_validator("ceilings")
    @classmethod
    def _ceilings_are_rupiah(cls, value: dict[int, int]) -> dict[int, int]:
        for kelas, amount in value.items():
            if not 1 <= kelas <= 17 or amount < 0:
                raise ValueError(f"ceiling for kelas {kelas} = {amount}: kelas must be 1-17 and amount >= 0")
        return value

    @field_validator("evidence_needs")
    @classmethod
    def _needs_not_empty(cls, value: dict[str, tuple[tuple[str, ...], ...]]
                         ) -> dict[str, tuple[tuple[str, ...], ...]]:
        for kind, needs in value.items():
            cls._alternatives_not_empty(needs, f"evidence_needs.{kind}")
        return value

    @field_validator("default_evidence_need")
    @classmethod
    def _default_need_not_empty(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        return cls._alternatives_not_empty(value, "default_evidence_need")

    @staticmethod
    def _alternatives_not_empty(needs: tuple[tuple[str, ...], ...], where: str) -> tuple[tuple[str, ...], ...]:
        if any(not alternatives for alternatives in needs):
            raise ValueError(f"{where}: every need lists at least one evidence kind")
        return needs

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> PekalonganSettings:
        if self.k_weight + self.d_weight != 1:
            raise ValueError(f"k_weight {self.k_weight} + d_weight {self.d_weight} must be 1")
        return self


class PekalonganScheme:
    name: ClassVar[str] = "pekalongan"
    settings_model: ClassVar[type[SchemeSettings]] = PekalonganSettings

    def compute(self, data: PeriodData, settings: PekalonganSettings) -> Outcome:
        return _Computation(data, settings).run()


@dataclass(frozen=True)
class _Cut:
    """One missed programme cutting one person, with the roles in which they answer for it."""

    programme: Programme
    unit: Unit
    roles: tuple[str, ...]


def _percent(value: Fraction) -> str:
    """A fraction of 1 as a percentage, for people: whole (5%) or to two decimals (0,50%, 33,33%)."""
    return f"{fmt.number(value * 100)}%"


def _either(alternatives: tuple[str, ...]) -> str:
    return alternatives[0] if len(alternatives) == 1 else f"({' or '.join(alternatives)})"


class _Computation:
    def __init__(self, data: PeriodData, settings: PekalonganSettings) -> None:
        self.data, self.settings = data, settings
        self.calendar = WorkingDayCalendar(settings.extra_holidays)
        self.period = Period.parse(data.period)
        self.version = settings.version()
        self.units = {u.id: u for u in data.units}
        self.children: dict[str, list[Unit]] = defaultdict(list)
        for unit in sorted(data.units, key=lambda u: u.id):
            if unit.parent_id:
                self.children[unit.parent_id].append(unit)
        self.indicators: dict[str, list[Indicator]] = defaultdict(list)
        for ind in data.indicators:
            if ind.period == data.period:
                self.indicators[ind.nip].append(ind)
        self.activities: dict[str, list[Activity]] = defaultdict(list)
        for act in data.activities:
            self.activities[act.nip].append(act)
        self.attendance: dict[str, list[Attendance]] = defaultdict(list)
        for att in data.attendance:
            if att.period == data.period and att not in self.attendance[att.nip]:
                self.attendance[att.nip].append(att)
        self.records = ActivityRecords.index(data)

    def run(self) -> Outcome:
        employees, problems = unique_employees(self.data.employees)
        outcome = Outcome(problems=problems)
        cuts = self._joint_liability(outcome.problems)
        for emp in employees:
            opd = opd_of(self.units, emp.unit_id)
            problem = self._employee_problem(emp, opd)
            if problem is not None:
                outcome.problems.append(problem)
            elif opd is not None:  # always: an employee under no OPD has a problem
                outcome.results.append(self._employee(emp, opd, self.attendance[emp.nip][0], cuts.get(emp.nip, [])))
        return outcome

    def _employee_problem(self, emp: Employee, opd: str | None) -> Problem | None:
        if opd is None:
            return Problem(record_kind="employee", record_id=emp.nip, nip=emp.nip, rule="unknown-unit",
                           message=f"employee {emp.nip}: unit {emp.unit_id!r} is unknown or has no OPD above it; "
                                   "fix the unit in BKN and sync again")
        if emp.kelas_jabatan not in self.settings.ceilings:
            return Problem(record_kind="employee", record_id=emp.nip, nip=emp.nip, rule="no-ceiling",
                           message=f"employee {emp.nip}: no ceiling for kelas jabatan {emp.kelas_jabatan} in the "
                                   "tenant's settings")
        problem = plan_problem(emp, self.indicators.get(emp.nip, []), self.data.period)
        if problem is not None:
            return problem
        summaries = self.attendance.get(emp.nip, [])
        record_id = f"{emp.nip}/{self.data.period}"
        if not summaries:
            return Problem(record_kind="attendance", record_id=record_id, nip=emp.nip, rule="no-attendance-summary",
                           message=f"employee {emp.nip} has no attendance summary for {self.data.period}: the "
                                   "discipline factor D cannot be computed; the month is quarantined until the "
                                   "attendance system sends it")
        if len(summaries) > 1:
            return Problem(record_kind="attendance", record_id=record_id, nip=emp.nip, rule="duplicate-attendance",
                           message=f"employee {emp.nip} has {len(summaries)} different attendance summaries for "
                                   f"{self.data.period}; the month is quarantined until the attendance system "
                                   "sends one")
        return None

    # joint liability (tanggung renteng) -------------------------------------------------------------------------
    def _sekretaris(self, opd: str) -> str | None:
        if opd in self.settings.sekretaris:
            return self.settings.sekretaris[opd]
        prefix = self.settings.sekretariat_unit_prefix.casefold()
        for unit in self.children.get(opd, []):
            if unit.name.casefold().startswith(prefix) and unit.head_nip:
                return unit.head_nip
        return None

    def _joint_liability(self, problems: list[Problem]) -> dict[str, list[_Cut]]:
        """Who loses a cut for which missed programme; a person holding several roles for one programme once."""
        cuts: dict[str, list[_Cut]] = defaultdict(list)
        threshold = Fraction(self.settings.programme_threshold)
        for prog in sorted(self.data.programmes, key=lambda p: p.id):
            if prog.period != self.data.period:
                continue
            unit = self.units.get(prog.unit_id)
            opd = opd_of(self.units, prog.unit_id)
            if unit is None or opd is None:
                problems.append(Problem(
                    record_kind="programme", record_id=prog.id, rule="programme-unit",
                    message=f"programme {prog.id}: unit {prog.unit_id!r} is unknown or has no OPD above it, so "
                            "nobody can answer for it; fix the unit in e-Seksama and sync again"))
                continue
            if Fraction(prog.realisation) >= threshold * Fraction(prog.target):
                continue
            holders = {"bidang_head": unit.head_nip, "opd_head": self.units[opd].head_nip,
                       "sekretaris": self._sekretaris(opd)}
            roles: dict[str, list[str]] = defaultdict(list)
            for role in self.settings.liable_roles:
                holder = holders[role]
                if holder:
                    roles[holder].append(role)
            for holder, held in roles.items():
                cuts[holder].append(_Cut(prog, unit, tuple(held)))
        return cuts

    # one employee --------------------------------------------------------------------------------------------------
    def _employee(self, emp: Employee, opd: str, att: Attendance, cuts: list[_Cut]) -> Result:
        ceiling = self.settings.ceilings[emp.kelas_jabatan]
        kw, dw = Fraction(self.settings.k_weight), Fraction(self.settings.d_weight)
        inputs: list[str] = [emp.nip]
        k, lines = self._performance(emp, ceiling * kw, inputs)
        d, discipline = self._discipline(att, ceiling * dw, inputs)
        lines.extend(discipline)
        base = ceiling * (kw * k + dw * d)
        c, liability = self._liability(cuts, base, inputs)
        lines.extend(liability)
        exact = base * (1 - c)
        amount = floor(exact)
        lines.append(ExplanationLine(
            code="total",
            text=f"(K {fmt.number(k)} x {fmt.number(self.settings.k_weight)} + D {fmt.number(d)} x "
                 f"{fmt.number(self.settings.d_weight)}) x (1 - C {_percent(c)}) x ceiling {fmt.rupiah(ceiling)} "
                 f"(kelas {emp.kelas_jabatan}) = {fmt.rupiah(exact)}, rounded down once to {fmt.rupiah(amount)}",
            rupiah=fraction_text(amount - exact)))
        if amount == ceiling and ceiling > 0:
            status = ResultStatus.FULL
        elif amount > 0:
            status = ResultStatus.PARTIAL
        else:
            status = ResultStatus.NOTHING
        score = (kw * k + dw * d) * (1 - c) * 100
        return Result(
            tenant=self.data.tenant, period=self.data.period, nip=emp.nip, opd_id=opd, amount=amount,
            ceiling=ceiling, score=fraction_text(score), status=status, scheme=PekalonganScheme.name,
            settings_version=self.version, lines=tuple(lines), input_ids=tuple(dict.fromkeys(inputs)),
            metrics={"K": fraction_text(k), "D": fraction_text(d), "C": fraction_text(c)})

    def _performance(self, emp: Employee, rupiah_per_k: Fraction, inputs: list[str]
                     ) -> tuple[Fraction, list[ExplanationLine]]:
        """K, with one line per indicator carrying its share of rupiah_per_k, then the refused activities."""
        inds = sorted(self.indicators.get(emp.nip, []), key=lambda i: i.id)
        if not inds:
            return Fraction(0), [ExplanationLine(
                code="no-plan", text="no KPI plan for the month: K = 0; discipline and joint liability still apply",
                rupiah="0")]
        by_indicator = {i.id: i for i in inds}
        realised: dict[str, Fraction] = defaultdict(Fraction)
        counted: dict[str, list[str]] = defaultdict(list)
        refusals: list[ExplanationLine] = []
        for act in sorted(self.activities.get(emp.nip, []), key=lambda a: (a.day, a.id)):
            if act.day not in self.period:
                continue
            inputs.append(act.id)
            try:
                if act.indicator_id not in by_indicator:
                    raise Refusal("unknown-indicator", f"indicator {act.indicator_id} is not in the month's KPI plan")
                self._check_activity(emp, act, inputs)
            except Refusal as refusal:
                refusals.append(ExplanationLine(code=f"refused:{refusal.code}",
                                                text=f"activity {act.id} ({act.kind}, {act.day}) refused: "
                                                     f"{refusal.text}",
                                                refs=(act.id, *refusal.refs)))
                continue
            realised[act.indicator_id] += Fraction(act.quantity)
            counted[act.indicator_id].append(act.id)
        k = Fraction(0)
        lines: list[ExplanationLine] = []
        for ind in inds:
            inputs.append(ind.id)
            r, t, w = realised[ind.id], Fraction(ind.target), Fraction(ind.weight)
            achievement = min(r / t, Fraction(1))
            points = w * achievement
            k += points / 100
            capped = " (capped)" if r > t else ""
            lines.append(ExplanationLine(
                code="indicator",
                text=f"{ind.id} {ind.name}: realised {fmt.number(r)} of target {fmt.number(t)} -> "
                     f"achievement {fmt.number(achievement)}{capped} x weight {fmt.number(w)}% = "
                     f"{fmt.number(points)} points of K; {len(counted[ind.id])} activities counted",
                refs=(ind.id, *counted[ind.id]),
                rupiah=fraction_text(rupiah_per_k * points / 100)))
        return k, lines + refusals

    def _check_activity(self, emp: Employee, act: Activity, inputs: list[str]) -> None:
        every_refusal(lambda: check_approval(emp, act, self.records, inputs),
                      lambda: self._check_evidence(act, inputs))

    def _check_evidence(self, act: Activity, inputs: list[str]) -> None:
        items = self.records.evidence_of(act.id)
        if not items:
            raise Refusal("no-evidence", "no evidence attached")
        inputs.extend(ev.id for ev in items)
        self._check_needs(act, items)
        check_evidence_items(act, items, self.records.checks,
                             deadline=self.calendar.deadline(act.day, self.settings.evidence_sla_working_days),
                             sla_days=self.settings.evidence_sla_working_days, require_tte=False, inputs=inputs)

    def _check_needs(self, act: Activity, items: list[Evidence]) -> None:
        refs = tuple(ev.id for ev in items)
        present = {ev.kind for ev in items}
        needs = self.settings.evidence_needs.get(act.kind, self.settings.default_evidence_need)
        missing = [_either(alternatives) for alternatives in needs if not present & set(alternatives)]
        if missing:
            wanted = " and ".join(_either(alternatives) for alternatives in needs)
            raise Refusal("missing-evidence",
                          f"a {act.kind} activity needs {wanted}; missing: {' and '.join(missing)} "
                          f"(attached: {', '.join(sorted(present))})", refs)
        if act.kind not in self.settings.field_work_kinds:
            return
        faults = []
        for ev in items:
            if ev.kind != PHOTO:
                continue
            fault = self._photo_fault(act, ev)
            if fault is None:
                return
            faults.append(f"{ev.id} {fault}")
        raise Refusal("no-geotagged-photo",
                      f"a {act.kind} activity needs a photo with coordinates inside the area taken on {act.day}: "
                      + ("; ".join(faults) if faults else "no photo attached"), refs)

    def _photo_fault(self, act: Activity, ev: Evidence) -> str | None:
        if ev.latitude is None or ev.longitude is None:
            return "has no coordinates"
        if not self.settings.area.contains(ev.latitude, ev.longitude):
            return f"was taken at ({ev.latitude}, {ev.longitude}), outside the area"
        if ev.captured_at is None:
            return "has no capture time"
        taken = ev.captured_at.astimezone(WIB).date()
        if taken != act.day:
            return f"was taken on {taken} (WIB), not on the activity date"
        return None

    def _discipline(self, att: Attendance, rupiah_per_d: Fraction, inputs: list[str]
                    ) -> tuple[Fraction, list[ExplanationLine]]:
        """D, with a line for the full weight and one negative line per kind and step of deduction."""
        ref = f"attendance/{att.nip}/{att.period}"
        inputs.append(ref)
        table = self.settings.deductions
        lines = [ExplanationLine(code="discipline", refs=(ref,), rupiah=fraction_text(rupiah_per_d),
                                 text=f"discipline: D starts at 1, x weight {fmt.number(self.settings.d_weight)} x "
                                      "ceiling")]
        groups: list[tuple[str, str, int, Fraction]] = []
        for code, what, minutes in (("late", "late arrival", att.late_minutes),
                                    ("early-leave", "early leave", att.early_leave_minutes)):
            by_step: Counter[tuple[str, Decimal]] = Counter(table.step(m) for m in minutes if m > 0)
            for (label, deduction), count in sorted(by_step.items(), key=lambda item: item[0][1]):
                groups.append((code, f"{what} {label}", count, Fraction(deduction)))
        if att.missing_records:
            groups.append(("no-record", "check-in/out with no record", att.missing_records, Fraction(table.top)))
        if att.absent_days:
            groups.append(("absence", "day absent without leave", att.absent_days, Fraction(table.absence_per_day)))
        total = Fraction(0)
        for code, what, count, share in groups:
            total += count * share
            lines.append(ExplanationLine(
                code=f"deduction:{code}", refs=(ref,), rupiah=fraction_text(-rupiah_per_d * count * share),
                text=f"{what}: {count} x {_percent(share)} = {_percent(count * share)} off D"))
        d = max(Fraction(0), 1 - total)
        if total > 1:
            lines.append(ExplanationLine(
                code="deduction-floor", refs=(ref,), rupiah=fraction_text(rupiah_per_d * (total - 1)),
                text=f"deductions total {_percent(total)}, more than 100%: D is floored at 0"))
        return d, lines

    def _liability(self, cuts: list[_Cut], base: Fraction, inputs: list[str]
                   ) -> tuple[Fraction, list[ExplanationLine]]:
        """C, with one negative line per missed programme (of `base`, the amount before cuts) and the cap."""
        per_programme = Fraction(self.settings.cut_per_programme)
        threshold = self.settings.programme_threshold
        lines: list[ExplanationLine] = []
        total = Fraction(0)
        for cut in cuts:
            prog = cut.programme
            inputs.append(prog.id)
            total += per_programme
            roles = " and ".join(ROLE_NAMES[r] for r in cut.roles)
            once = " (once, though holding two roles)" if len(cut.roles) > 1 else ""
            lines.append(ExplanationLine(
                code="joint-liability", refs=(prog.id, cut.unit.id), rupiah=fraction_text(-base * per_programme),
                text=f"programme {prog.id} {prog.name} of {cut.unit.name}: realised {prog.realisation} of target "
                     f"{prog.target}, below {_percent(Fraction(threshold))} of target: cut "
                     f"{_percent(per_programme)} as {roles}{once}"))
        cap = Fraction(self.settings.max_cut)
        if total > cap:
            lines.append(ExplanationLine(
                code="joint-liability-cap", rupiah=fraction_text(base * (total - cap)),
                text=f"joint-liability cuts total {_percent(total)}, capped at {_percent(cap)}"))
        return min(total, cap), lines
