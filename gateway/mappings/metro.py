"""Kota Metro: monthly KPIs, paid only for verified results (scheme `metro`, docs/schemes.md).

Allowance = floor(ceiling[kelas] x S / 100), S = sum of weight x min(R / T, cap) over the month's indicators.
An activity counts only when approved by the direct supervisor and every evidence item has a valid TTE, a hash that
matches the one recorded at upload, and an upload within the SLA in working days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import Any, ClassVar

from pydantic import Field, field_validator

from gateway.domain import (
    Activity,
    Employee,
    ExplanationLine,
    Indicator,
    Period,
    PeriodData,
    Problem,
    Result,
    ResultStatus,
    WorkingDayCalendar,
    fmt,
)
from gateway.mappings._base import Outcome, SchemeSettings, fraction_text, merge_by_nip, opd_of, pack_groups
from gateway.mappings._checks import (
    ActivityRecords,
    Refusal,
    check_approval,
    check_evidence_items,
    every_refusal,
    plan_problem,
)

# Shipped default ceilings per kelas jabatan (rupiah/month); a city replaces them with its Perwali's table.
DEFAULT_CEILINGS: dict[int, int] = {
    1: 1_750_000, 2: 1_900_000, 3: 2_050_000, 4: 2_250_000, 5: 2_450_000, 6: 2_700_000,
    7: 3_000_000, 8: 3_400_000, 9: 3_900_000, 10: 4_500_000, 11: 5_250_000, 12: 6_200_000,
    13: 7_400_000, 14: 8_900_000, 15: 10_800_000, 16: 13_200_000, 17: 16_000_000,
}


class MetroSettings(SchemeSettings):
    ceilings: dict[int, int] = Field(default_factory=lambda: dict(DEFAULT_CEILINGS))
    evidence_sla_working_days: int = Field(default=3, ge=1)
    cap: Decimal = Field(default=Decimal(1), gt=0)
    min_score: Decimal = Field(default=Decimal(0), ge=0, le=100)
    require_tte: bool = True
    extra_holidays: tuple[date, ...] = ()

    @field_validator("ceilings")
    @classmethod
    def _ceilings_are_rupiah(cls, value: dict[int, int]) -> dict[int, int]:
        for kelas, amount in value.items():
            if not 1 <= kelas <= 17 or amount < 0:
                raise ValueError(f"ceiling for kelas {kelas} = {amount}: kelas must be 1-17 and amount >= 0")
        return value


def _by_day_and_id(act: Activity) -> tuple[date, str]:
    return act.day, act.id


class MetroScheme:
    name: ClassVar[str] = "metro"
    settings_model: ClassVar[type[SchemeSettings]] = MetroSettings
    inputs: ClassVar[frozenset[str]] = frozenset(
        {"unit", "employee", "indicator", "activity", "evidence", "approval", "check", "position"})

    def compute(self, data: PeriodData, settings: MetroSettings) -> Outcome:
        return _Computation(data, settings).run()

    def partition(self, units: Sequence[Any], employees: Sequence[Employee], settings: MetroSettings,
                  max_employees: int) -> list[list[str]]:
        """Each employee's result depends on their own records only, so any grouping computes the same; the parts
        are whole OPDs (in OPD id order, NIPs in order inside), so that each OPD's payroll batch is one part's. An
        OPD bigger than `max_employees` is a part of its own; employees under no OPD go together, last."""
        by_id = {u.id: u for u in units}
        by_opd: dict[str, list[str]] = defaultdict(list)
        for nip, unit_id in sorted({e.nip: e.unit_id for e in reversed(employees)}.items()):  # a NIP's first record
            by_opd[opd_of(by_id, unit_id) or "~"].append(nip)
        return pack_groups([by_opd[opd] for opd in sorted(by_opd)], max_employees)

    def compute_parts(self, parts: Iterable[PeriodData], settings: MetroSettings,
                      keep: Callable[[Result], bool] | None = None) -> Outcome:
        outcomes = []
        for part in parts:
            outcome = self.compute(part, settings)
            if keep is not None:  # dropped now, part by part, not after the whole city
                outcome = Outcome([r for r in outcome.results if keep(r)], outcome.problems)
            outcomes.append(outcome)
            del part, outcome  # before the next part is read
        return merge_by_nip(outcomes)


class _Computation:
    def __init__(self, data: PeriodData, settings: MetroSettings) -> None:
        self.data, self.settings = data, settings
        self.calendar = WorkingDayCalendar(settings.extra_holidays)
        self.period = Period.parse(data.period)
        self.version = settings.version()
        self.units = {u.id: u for u in data.units}
        self.indicators: dict[str, list[Indicator]] = defaultdict(list)
        for ind in data.indicators:
            if ind.period == data.period:
                self.indicators[ind.nip].append(ind)
        self.activities: dict[str, list[Activity]] = defaultdict(list)
        for act in data.activities:
            self.activities[act.nip].append(act)
        self.records = ActivityRecords.index(data)
        self._fractions: dict[Decimal, Fraction] = {}  # quantities, targets and weights, exact
        self._deadlines: dict[date, datetime] = {}  # evidence deadline per activity day
        self._cap = Fraction(settings.cap)

    def _fraction(self, value: Decimal) -> Fraction:
        found = self._fractions.get(value)
        if found is None:
            found = self._fractions[value] = Fraction(value)
        return found

    def run(self) -> Outcome:
        outcome = Outcome()
        for emp in sorted(self.data.employees, key=lambda e: e.nip):
            opd = opd_of(self.units, emp.unit_id)
            if opd is None:
                outcome.problems.append(Problem(
                    record_kind="employee", record_id=emp.nip, nip=emp.nip, rule="unknown-unit",
                    message=f"employee {emp.nip}: unit {emp.unit_id!r} is unknown or has no OPD above it; "
                            "fix the unit in BKN and sync again"))
                continue
            if emp.kelas_jabatan not in self.settings.ceilings:
                outcome.problems.append(Problem(
                    record_kind="employee", record_id=emp.nip, nip=emp.nip, rule="no-ceiling",
                    message=f"employee {emp.nip}: no ceiling for kelas jabatan {emp.kelas_jabatan} in the "
                            "tenant's settings"))
                continue
            problem = plan_problem(emp, self.indicators.get(emp.nip, []), self.data.period)
            if problem:
                outcome.problems.append(problem)
                continue
            outcome.results.append(self._employee(emp, opd))
        return outcome

    def _employee(self, emp: Employee, opd: str) -> Result:
        ceiling = self.settings.ceilings[emp.kelas_jabatan]
        inds = sorted(self.indicators.get(emp.nip, []), key=lambda i: i.id)
        lines: list[ExplanationLine] = []
        inputs: list[str] = [emp.nip]
        if not inds:
            lines.append(ExplanationLine(code="no-plan", text="no KPI plan for the month: nothing is paid",
                                         rupiah="0"))
            return self._result(emp, opd, ceiling, Fraction(0), 0, lines, inputs, {"indicators": "0"})

        by_indicator = {i.id: i for i in inds}
        # Realised quantities, exact: whole numbers (the usual case) summed as integers, the rest as fractions.
        whole: dict[str, int] = defaultdict(int)
        split: dict[str, Fraction] = defaultdict(Fraction)
        counted: dict[str, list[str]] = defaultdict(list)
        refusals: list[ExplanationLine] = []
        first, last = self.period.first, self.period.last
        for act in sorted(self.activities.get(emp.nip, []), key=_by_day_and_id):
            if not first <= act.day <= last:
                continue
            inputs.append(act.id)
            try:
                if act.indicator_id not in by_indicator:
                    raise Refusal("unknown-indicator",
                                  f"indicator {act.indicator_id} is not in the month's KPI plan")
                self._check_activity(emp, act, inputs)
            except Refusal as refusal:
                refusals.append(ExplanationLine(code=f"refused:{refusal.code}",
                                                text=f"activity {act.id} ({act.day}) refused: {refusal.text}",
                                                refs=(act.id, *refusal.refs)))
                continue
            quantity = self._fraction(act.quantity)
            if quantity.denominator == 1:
                whole[act.indicator_id] += quantity.numerator
            else:
                split[act.indicator_id] += quantity
            counted[act.indicator_id].append(act.id)
        realised = {i.id: whole[i.id] + split[i.id] for i in inds}

        cap, as_fraction = self._cap, self._fraction
        score = Fraction(0)
        metrics = {"indicators": str(len(inds)),
                   "indicators_met": str(sum(1 for i in inds if realised[i.id] >= as_fraction(i.target)))}
        for ind in inds:
            inputs.append(ind.id)
            r, t, w = realised[ind.id], as_fraction(ind.target), as_fraction(ind.weight)
            ratio = r / t
            achievement = min(ratio, cap)
            points = w * achievement
            score += points
            capped = " (capped)" if ratio > cap else ""
            lines.append(ExplanationLine(
                code="indicator",
                text=f"{ind.id} {ind.name}: realised {fmt.number(r)} of target {fmt.number(t)} -> "
                     f"achievement {fmt.number(achievement)}{capped} x weight {fmt.number(w)}% = "
                     f"{fmt.number(points)} points; {len(counted[ind.id])} activities counted",
                refs=(ind.id, *counted[ind.id]),
                rupiah=fraction_text(ceiling * points / 100)))
        lines.extend(refusals)
        exact = ceiling * score / 100
        if score < Fraction(self.settings.min_score):
            lines.append(ExplanationLine(
                code="below-min-score",
                text=f"score {fmt.score(score)} is below the minimum {fmt.number(self.settings.min_score)}: nothing is "
                     "paid",
                rupiah=fraction_text(-exact)))
            return self._result(emp, opd, ceiling, score, 0, lines, inputs, metrics)
        amount = floor(exact)
        lines.append(ExplanationLine(
            code="total",
            text=f"score {fmt.score(score)} of 100 x ceiling {fmt.rupiah(ceiling)} (kelas {emp.kelas_jabatan}) = "
                 f"{fmt.rupiah(exact)}, rounded down once to {fmt.rupiah(amount)}",
            rupiah=fraction_text(amount - exact)))
        return self._result(emp, opd, ceiling, score, amount, lines, inputs, metrics)

    def _check_activity(self, emp: Employee, act: Activity, inputs: list[str]) -> None:
        every_refusal(lambda: check_approval(emp, act, self.records, inputs),
                      lambda: self._check_evidence(act, inputs))

    def _check_evidence(self, act: Activity, inputs: list[str]) -> None:
        items = self.records.evidence_of(act.id)
        if not items:
            raise Refusal("no-evidence", "no evidence attached")
        deadline = self._deadlines.get(act.day)
        if deadline is None:
            deadline = self._deadlines[act.day] = self.calendar.deadline(act.day,
                                                                         self.settings.evidence_sla_working_days)
        check_evidence_items(act, items, self.records.checks, deadline=deadline,
                             sla_days=self.settings.evidence_sla_working_days,
                             require_tte=self.settings.require_tte, inputs=inputs)

    def _result(self, emp: Employee, opd: str, ceiling: int, score: Fraction, amount: int,
                lines: list[ExplanationLine], inputs: list[str], metrics: dict[str, str]) -> Result:
        if amount == ceiling and ceiling > 0:
            status = ResultStatus.FULL
        elif amount > 0:
            status = ResultStatus.PARTIAL
        else:
            status = ResultStatus.NOTHING
        return Result(
            tenant=self.data.tenant, period=self.data.period, nip=emp.nip, opd_id=opd, amount=amount,
            ceiling=ceiling, score=fraction_text(score), status=status, scheme=MetroScheme.name,
            settings_version=self.version, lines=tuple(lines), input_ids=tuple(dict.fromkeys(inputs)),
            metrics=metrics)
