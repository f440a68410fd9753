"""DKI Jakarta: dynamic points, paid quarterly (scheme `dki`, docs/schemes.md).

Each counted activity earns base_points[kind] x position_factors[group] points. A month's amount is
min(points x point_value_rupiah, monthly_maximum[group]), kept exact; a quarter pays one line per employee,
floor(sum of its three monthly amounts). A month period pays that month alone. An activity counts when it was entered
inside the input window (15:00:00 in, 08:00:00 out, WIB) and its direct supervisor's latest decision approves it; it
belongs to the month of its activity date. Eselon II heads enter no activities: each month they get their maximum x
the mean attainment (min(amount / maximum, 1)) of the employees in their unit's subtree ("sundulan").

Questions the city's rules leave open, decided here:
- DKI names no evidence rule, so evidence is not checked (no hash, TTE or SLA); one activity is one job, its
  `quantity` is not used.
- An eselon II head is an employee whose eselon's rank, before the dot, is `sundulan_eselon` ("II": II.a, II.b;
  not III.a). Their "unit" is their own `unit_id`; the subtree is that unit and every unit below it. Activities they
  enter are listed as refused (`sundulan-head`).
- The mean takes every employee of the subtree with a result: the head excluded, employees quarantined left out
  (and counted in the explanation), eselon II heads of units deeper in the subtree with their own sundulan
  attainment. Another eselon II employee of the head's own unit is left out, since each one's amount would depend
  on the other's.
- An employee with no position group, or one missing from `monthly_maximum`, is quarantined
  (`unknown-position-group`): without a maximum there is no amount. A NIP that comes as two different employee
  records is quarantined (`duplicate-id`).
- The rules give no position factors: every group ships with 1, a placeholder the city replaces.
- Unit report: a unit's row counts its own members (employees whose `unit_id` is the unit) whose work is measured
  in points, so eselon II heads are left out (their attainment is already the mean of others). A unit with no such
  member has no mean attainment and is never a candidate. Candidates for merging or closure are only named for a
  quarter: below `closure_threshold` in each of its three months.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from gateway.domain import (
    WIB,
    Activity,
    Employee,
    ExplanationLine,
    Period,
    PeriodData,
    Problem,
    Result,
    ResultStatus,
    Unit,
    fmt,
)
from gateway.mappings._base import Outcome, SchemeSettings, UnitSets, fraction_text, opd_of, pack_groups
from gateway.mappings._checks import ActivityRecords, Refusal, check_approval, unique_employees

# The 2015 table of monthly maxima per position group, rupiah.
MAXIMA_2015: dict[str, int] = {
    "pelayanan": 4_005_000, "operasional": 5_805_000, "administrasi": 7_650_000, "teknis": 9_855_000,
    "lurah": 13_185_000, "camat": 19_980_000, "kepala_biro": 27_900_000, "kepala_dinas": 29_925_000,
    "kepala_badan": 31_455_000,
}


class DkiSettings(SchemeSettings):
    point_value_rupiah: int = Field(default=9_000, gt=0)
    monthly_maximum: dict[str, int] = Field(default_factory=lambda: dict(MAXIMA_2015))
    # Placeholder: the rules give no factors; every group earns 1 point per standard job until the city sets them.
    position_factors: dict[str, Decimal] = Field(default_factory=lambda: {g: Decimal(1) for g in MAXIMA_2015})
    base_points: dict[str, Decimal] = Field(default_factory=dict)  # activity kind -> points; others: the default
    default_base_points: Decimal = Field(default=Decimal(1), ge=0)
    window_start: time = time(15, 0)  # inclusive
    window_end: time = time(8, 0)  # exclusive; before window_start: the window runs across midnight
    sundulan_eselon: str = "II"
    closure_threshold: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)

    @field_validator("monthly_maximum")
    @classmethod
    def _maxima_positive(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {g: v for g, v in value.items() if v <= 0}
        if bad:
            raise ValueError(f"monthly maxima must be positive rupiah: {bad}")
        return value

    @field_validator("position_factors", "base_points")
    @classmethod
    def _not_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = {k: v for k, v in value.items() if v < 0}
        if bad:
            raise ValueError(f"points and factors must not be negative: {bad}")
        return value

    @field_validator("window_start", "window_end")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError(f"input window time {value} carries an offset; give WIB wall-clock times (15:00:00)")
        return value

    @model_validator(mode="after")
    def _every_group_has_a_factor(self) -> DkiSettings:
        missing = sorted(set(self.monthly_maximum) - set(self.position_factors))
        if missing:
            raise ValueError(f"position_factors has no factor for the groups {missing} of monthly_maximum")
        if self.window_start == self.window_end:
            raise ValueError("window_start and window_end are equal: the input window would be empty")
        return self


@dataclass(frozen=True)
class UnitMonth:
    """One unit in one month: its measured members' points, headcount and mean attainment (None with no member)."""

    unit_id: str
    unit_name: str
    month: str
    total_points: Fraction
    headcount: int
    mean_attainment: Fraction | None


@dataclass(frozen=True)
class ClosureCandidate:
    """A unit whose mean attainment stayed below the threshold in every month of the quarter."""

    unit_id: str
    unit_name: str
    attainments: tuple[Fraction, ...]
    threshold: Fraction


@dataclass(frozen=True)
class UnitReport:
    tenant: str
    period: str
    rows: tuple[UnitMonth, ...]
    candidates: tuple[ClosureCandidate, ...]


class DkiScheme:
    name: ClassVar[str] = "dki"
    settings_model: ClassVar[type[SchemeSettings]] = DkiSettings
    # No evidence rule; the position history judges approvals on the day.
    inputs: ClassVar[frozenset[str]] = frozenset({"unit", "employee", "activity", "approval", "position"})

    def compute(self, data: PeriodData, settings: DkiSettings) -> Outcome:
        return _Computation(data, settings).outcome()

    def partition(self, units: Sequence[Unit], employees: Sequence[Employee], settings: DkiSettings,
                  max_employees: int) -> list[list[str]]:
        """Groups closed under sundulan: the units of an eselon II head's subtree go together (in the generated
        tenants and in DKI's tree, whole OPDs), and so do the units of a NIP that comes as several records."""
        sets = UnitSets()
        children: dict[str, list[str]] = defaultdict(list)
        for unit in units:
            sets.find(unit.id)
            if unit.parent_id:
                children[unit.parent_id].append(unit.id)
        first_unit: dict[str, str] = {}
        for emp in employees:
            sets.join(first_unit.setdefault(emp.nip, emp.unit_id), emp.unit_id)
            if _is_head(emp, settings):
                for unit_id in _subtree(children, emp.unit_id):
                    sets.join(emp.unit_id, unit_id)
        return pack_groups(sets.components(employees), max_employees)

    def compute_parts(self, parts: Iterable[PeriodData], settings: DkiSettings) -> Outcome:
        """Results by NIP; problems as `compute` orders them: duplicate NIPs first, then the others, each by NIP."""
        outcome, later = Outcome(), []
        for part in parts:
            comp = _Computation(part, settings)
            duplicates = len(comp.problems)  # unique_employees' problems come first
            one = comp.outcome()
            outcome.results.extend(one.results)
            outcome.problems.extend(one.problems[:duplicates])
            later.extend(one.problems[duplicates:])
            del part, comp, one  # before the next part is read
        outcome.results.sort(key=lambda r: r.nip)
        outcome.problems.sort(key=lambda p: p.nip or "")
        later.sort(key=lambda p: p.nip or "")
        outcome.problems.extend(later)
        return outcome

    def unit_report(self, data: PeriodData, settings: DkiSettings) -> UnitReport:
        return unit_report(data, settings)


def unit_report(data: PeriodData, settings: DkiSettings) -> UnitReport:
    """Per unit and month: total points, headcount and mean attainment; and the candidates for merging or closure."""
    comp = _Computation(data, settings)
    comp.measure()
    members: dict[str, list[_Earned]] = defaultdict(list)
    for earned in comp.earned.values():
        if not earned.head:
            members[earned.emp.unit_id].append(earned)
    threshold = Fraction(settings.closure_threshold)
    rows: list[UnitMonth] = []
    candidates: list[ClosureCandidate] = []
    for unit in sorted(data.units, key=lambda u: u.id):
        staff = members.get(unit.id, [])
        means: list[Fraction | None] = []
        for month in comp.months:
            points = sum((e.months[month].points for e in staff), Fraction(0))
            mean = sum((e.months[month].attainment for e in staff), Fraction(0)) / len(staff) if staff else None
            means.append(mean)
            rows.append(UnitMonth(unit.id, unit.name, month, points, len(staff), mean))
        known = [m for m in means if m is not None]
        if len(comp.months) == 3 and len(known) == 3 and all(m < threshold for m in known):
            candidates.append(ClosureCandidate(unit.id, unit.name, tuple(known), threshold))
    return UnitReport(data.tenant, data.period, tuple(rows), tuple(candidates))


@dataclass
class _Month:
    points: Fraction
    amount: Fraction  # exact, capped at the maximum
    attainment: Fraction


@dataclass
class _Earned:
    """What one employee earned per month, with the explanation and the inputs used."""

    emp: Employee
    opd: str
    maximum: int
    head: bool
    months: dict[str, _Month] = field(default_factory=dict)
    lines: list[ExplanationLine] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)


def _by_day_and_id(act: Activity) -> tuple[date, str]:
    return act.day, act.id


def _is_head(emp: Employee, settings: DkiSettings) -> bool:
    """An eselon II head (paid "sundulan"): the eselon's rank, before the dot, is `sundulan_eselon`."""
    rank = (emp.eselon or "").split(".")[0].strip().upper()
    return rank == settings.sundulan_eselon.upper()


def _subtree(children: dict[str, list[str]], unit_id: str) -> set[str]:
    """The unit and every unit below it."""
    found, todo = set(), [unit_id]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, []))
    return found


def _month_labels(period: Period) -> list[str]:
    labels, day = [], period.first
    while day <= period.last:
        labels.append(f"{day.year:04d}-{day.month:02d}")
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return labels


class _Computation:
    def __init__(self, data: PeriodData, settings: DkiSettings) -> None:
        self.data, self.settings = data, settings
        self.period = Period.parse(data.period)
        self.months = _month_labels(self.period)
        self.version = settings.version()
        self.units = {u.id: u for u in data.units}
        self.children: dict[str, list[str]] = defaultdict(list)
        for unit in data.units:
            if unit.parent_id:
                self.children[unit.parent_id].append(unit.id)
        self.employees, self.problems = unique_employees(data.employees)
        self.nips_in: dict[str, set[str]] = defaultdict(set)  # every record, quarantined ones included
        for emp in data.employees:
            self.nips_in[emp.unit_id].add(emp.nip)
        self.activities: dict[str, list[Activity]] = defaultdict(list)
        for act in data.activities:
            self.activities[act.nip].append(act)
        self.records = ActivityRecords.index(data)
        self.earned: dict[str, _Earned] = {}
        self._job_points: dict[tuple[str, str | None], Fraction] = {}  # (activity kind, position group) -> points
        self._month_of: dict[date, str] = {}

    def outcome(self) -> Outcome:
        self.measure()
        results = [self._result(self.earned[nip]) for nip in sorted(self.earned)]
        return Outcome(results=results, problems=list(self.problems))

    def measure(self) -> None:
        """Every employee's months: staff from their activities first, then eselon II heads from their subtrees."""
        eligible: list[tuple[Employee, str, int]] = []
        for emp in self.employees:
            opd = opd_of(self.units, emp.unit_id)
            if opd is None:
                self.problems.append(Problem(
                    record_kind="employee", record_id=emp.nip, nip=emp.nip, rule="unknown-unit",
                    message=f"employee {emp.nip}: unit {emp.unit_id!r} is unknown or has no OPD above it; "
                            "fix the unit in BKN and sync again"))
            elif emp.position_group not in self.settings.monthly_maximum:
                self.problems.append(Problem(
                    record_kind="employee", record_id=emp.nip, nip=emp.nip, rule="unknown-position-group",
                    message=f"employee {emp.nip}: position group {emp.position_group!r} has no monthly maximum in "
                            f"the tenant's settings (known: {', '.join(sorted(self.settings.monthly_maximum))}); "
                            "fix the position group in BKN or the settings"))
            else:
                eligible.append((emp, opd, self.settings.monthly_maximum[emp.position_group]))
        heads = []
        for emp, opd, maximum in eligible:
            earned = _Earned(emp, opd, maximum, head=self._is_sundulan_head(emp), inputs=[emp.nip])
            self.earned[emp.nip] = earned
            if earned.head:
                heads.append(earned)
            else:
                self._staff(earned)
        # deepest units first, so a head's mean can use the heads below them
        for earned in sorted(heads, key=lambda e: -self._depth(e.emp.unit_id)):
            self._sundulan(earned)

    def _is_sundulan_head(self, emp: Employee) -> bool:
        return _is_head(emp, self.settings)

    def _depth(self, unit_id: str) -> int:
        depth, seen, current = 0, set(), self.units.get(unit_id)
        while current is not None and current.parent_id and current.id not in seen:
            seen.add(current.id)
            depth += 1
            current = self.units.get(current.parent_id)
        return depth

    def _subtree(self, unit_id: str) -> set[str]:
        return _subtree(self.children, unit_id)

    def _in_window(self, entered: datetime) -> bool:
        at = entered.astimezone(WIB).time()
        start, end = self.settings.window_start, self.settings.window_end
        return (at >= start or at < end) if start > end else (start <= at < end)

    # staff: points from verified activities -------------------------------------------------------------------------
    def _staff(self, earned: _Earned) -> None:
        emp = earned.emp
        factor = Fraction(self.settings.position_factors[emp.position_group or ""])
        # Points per month, exact: whole numbers of points (the usual case) summed as integers, the rest as fractions.
        whole: dict[str, int] = defaultdict(int)
        split: dict[str, Fraction] = defaultdict(Fraction)
        counted: dict[str, list[str]] = defaultdict(list)
        refusals: list[ExplanationLine] = []
        first, last = self.period.first, self.period.last
        inputs = earned.inputs
        for act in sorted(self.activities.get(emp.nip, []), key=_by_day_and_id):
            day = act.day
            if not first <= day <= last:
                continue
            inputs.append(act.id)
            try:
                self._check_activity(emp, act, inputs)
            except Refusal as refusal:
                refusals.append(ExplanationLine(code=f"refused:{refusal.code}",
                                                text=f"activity {act.id} ({day}) refused: {refusal.text}",
                                                refs=(act.id, *refusal.refs)))
                continue
            job = self._job_points.get((act.kind, emp.position_group))
            if job is None:
                base = Fraction(self.settings.base_points.get(act.kind, self.settings.default_base_points))
                job = self._job_points[(act.kind, emp.position_group)] = base * factor
            month = self._month_of.get(day)
            if month is None:
                month = self._month_of[day] = f"{day.year:04d}-{day.month:02d}"
            if job.denominator == 1:
                whole[month] += job.numerator
            else:
                split[month] += job
            counted[month].append(act.id)
        points = {month: whole[month] + split[month] for month in self.months}
        value, maximum = self.settings.point_value_rupiah, earned.maximum
        for month in self.months:
            raw = points[month] * value
            amount = min(raw, Fraction(maximum))
            earned.months[month] = _Month(points[month], amount, amount / maximum)
            over = (f", over the monthly maximum {fmt.rupiah(maximum)} ({emp.position_group}): capped at "
                    f"{fmt.rupiah(maximum)}"
                    if raw > maximum else "")
            earned.lines.append(ExplanationLine(
                code="month", refs=tuple(counted[month]), rupiah=fraction_text(amount),
                text=f"{month}: {len(counted[month])} activities counted, {fmt.number(points[month])} points "
                     f"(position factor {fmt.number(factor)}) x {fmt.rupiah(value)} = {fmt.rupiah(raw)}{over}"))
        earned.lines.extend(refusals)

    def _check_activity(self, emp: Employee, act: Activity, inputs: list[str]) -> None:
        if not self._in_window(act.entered_at):
            raise Refusal("outside-window",
                          f"entered {act.entered_at.astimezone(WIB).isoformat()}, outside the input window "
                          f"{self.settings.window_start.isoformat()}-{self.settings.window_end.isoformat()} WIB")
        check_approval(emp, act, self.records, inputs)

    # eselon II heads: the mean attainment of their subtree ----------------------------------------------------------
    def _sundulan(self, earned: _Earned) -> None:
        emp = earned.emp
        own_unit = emp.unit_id
        members: list[_Earned] = []
        peers: set[str] = set()
        quarantined: set[str] = set()
        for unit_id in self._subtree(own_unit):
            for nip in self.nips_in.get(unit_id, set()) - {emp.nip}:
                found = self.earned.get(nip)
                if found is None:
                    quarantined.add(nip)
                elif found.head and unit_id == own_unit:
                    peers.add(nip)  # another eselon II of the same unit: each would depend on the other, left out
                else:
                    members.append(found)  # staff, or a head of a deeper unit, measured before this one
        members.sort(key=lambda e: e.emp.nip)
        notes = []
        if quarantined:
            notes.append(f"{len(quarantined)} quarantined employees left out")
        if peers:
            notes.append(f"{len(peers)} other eselon II employees of the same unit left out")
        note = f" ({'; '.join(notes)})" if notes else ""
        unit_name = self.units[own_unit].name
        refs = tuple(m.emp.nip for m in members)
        earned.inputs.extend(refs)
        for month in self.months:
            if not members:
                earned.months[month] = _Month(Fraction(0), Fraction(0), Fraction(0))
                earned.lines.append(ExplanationLine(
                    code="sundulan-no-employees", rupiah="0",
                    text=f"{month}: no employees in the subtree of {unit_name}{note}: an eselon II head's amount "
                         "follows their unit, so nothing is paid for the month"))
                continue
            mean = sum((m.months[month].attainment for m in members), Fraction(0)) / len(members)
            amount = earned.maximum * mean
            earned.months[month] = _Month(Fraction(0), amount, mean)
            earned.lines.append(ExplanationLine(
                code="sundulan", refs=refs, rupiah=fraction_text(amount),
                text=f"{month}: mean attainment {fmt.number(mean * 100)}% of {len(members)} employees in the subtree "
                     f"of {unit_name}{note} x monthly maximum {fmt.rupiah(earned.maximum)} ({emp.position_group}) = "
                     f"{fmt.rupiah(amount)}"))
        for act in sorted(self.activities.get(emp.nip, []), key=lambda a: (a.day, a.id)):
            if act.day in self.period:
                earned.inputs.append(act.id)
                earned.lines.append(ExplanationLine(
                    code="refused:sundulan-head", refs=(act.id,),
                    text=f"activity {act.id} ({act.day}) not counted: eselon II heads do not enter activities; "
                         "their amount follows their unit"))

    def _result(self, earned: _Earned) -> Result:
        emp = earned.emp
        exact = sum((m.amount for m in earned.months.values()), Fraction(0))
        amount = floor(exact)
        ceiling = earned.maximum * len(self.months)
        months = "the month" if len(self.months) == 1 else f"the {len(self.months)} monthly amounts"
        lines = [*earned.lines, ExplanationLine(
            code="total", rupiah=fraction_text(amount - exact),
            text=f"{self.data.period}: sum of {months}, each capped on its own, = {fmt.rupiah(exact)}, rounded down "
                 f"once to {fmt.rupiah(amount)}")]
        if amount == ceiling:
            status = ResultStatus.FULL
        elif amount > 0:
            status = ResultStatus.PARTIAL
        else:
            status = ResultStatus.NOTHING
        return Result(
            tenant=self.data.tenant, period=self.data.period, nip=emp.nip, opd_id=earned.opd, amount=amount,
            ceiling=ceiling, score=fraction_text(exact * 100 / ceiling), status=status, scheme=DkiScheme.name,
            settings_version=self.version, lines=tuple(lines), input_ids=tuple(dict.fromkeys(earned.inputs)),
            metrics={f"{kind}:{month}": fraction_text(getattr(m, kind)) for month, m in sorted(earned.months.items())
                     for kind in ("points", "attainment")})
