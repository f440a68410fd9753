"""Checks several schemes share: approval by the direct supervisor, evidence integrity and upload SLA, a plan's weights.

A failed activity check raises `Refusal`; the scheme turns it into a `refused:<code>` explanation line. Every check
appends the ids of the records it looked at to `inputs`, so a result names what it used even for refused work.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from gateway.domain import (
    Activity,
    Approval,
    Employee,
    Evidence,
    EvidenceCheck,
    Indicator,
    Period,
    PeriodData,
    Problem,
    TteConclusion,
)
from gateway.domain.errors import RuleRefusal
from gateway.domain.org import OrgChart, chart_of


class Refusal(RuleRefusal):
    """An activity that does not count, with the rule it broke (`code`) and the records involved."""

    def __init__(self, code: str, text: str, refs: tuple[str, ...] = ()) -> None:
        super().__init__(text)
        self.code, self.text, self.refs = code, text, refs


def every_refusal(*checks: Callable[[], None]) -> None:
    """Run every check of an activity, not only up to the first that fails: one Refusal naming them all (its code is
    the first failure's, so the explanation's `refused:<code>` says the first rule broken; its text lists each).

    Only each refusal's code, text and refs are kept, never the exception: a caught exception holds its traceback,
    whose frames hold the computation, and with cyclic GC paused during compute that cycle would keep every part
    in memory (measured: 4.7 GB for a Metro month at 65,000 employees)."""
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for check in checks:
        try:
            check()
        except Refusal as refusal:
            found.append((refusal.code, refusal.text, refusal.refs))
    if len(found) == 1:
        raise Refusal(*found[0])
    if found:
        raise Refusal(found[0][0], "; ".join(f"{text} [{code}]" for code, text, _refs in found),
                      tuple(dict.fromkeys(ref for _c, _t, refs in found for ref in refs)))


@dataclass(frozen=True)
class ActivityRecords:
    """The period's evidence and approvals by activity id, verification verdicts by evidence id, and the org chart
    the approvals are judged by (SIASN's position history; empty: e-Kinerja's supervisor throughout)."""

    evidence: dict[str, list[Evidence]]
    approvals: dict[str, list[Approval]]
    checks: dict[str, EvidenceCheck]
    chart: OrgChart = field(default_factory=lambda: OrgChart(()))
    period_end: date = date.max

    @classmethod
    def index(cls, data: PeriodData) -> ActivityRecords:
        evidence: defaultdict[str, list[Evidence]] = defaultdict(list)
        for ev in data.evidence:
            evidence[ev.activity_id].append(ev)
        approvals: defaultdict[str, list[Approval]] = defaultdict(list)
        for ap in data.approvals:
            approvals[ap.activity_id].append(ap)
        for items in evidence.values():
            if len(items) > 1:  # most activities have one item: nothing to sort
                items.sort(key=lambda e: e.id)
        for decisions in approvals.values():
            if len(decisions) > 1:
                decisions.sort(key=lambda a: (a.decided_at, a.id))
        evidence.default_factory = approvals.default_factory = None  # plain dicts from here on, without a copy
        return cls(evidence, approvals, {c.evidence_id: c for c in data.checks}, chart_of(data.positions),
                   Period.parse(data.period).last)

    def evidence_of(self, activity_id: str) -> list[Evidence]:
        return self.evidence.get(activity_id, [])

    def approvals_of(self, activity_id: str) -> list[Approval]:
        return self.approvals.get(activity_id, [])


def check_approval(emp: Employee, act: Activity, records: ActivityRecords, inputs: list[str]) -> None:
    """The latest decision of the employee's direct supervisor (atasan langsung) on the activity's day must be an
    approval: the one SIASN's position history has in the post that day, else the one e-Kinerja names."""
    approvals = records.approvals_of(act.id)
    on_the_day = records.chart.supervisor_on(emp, act.day, records.period_end) if records.chart else None
    supervisor = on_the_day.nip if on_the_day else emp.supervisor_nip
    latest = None  # the supervisor's latest decision (approvals come in decision order)
    for a in approvals:
        inputs.append(a.id)
        if a.approver_nip == supervisor:
            latest = a
    if not approvals:
        raise Refusal("not-approved", "no approval recorded")
    if latest is None:
        others = ", ".join(sorted({a.approver_nip for a in approvals}))
        when = f" on {act.day:%d-%m-%Y}" if on_the_day and on_the_day.source == "siasn" else ""
        why = f"; {on_the_day.why}" if on_the_day and on_the_day.why else ""
        raise Refusal("wrong-approver",
                      f"approved by {others}, who is not the direct supervisor{when} "
                      f"({supervisor or 'none on record'}{why})", tuple(a.id for a in approvals))
    if not latest.approved:
        raise Refusal("rejected", "rejected by the direct supervisor", (latest.id,))


def check_evidence_items(act: Activity, items: Sequence[Evidence], checks: dict[str, EvidenceCheck], *,
                         deadline: datetime, sla_days: int, require_tte: bool, inputs: list[str]) -> None:
    """Every item: fetched, hash unchanged since upload, a valid TTE where required, uploaded by `deadline`."""
    for ev in items:
        inputs.append(ev.id)
        check = checks.get(ev.id)
        if check is None or check.actual_sha256 is None:
            raise Refusal("evidence-unavailable", f"evidence {ev.id} could not be fetched for checking", (ev.id,))
        if check.actual_sha256 != ev.sha256:
            raise Refusal("hash-mismatch",
                          f"evidence {ev.id}: document hash {check.actual_sha256[:12]}... differs from the "
                          f"hash recorded at upload {ev.sha256[:12]}...", (ev.id,))
        if require_tte and check.tte is not TteConclusion.VALID:
            detail = f" ({check.tte_description})" if check.tte_description else ""
            raise Refusal("tte-invalid", f"evidence {ev.id}: TTE is {check.tte.value}{detail}", (ev.id,))
        if ev.uploaded_at > deadline:
            raise Refusal(
                "late-evidence",
                f"evidence {ev.id} uploaded {ev.uploaded_at.isoformat()}, after the deadline "
                f"{deadline.isoformat()} ({sla_days} working days after {act.day})", (ev.id,))


def unique_employees(employees: Sequence[Employee]) -> tuple[list[Employee], list[Problem]]:
    """Employees by NIP, sorted; a NIP that comes with different records is quarantined rather than paid twice."""
    by_nip: dict[str, list[Employee]] = defaultdict(list)
    for emp in employees:
        if emp not in by_nip[emp.nip]:
            by_nip[emp.nip].append(emp)
    kept, problems = [], []
    for nip in sorted(by_nip):
        records = by_nip[nip]
        if len(records) == 1:
            kept.append(records[0])
        else:
            problems.append(Problem(
                record_kind="employee", record_id=nip, nip=nip, rule="duplicate-id",
                message=f"employee {nip} comes as {len(records)} different records (units "
                        f"{', '.join(sorted({e.unit_id for e in records}))}); nothing is computed for them until "
                        "BKN holds one"))
    return kept, problems


def plan_problem(emp: Employee, inds: Sequence[Indicator], period: str) -> Problem | None:
    """A month's KPI plan whose weights do not sum to 100, or with a target <= 0 or a negative weight."""
    if not inds:
        return None
    total = sum((i.weight for i in inds), Decimal(0))
    ids = ", ".join(i.id for i in inds)
    if total != 100:
        return Problem(
            record_kind="plan", record_id=f"{emp.nip}/{period}", nip=emp.nip, rule="weights-sum-100",
            message=f"KPI plan of {emp.nip} for {period}: indicator weights ({ids}) sum to "
                    f"{total}, not 100; the month is quarantined until the plan is corrected in e-Kinerja")
    for ind in inds:
        if ind.target <= 0 or ind.weight < 0:
            return Problem(
                record_kind="indicator", record_id=ind.id, nip=emp.nip, rule="target-positive",
                message=f"indicator {ind.id} of {emp.nip}: target {ind.target} and weight {ind.weight} must "
                        "be positive; the month is quarantined until the plan is corrected")
    return None


def supervisor_disagreements(data: PeriodData) -> list[Problem]:
    """Employees for whom SIASN's position history names another direct supervisor than e-Kinerja on days they
    logged approved work: one entry each, for the operator (the history's supervisor is the one the approvals
    were judged by; nothing is withheld)."""
    chart = chart_of(data.positions)
    if not chart:
        return []
    end = Period.parse(data.period).last
    days: dict[str, set[date]] = {}
    for act in data.activities:
        days.setdefault(act.nip, set()).add(act.day)
    problems = []
    for emp in sorted(data.employees, key=lambda e: e.nip):
        differ: dict[str, list[date]] = {}
        for day in sorted(days.get(emp.nip, ())):
            found = chart.supervisor_on(emp, day, end)
            if found.source == "siasn" and found.nip != emp.supervisor_nip:
                differ.setdefault(found.nip or "", []).append(day)
        if differ:
            said = "; ".join(f"{nip} on {_days(d)}" for nip, d in differ.items())
            problems.append(Problem(
                record_kind="supervisor", record_id=f"{emp.nip}/{data.period}", nip=emp.nip,
                rule="supervisor-on-the-day",
                message=f"e-Kinerja names {emp.supervisor_nip or 'nobody'} as the direct supervisor of {emp.nip}; "
                        f"SIASN's position history has {said}; the history wins, approvals on those days are "
                        "judged by it (correct e-Kinerja or SIASN if either is wrong)"))
    return problems


def _days(days: list[date]) -> str:
    first, last = days[0], days[-1]
    span = f"{first:%d-%m-%Y}" if first == last else f"{first:%d-%m-%Y}..{last:%d-%m-%Y}"
    return f"{span} ({len(days)} activity day{'s' if len(days) > 1 else ''})"
