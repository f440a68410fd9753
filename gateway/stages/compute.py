"""Compute: the period under the tenant's scheme, whole or in parts; results, audit entries, holds, quarantine and
outbox rows in one transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError

from gateway import feed
from gateway.domain import ExplanationLine, Period, PeriodData, Problem, Result, TteConclusion
from gateway.domain.budget import BudgetLine
from gateway.domain.validation import supervisor_cycles
from gateway.errors import ConfigurationError, UnknownScheme
from gateway.feed import story
from gateway.feed import writer as feed_writer
from gateway.feed.events import BUDGET_WARNING
from gateway.mappings import compute_in_parts, get_scheme, plan_parts, supervisor_disagreements
from gateway.outbox import Destination, enqueue_audit_head, enqueue_payroll, ledger
from gateway.progress import Step
from gateway.reports_integrity import load_signals, signal_events
from gateway.stages._base import ComputeReport, Stage, StageContext
from gateway.store import audit
from gateway.store import holds as held_store
from gateway.store import repository as repo
from gateway.store.budget import budget_lines

log = structlog.get_logger("gateway.pipeline")

_SLICE = 2_000  # results written, audited and published at a time, inside the one transaction


class Compute(Stage):
    def __init__(self, ctx: StageContext, destinations: dict[str, Destination]) -> None:
        super().__init__(ctx)
        self.destinations = destinations

    def __call__(self, tenant: str, period: str) -> ComputeReport:
        config = self._tenant(tenant)
        scheme, scheme_settings = scheme_for(tenant, config.scheme, config.settings)
        run = PeriodRun(scheme, scheme_settings, tenant, period)
        with self.engine.connect() as conn:
            before = {r.nip: r for r in repo.load_results(conn, tenant, period)}
            run.prepare(conn, self.settings.compute_max_employees)

            # Each part's results, their audit entries, feed events and payroll rows commit together, part by
            # part (the parts are whole OPDs where the scheme splits, so an OPD's payroll batch is one part's).
            # What a run decides about the whole period (results withdrawn, holds, quarantine, closures) commits
            # only once every part has: a run killed between parts leaves the committed parts, which the next run
            # computes again to the same results (nothing audited, published or booked twice), and decides nothing
            # about the rest.
            now = self.clock()
            report = ComputeReport()
            produced: set[str] = set()
            publish = "feed" in self.destinations
            for computed in run.results(conn, self.progress):
                produced.update(r.nip for r in computed)
                report.results += len(computed)
                report.batches += self._write_part(conn, tenant, period, computed, before, now, publish)
                conn.commit()
                del computed
        problems = run.problems
        held = run.held()
        report.held = len(held)
        withdrawn = _withdrawn(before, produced, problems, kept=set(held))
        with self.engine.begin() as conn:  # what the run decided about the whole period, once every part is in
            repo.withdraw_results(conn, tenant, period, withdrawn, now)
            newly_held = held_store.replace(conn, tenant, period, held, now)
            gone = sorted(withdrawn.items())
            for start in range(0, len(gone), _SLICE):
                audit.append(conn, tenant, "gateway", "result.withdrawn", [
                    (nip, {"period": period, "amount": before[nip].amount, "reason": reason})
                    for nip, reason in gone[start:start + _SLICE]], now)
            newly = list(newly_held)
            for start in range(0, len(newly), _SLICE):
                audit.append(conn, tenant, "gateway", "result.held", [
                    (nip, {"period": period, "evidence": list(held[nip][0]), "reason": held[nip][1]})
                    for nip in newly[start:start + _SLICE]], now)
            still_open = repo.open_entries(conn, tenant, period, problems) if publish else {}
            report.quarantined = repo.add_quarantine(conn, tenant, period, problems, None, now)
            closed: list[dict[str, Any]] = []
            report.resolved = repo.resolve_absent(conn, tenant, period, problems, now, closed)
            if publish:
                after = repo.open_entries(conn, tenant, period, problems)
                story.quarantine(conn, tenant, period, [e for k, e in after.items() if k not in still_open], closed,
                                 now)
                # In rows of their own: the same candidates computed again make the same row, not a second one.
                feed_writer.publish(conn, tenant, period, _closure_events(run.candidates, tenant, period, now), now)
                # Evidence integrity signals (issue 18): to the feed only; they change no amount.
                if config.integrity.get("on_compute", True):
                    feed_writer.publish(conn, tenant, period, signal_events(
                        load_signals(conn, tenant, config, period), tenant, period, now), now)
            # Budget ceiling (issue 18): an OPD whose forecast for the year is above its pagu, on the feed.
            warnings = [b for b in budget_lines(conn, tenant, period, config.payment, config.pagu) if b.warning]
            for b in warnings:
                log.warning("compute.budget_warning", opd_id=b.opd_id, pagu=b.pagu,
                            forecast=b.forecast)
            if publish and warnings:
                feed_writer.publish(conn, tenant, period, _budget_events(warnings, tenant, now), now)
            spbe = self.destinations.get("spbe")
            if self._tenant(tenant).spbe_audit and spbe is not None and getattr(spbe, "serves", lambda _t: True)(
                    tenant):  # the chain's head, anchored at SPBE, after what this run appended
                enqueue_audit_head(conn, tenant, period, now)
        log.info("compute.done", results=report.results,
                 quarantined=report.quarantined, batches=len(report.batches), held=report.held)
        return report

    def _write_part(self, conn: Any, tenant: str, period: str, computed: list[Result], before: dict[str, Result],
                    now: datetime, publish: bool) -> list[str]:
        """One part's results, the audit entries and feed events of those that changed, and the payroll rows that
        bring payroll to them, on `conn` (committed by the caller). Written in slices (a multiple of the feed's
        500 events a row, so the rows are the same): what is built for the audit log and the feed is one slice's
        worth at a time."""
        for start in range(0, len(computed), _SLICE):
            repo.save_results(conn, computed[start:start + _SLICE], now)
        batches = enqueue_payroll(conn, tenant, period, computed, now)
        changed = [r for r in computed if before.get(r.nip) != r]
        for start in range(0, len(changed), _SLICE):
            part = changed[start:start + _SLICE]
            hashes = audit.append_hashed(conn, tenant, "gateway", "result.computed", [
                (r.nip, _audit_details(r, before.get(r.nip))) for r in part], now)
            if publish:
                # One fact followed across systems: the event names the payroll lines and the audit entry.
                lines = ledger.covering_lines(conn, tenant, period, [r.nip for r in part])
                feed_writer.publish(conn, tenant, period, [feed.event(
                    feed.RESULT_COMPUTED, tenant, r.nip, _audit_details(r, before.get(r.nip)) | {
                        "nip": r.nip, "opd_id": r.opd_id, "status": r.status.value,
                        "line_ids": lines.get(r.nip, []), "audit_hash": digest}, now,
                    f"{_audit_details(r, None)['explanation_sha256']}:{r.amount}")
                    for r, digest in zip(part, hashes, strict=True)], now)
        if publish:  # the differences this part asked of payroll, after the results that caused them
            story.adjustments(conn, tenant, period, batches, now)
        return batches


class PeriodRun:
    """The period computed from the stored inputs under `scheme_settings`, part by part, writing nothing: the one
    computation path of the compute stage and of `gateway whatif` (gateway/whatif.py).

    `prepare` reads what the whole period needs (releases, employees, supervisor cycles, the parts); `results`
    yields each part's results as the compute stage would store them (held employees set aside, released ones with
    their line); afterwards `problems`, `held()` and `candidates` are what the run decided about the whole period.
    """

    def __init__(self, scheme: Any, scheme_settings: Any, tenant: str, period: str) -> None:
        self.scheme, self.scheme_settings, self.tenant, self.period = scheme, scheme_settings, tenant, period
        self.inputs = getattr(scheme, "inputs", repo.INPUTS)
        self.reads_checks = reads_verdicts(scheme)  # a scheme that reads no verdicts (DKI) holds nobody for a document
        self.unit_report: Any = getattr(scheme, "unit_report", None)  # DKI's: closure candidates of a quarter
        self.closures = self.unit_report is not None and Period.parse(period).is_quarter
        self.waiting: dict[str, list[str]] = {}
        self.described: dict[str, str] = {}
        self.candidates: list[Any] = []
        self.noticed: list[Problem] = []  # SIASN's supervisor on the day differs from e-Kinerja's: for the operator
        self.holding: set[str] = set()
        self.computed_problems: list[Problem] = []
        self.cycles: list[Problem] = []
        self.looped: set[str] = set()
        self.groups: list[list[str]] | None = None
        self.staff = 0
        self.release: held_store.Release | None = None

    def prepare(self, conn: Any, max_employees: int | None) -> None:
        self.release = held_store.released(conn, self.tenant, self.period)
        employees = repo.staged(conn, self.tenant, "employee")
        self.cycles = supervisor_cycles(employees)  # quarantined here, for every scheme; the rest goes on
        self.looped = {p.record_id for p in self.cycles}
        # A period bigger than `compute_max_employees` is read and computed one part at a time (groups the
        # scheme says compute independently); the parts' outcome is the whole's (tests/test_compute_parts.py).
        self.groups = plan_parts(self.scheme, repo.staged(conn, self.tenant, "unit") if "unit" in self.inputs
                                 else [], [e for e in employees if e.nip not in self.looped], self.scheme_settings,
                                 max_employees)
        self.staff = len({e.nip for e in employees} - self.looped)

    def _parts(self, conn: Any, progress: Any) -> Iterator[PeriodData]:
        done = 0
        for part in repo.iter_period(conn, self.tenant, self.period, self.groups, kinds=self.inputs):
            if self.looped:
                part = part.model_copy(update={"employees": tuple(
                    e for e in part.employees if e.nip not in self.looped)})
            if self.reads_checks:
                self.waiting.update(_waiting_evidence(part))
                # Only the verdicts a hold can name: BKN or BSrE did not answer.
                self.described.update((c.evidence_id, c.tte_description) for c in part.checks
                                      if c.tte is TteConclusion.UNAVAILABLE)
            if self.closures:
                self.candidates.extend(self.unit_report(part, self.scheme_settings).candidates)
            self.noticed.extend(supervisor_disagreements(part))
            yield part
            done += len(part.employees)
            if progress is not None:
                progress(Step(self.tenant, "compute", done, self.staff, "employees", self.period))

    def _keep(self, result: Result) -> bool:
        # An outage holds: no result, no payroll line, what was paid stays as it was. The held employees'
        # results are set aside part by part as they are computed (a city with BSrE down holds most of it).
        if result.nip in self.waiting:
            self.holding.add(result.nip)
            return False
        return True

    def results(self, conn: Any, progress: Any = None) -> Iterator[list[Result]]:
        """Each part's results, in order (read on `conn`, which nothing here writes to)."""
        release = self.release
        for part in self._parts(conn, progress):
            outcome = compute_in_parts(self.scheme, iter((part,)), self.scheme_settings,
                                       keep=self._keep if release is None else None)
            del part
            self.computed_problems.extend(outcome.problems)
            computed = outcome.results if release is None else [  # released: unchecked evidence refused
                _released(r, self.waiting[r.nip], release) if r.nip in self.waiting else r for r in outcome.results]
            del outcome
            yield computed

    @property
    def problems(self) -> list[Problem]:
        return [*self.computed_problems, *self.cycles, *self.noticed]

    def held(self) -> dict[str, tuple[list[str], str]]:
        """NIP -> (the evidence waiting for a check, the hold's reason): the employees set aside (none once the
        period is released)."""
        if self.release is not None:
            return {}
        return {nip: (self.waiting[nip], _hold_reason(self.waiting[nip], self.described))
                for nip in sorted(self.holding)}


def scheme_for(tenant: str, scheme_name: str, settings: dict[str, Any]) -> tuple[Any, Any]:
    """The tenant's scheme and its settings validated by the scheme's own model; ConfigurationError if either
    fails."""
    try:
        scheme = get_scheme(scheme_name)
        return scheme, scheme.settings_model.model_validate(settings)
    except (UnknownScheme, ValidationError) as exc:
        raise ConfigurationError(f"tenant {tenant!r}: scheme {scheme_name!r} cannot run with its settings: "
                                 f"{exc}; fix the [tenants.{tenant}] section") from exc


def reads_verdicts(scheme: Any) -> bool:
    """Whether a scheme reads evidence verdicts (`check` among its `inputs`): only then does an unchecked document
    hold an employee, and only then is verification on the cycle's critical path."""
    return "check" in getattr(scheme, "inputs", repo.INPUTS)


def _budget_events(lines: list[BudgetLine], tenant: str, now: datetime) -> list[feed.CloudEvent]:
    """Budget warnings as feed events, by OPD; the same forecast computed again is the same event."""
    return [feed.event(BUDGET_WARNING, tenant, b.opd_id, {
        "period": b.period, "opd_id": b.opd_id, "pagu": b.pagu, "spent_before": b.spent_before,
        "this_period": b.this_period, "periods_left": len(b.later), "forecast": b.forecast,
        "remaining": b.remaining}, now, f"{b.pagu}:{b.spent_before}:{b.this_period}:{b.forecast}") for b in lines]


def _closure_events(candidates: list[Any], tenant: str, period: str, now: datetime) -> list[feed.CloudEvent]:
    """DKI: units whose mean attainment stayed below the threshold all quarter, as feed events, by unit id."""
    return [feed.event(feed.CLOSURE_CANDIDATE, tenant, c.unit_id, {
        "period": period, "unit_id": c.unit_id, "unit": c.unit_name,
        "mean_attainment": [str(m) for m in c.attainments], "threshold": str(c.threshold)}, now, period)
        for c in sorted(candidates, key=lambda c: c.unit_id)]


def _waiting_evidence(data: PeriodData) -> dict[str, list[str]]:
    """NIP -> the ids of the employee's evidence whose check has not concluded: BKN or BSrE did not answer
    (UNAVAILABLE) or it was never checked."""
    checks = {c.evidence_id: c.tte for c in data.checks}
    owner = {a.id: a.nip for a in data.activities}
    waiting: dict[str, list[str]] = {}
    for ev in data.evidence:
        nip = owner.get(ev.activity_id)
        if nip is not None and checks.get(ev.id, TteConclusion.UNAVAILABLE) is TteConclusion.UNAVAILABLE:
            waiting.setdefault(nip, []).append(ev.id)
    return waiting


def _hold_reason(evidence_ids: list[str], described: dict[str, str]) -> str:
    first = evidence_ids[0]
    why = described.get(first) or "not checked yet"
    more = f" (and {len(evidence_ids) - 1} more)" if len(evidence_ids) > 1 else ""
    return f"verification pending: evidence {first}{more}: {why}"


def _released(result: Result, evidence_ids: list[str], release: held_store.Release) -> Result:
    shown = ", ".join(evidence_ids[:10]) + (f" and {len(evidence_ids) - 10} more" if len(evidence_ids) > 10 else "")
    line = ExplanationLine(code="released", refs=tuple(evidence_ids), text=(
        f"period released by {release.actor} on {release.released_at:%Y-%m-%d} ({release.reason}): evidence "
        f"{shown} could not be checked and counts as refused; a later valid check pays the arrears"))
    return result.model_copy(update={"lines": (*result.lines, line)})


def _withdrawn(before: dict[str, Result], computed: Collection[str], problems: list[Problem], *,
               kept: Collection[str] = ()) -> dict[str, str]:
    """Stored results the latest computation no longer produces (`computed`: the NIPs it produced), each with the
    reason it gives (the problems that name the employee), so that they stop being current. Held employees
    (`kept`) keep theirs."""
    produced = set(computed) | set(kept)
    why: dict[str, list[str]] = {}
    for p in problems:
        nip = p.nip or (p.record_id[:18] if p.record_id[:18].isdigit() else None)
        if nip in before and nip not in produced:
            why.setdefault(nip, []).append(f"{p.rule}: {p.message}")
    return {nip: "; ".join(why.get(nip, [])) or "not in the period's data any more (left the tenant or the OPD "
                                                "list)" for nip in before if nip not in produced}


def _audit_details(result: Result, previous: Result | None) -> dict[str, Any]:
    lines = json.dumps([line.model_dump(mode="json") for line in result.lines], sort_keys=True)
    return {"period": result.period, "amount": result.amount, "score": result.score, "scheme": result.scheme,
            "settings_version": result.settings_version,
            "explanation_sha256": hashlib.sha256(lines.encode()).hexdigest(),
            "previous_amount": previous.amount if previous else None}


