"""The cycle: pull -> verify -> compute (results + outbox in one transaction) -> relay.

The pipeline wires the layers together; it owns transactions, cursors and the quarantine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import Engine, select

from gateway import feed
from gateway.connectors import BknClient, HrClient, Page, TteClient, streams
from gateway.connectors.pekalongan import PekalonganClient
from gateway.domain import EvidenceCheck, ExplanationLine, Period, PeriodData, Problem, Result, TteConclusion
from gateway.domain.validation import supervisor_cycles
from gateway.errors import ConfigurationError, UpstreamError
from gateway.mappings import compute_in_parts, get_scheme, plan_parts
from gateway.outbox import (
    Destination,
    Relay,
    RelayReport,
    enqueue_events,
    enqueue_payroll,
    enqueue_verdicts,
    verdict,
)
from gateway.progress import Reporter, Step, log_progress
from gateway.settings import Settings
from gateway.store import audit
from gateway.store import holds as held_store
from gateway.store import repository as repo
from gateway.store.repository import StageCount
from gateway.store.tables import evidence_checks, records

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]

RECHECKED = (TteConclusion.UNCHECKED.value, TteConclusion.UNAVAILABLE.value)  # asked again on every verify


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SyncReport:
    staged: dict[str, StageCount] = field(default_factory=dict)
    quarantined: int = 0


@dataclass
class VerifyReport:
    checked: int = 0
    tte_not_valid: int = 0
    unavailable: int = 0
    reused: int = 0  # verdicts taken from an earlier check of the same bytes, BSrE not asked

    def count(self, check: EvidenceCheck, reused: bool) -> None:
        self.checked += 1
        if check.tte in RECHECKED:
            self.unavailable += 1
        elif check.tte is not TteConclusion.VALID:
            self.tte_not_valid += 1
        self.reused += reused


@dataclass
class ComputeReport:
    results: int = 0
    quarantined: int = 0
    batches: list[str] = field(default_factory=list)
    held: int = 0  # employees held back: evidence BKN or BSrE could not check yet


@dataclass
class CycleReport:
    sync: SyncReport
    verify: VerifyReport
    compute: ComputeReport
    relay: RelayReport


class Pipeline:
    def __init__(self, engine: Engine, settings: Settings, bkn: BknClient, tte: TteClient,
                 destinations: dict[str, Destination], clock: Clock = utc_now,
                 pekalongan: PekalonganClient | None = None, hr: HrClient | None = None,
                 progress: Reporter = log_progress) -> None:
        self.engine, self.settings, self.bkn, self.tte = engine, settings, bkn, tte
        self.destinations, self.clock, self.pekalongan, self.hr = destinations, clock, pekalongan, hr
        self.progress = progress  # told after each committed page, chunk, part or relay pass

    @property
    def clients(self) -> dict[str, Any]:
        """Who serves each declared stream's `upstream` (the clients set up now)."""
        found: dict[str, Any] = {"ekinerja": self.bkn}
        if self.pekalongan is not None:
            found.update(eseksama=self.pekalongan, presensi=self.pekalongan)
        if self.hr is not None:
            found["hr"] = self.hr
        return found

    def _tenant(self, tenant: str) -> Any:
        config = self.settings.tenants.get(tenant)
        if config is None:
            raise ConfigurationError(f"tenant {tenant!r} is not configured; known: "
                                     f"{', '.join(self.settings.tenant_names) or 'none'}")
        return config

    # pull ---------------------------------------------------------------------------------------------------
    def sync(self, tenant: str, period: str) -> SyncReport:
        """Pull everything the period needs; a quarter is pulled month by month."""
        problem = self._tenant(tenant).endpoints_problem(tenant)
        if problem is not None:
            raise ConfigurationError(problem)
        report = SyncReport()
        self._sync_reference(tenant, report)
        for month in Period.parse(period).months():
            self._sync_month(tenant, month, report)
        return report

    def _streams(self, tenant: str, *, per_period: bool) -> list[streams.Stream]:
        """The declared streams the tenant's settings enable, each with a client set up to serve it."""
        enabled = streams.enabled(self._tenant(tenant).sources, per_period=per_period)
        for stream in enabled:
            if stream.upstream not in self.clients:
                raise ConfigurationError(
                    f"tenant {tenant!r} pulls the {stream.upstream} listing {stream.name!r} (sources: "
                    f"\"{stream.source}\") but no {stream.upstream} client is set up; {stream.needs} or take "
                    f"\"{stream.source}\" out of its sources")
        return enabled

    def _sync_reference(self, tenant: str, report: SyncReport) -> None:
        """Units (SIASN) and the declared streams not tied to a period (employees, bank accounts, ...)."""
        reference = self._streams(tenant, per_period=False)
        self._streams(tenant, per_period=True)  # a stream with no client is said before anything is pulled
        units, problems = self.bkn.units()
        with self.engine.begin() as conn:
            report.staged["unit"] = repo.stage(conn, tenant, "unit", units, None, self.clock())
            report.quarantined += repo.add_quarantine(conn, tenant, None, problems, None, self.clock())
        for stream in reference:
            self._sync_stream(tenant, stream, None, report)

    def _sync_month(self, tenant: str, month: str, report: SyncReport) -> None:
        for stream in self._streams(tenant, per_period=True):
            self._sync_stream(tenant, stream, month, report)

    def _sync_stream(self, tenant: str, stream: streams.Stream, month: str | None, report: SyncReport) -> None:
        """One declared listing, from its saved cursor where it has one; each page is de-duplicated, staged and
        moves the cursor in one transaction."""
        cursor_name = None
        if stream.cursor_field is not None:
            cursor_name = stream.cursor_name + (f".{month}" if month else "")
        cursor = None
        if cursor_name is not None:
            with self.engine.connect() as conn:
                cursor = repo.get_cursor(conn, tenant, cursor_name)
        seen: dict[str, tuple[str, str]] = {}
        count = report.staged.setdefault(stream.kind, StageCount())
        for page in self.clients[stream.upstream].pages(stream, month, cursor):
            kept, page_problems = _drop_duplicates(stream, repo.encode(page.records), page.stamps, seen)
            self._stage_page(tenant, stream.kind, month, page, kept, page_problems, report, count, cursor_name)
            self.progress(Step(tenant, "sync", page.read, max(page.total, page.read) or None, "records",
                               f"{stream.name} {month}" if month else stream.name))
        log.info("sync.stream", tenant=tenant, stream=stream.name, period=month, new=count.new,
                 changed=count.changed)

    def _stage_page(self, tenant: str, kind: str, period: str | None, page: Page, kept: repo.Encoded,
                    extra_problems: list[Problem], report: SyncReport, count: StageCount,
                    cursor_name: str | None) -> None:
        """Stage one page, quarantine its bad records and move the cursor, in one transaction."""
        with self.engine.begin() as conn:
            staged = repo.stage(conn, tenant, kind, kept, period, self.clock())
            report.quarantined += repo.add_quarantine(conn, tenant, period, page.problems + extra_problems,
                                                      page.raw, self.clock())
            if cursor_name and page.cursor:
                repo.set_cursor(conn, tenant, cursor_name, page.cursor, self.clock())
        count.new += staged.new
        count.changed += staged.changed
        count.unchanged += staged.unchanged

    # verify -------------------------------------------------------------------------------------------------
    def verify(self, tenant: str, period: str, chunk: int = 200) -> VerifyReport:
        """Fetch each evidence document not yet checked, hash it and ask BSrE about its signature."""
        report = VerifyReport()
        for month in Period.parse(period).months():
            self._verify_month(tenant, month, chunk, report)
        return report

    def _verify_month(self, tenant: str, period: str, chunk: int, report: VerifyReport) -> None:
        with self.engine.connect() as conn:
            done = {eid for (eid,) in conn.execute(select(evidence_checks.c.evidence_id).where(
                evidence_checks.c.tenant == tenant, evidence_checks.c.period == period,
                evidence_checks.c.tte.not_in(RECHECKED)))}
            todo = [eid for (eid,) in conn.execute(select(records.c.id).where(
                records.c.tenant == tenant, records.c.kind == "evidence", records.c.period == period)
                .order_by(records.c.id)) if eid not in done]
            # Verdicts already given for the same bytes (any period of this tenant): BSrE is not asked again.
            known = {digest: (TteConclusion(tte), description) for digest, tte, description in conn.execute(
                select(evidence_checks.c.actual_sha256, evidence_checks.c.tte, evidence_checks.c.tte_description)
                .where(evidence_checks.c.tenant == tenant, evidence_checks.c.actual_sha256.is_not(None),
                       evidence_checks.c.tte.not_in(RECHECKED)))} if todo else {}
        if not todo:
            return
        audit = self._tenant(tenant).spbe_audit and "spbe" in self.destinations
        workers = max(1, min(self.settings.verify_concurrency, len(todo)))
        log.info("verify.start", tenant=tenant, period=period, documents=len(todo), workers=workers,
                 known_verdicts=len(known))
        # Documents are fetched and checked `workers` at a time; each chunk commits before the next starts, so a
        # killed verify loses at most the chunk in flight and picks up from what is committed.
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"verify-{tenant}") as pool:
            for start in range(0, len(todo), chunk):
                outcomes = list(pool.map(lambda eid: self._check(eid, known), todo[start:start + chunk]))
                pending = [check for check, _ in outcomes]
                for check, reused in outcomes:
                    report.count(check, reused)
                now = self.clock()
                with self.engine.begin() as conn:  # checks and their audit-trail rows commit together
                    repo.save_checks(conn, tenant, period, pending, now)
                    if audit:  # the chunk's evidence only: a DKI month has 1.4 million items
                        evidence = repo.staged_by_id(conn, tenant, "evidence", [c.evidence_id for c in pending])
                        enqueue_verdicts(conn, tenant, period, [
                            verdict(tenant, period, evidence[c.evidence_id], c, now) for c in pending
                            if c.evidence_id in evidence], now)
                self.progress(Step(tenant, "verify", start + len(pending), len(todo), "documents", period))

    def _check(self, evidence_id: str,
               known: dict[str, tuple[TteConclusion, str]]) -> tuple[EvidenceCheck, bool]:
        """One document: fetch, hash, and BSrE's verdict or the one stored for the same bytes (then True)."""
        try:
            document = self.bkn.document(evidence_id)
        except UpstreamError as exc:
            return EvidenceCheck(evidence_id=evidence_id, actual_sha256=None, tte=TteConclusion.UNAVAILABLE,
                                 tte_description=f"document not fetched: {exc}"), False
        if document is None:
            return EvidenceCheck(evidence_id=evidence_id, actual_sha256=None, tte=TteConclusion.UNCHECKED,
                                 tte_description="BKN has no document for this evidence"), False
        digest = hashlib.sha256(document).hexdigest()
        if digest in known:
            conclusion, description = known[digest]
            return EvidenceCheck(evidence_id=evidence_id, actual_sha256=digest, tte=conclusion,
                                 tte_description=description), True
        try:
            conclusion, description = self.tte.verify(document)
        except UpstreamError as exc:
            conclusion, description = TteConclusion.UNAVAILABLE, f"BSrE did not answer: {exc}"
        return EvidenceCheck(evidence_id=evidence_id, actual_sha256=digest, tte=conclusion,
                             tte_description=description), False

    # compute ------------------------------------------------------------------------------------------------
    def compute(self, tenant: str, period: str) -> ComputeReport:
        config = self._tenant(tenant)
        try:
            scheme = get_scheme(config.scheme)
            scheme_settings = scheme.settings_model.model_validate(config.settings)
        except (KeyError, ValidationError) as exc:
            raise ConfigurationError(f"tenant {tenant!r}: scheme {config.scheme!r} cannot run with its settings: "
                                     f"{exc}; fix the [tenants.{tenant}] section") from exc
        inputs = getattr(scheme, "inputs", repo.INPUTS)
        reads_checks = "check" in inputs  # a scheme that reads no verdicts (DKI) holds nobody for a document
        closures = hasattr(scheme, "unit_report") and Period.parse(period).is_quarter
        waiting: dict[str, list[str]] = {}
        described: dict[str, str] = {}
        candidates: list[Any] = []
        with self.engine.connect() as conn:
            before = {r.nip: r for r in repo.load_results(conn, tenant, period)}
            release = held_store.released(conn, tenant, period)
            employees = repo.staged(conn, tenant, "employee")
            cycles = supervisor_cycles(employees)  # quarantined here, for every scheme; the rest goes on
            looped = {p.record_id for p in cycles}
            # A period bigger than `compute_max_employees` is read and computed one part at a time (groups the
            # scheme says compute independently); the parts' outcome is the whole's (tests/test_compute_parts.py).
            groups = plan_parts(scheme, repo.staged(conn, tenant, "unit") if "unit" in inputs else [],
                                [e for e in employees if e.nip not in looped], scheme_settings,
                                self.settings.compute_max_employees)
            staff = len({e.nip for e in employees} - looped)
            computed_so_far = [0]
            del employees

            def parts() -> Iterator[PeriodData]:
                for part in repo.iter_period(conn, tenant, period, groups, kinds=inputs):
                    if looped:
                        part = part.model_copy(update={"employees": tuple(
                            e for e in part.employees if e.nip not in looped)})
                    if reads_checks:
                        waiting.update(_waiting_evidence(part))
                        described.update((c.evidence_id, c.tte_description) for c in part.checks)
                    if closures:
                        candidates.extend(scheme.unit_report(part, scheme_settings).candidates)
                    yield part
                    computed_so_far[0] += len(part.employees)
                    self.progress(Step(tenant, "compute", computed_so_far[0], staff, "employees", period))

            outcome = compute_in_parts(scheme, parts(), scheme_settings)
        outcome.problems.extend(cycles)
        computed = outcome.results
        if release is None:  # an outage holds: no result, no payroll line, what was paid stays as it was
            held = {r.nip: (waiting[r.nip], _hold_reason(waiting[r.nip], described)) for r in computed
                    if r.nip in waiting}
            computed = [r for r in computed if r.nip not in held]
        else:  # released by an operator: unchecked evidence counts as refused, and the explanation says so
            held = {}
            computed = [_released(r, waiting[r.nip], release) if r.nip in waiting else r for r in computed]
        report = ComputeReport(results=len(computed), held=len(held))
        now = self.clock()
        changed = [r for r in computed if before.get(r.nip) != r]
        withdrawn = _withdrawn(before, computed, outcome.problems, kept=set(held))
        with self.engine.begin() as conn:  # results, their audit entries and outbox rows commit together
            repo.save_results(conn, computed, now)
            repo.withdraw_results(conn, tenant, period, withdrawn, now)
            newly_held = held_store.replace(conn, tenant, period, held, now)
            audit.append(conn, tenant, "gateway", "result.computed", [(r.nip, _audit_details(r, before.get(r.nip)))
                                                                        for r in changed], now)
            audit.append(conn, tenant, "gateway", "result.withdrawn", [
                (nip, {"period": period, "amount": before[nip].amount, "reason": reason})
                for nip, reason in sorted(withdrawn.items())], now)
            audit.append(conn, tenant, "gateway", "result.held", [
                (nip, {"period": period, "evidence": list(held[nip][0]), "reason": held[nip][1]})
                for nip in newly_held], now)
            report.quarantined = repo.add_quarantine(conn, tenant, period, outcome.problems, None, now)
            report.batches = enqueue_payroll(conn, tenant, period, computed, now)
            if "feed" in self.destinations:
                events = [feed.event(feed.RESULT_COMPUTED, tenant, r.nip, _audit_details(r, before.get(r.nip)) | {
                    "nip": r.nip, "opd_id": r.opd_id, "status": r.status.value}, now,
                    f"{_audit_details(r, None)['explanation_sha256']}:{r.amount}") for r in changed]
                enqueue_events(conn, tenant, period, events, now)
                # In rows of their own: the same candidates computed again make the same row, not a second one.
                enqueue_events(conn, tenant, period, _closure_events(candidates, tenant, period, now), now)
        log.info("compute.done", tenant=tenant, period=period, results=report.results,
                 quarantined=report.quarantined, batches=len(report.batches), held=report.held)
        return report

    # relay --------------------------------------------------------------------------------------------------
    def relay(self, max_passes: int = 100) -> RelayReport:
        """Relay until nothing is claimable now (rows waiting for a later attempt stay for the daemon)."""
        relay = Relay(self.engine, self.destinations, clock=self.clock,
                      lease_seconds=self.settings.relay_lease_seconds, batch_size=self.settings.relay_batch_size,
                      max_attempts=self.settings.relay_max_attempts, parallelism=self.settings.relay_parallelism)
        total = RelayReport()
        for _ in range(max_passes):
            report = relay.run_once()
            if not report.claimed:
                break
            total.add(report)
            self.progress(Step("*", "relay", total.claimed, None, "rows", "outbox"))
        return total

    def purge(self) -> int:
        """Delete delivered outbox rows past the retention (`outbox_retention_days`)."""
        from gateway.outbox.writer import purge_delivered

        with self.engine.begin() as conn:
            return purge_delivered(conn, self.clock(), self.settings.outbox_retention_days)

    def reads_evidence(self, tenant: str) -> bool:
        """Whether the tenant's scheme reads evidence verdicts: only then is verification on the critical path."""
        try:
            scheme = get_scheme(self._tenant(tenant).scheme)
        except KeyError:
            return True  # compute will say the scheme is unknown
        return "check" in getattr(scheme, "inputs", repo.INPUTS)

    def cycle(self, tenant: str, period: str) -> CycleReport:
        """sync, verify, compute, relay; for a scheme that reads no verdicts, verification (the SPBE audit of the
        evidence) runs after payroll has been sent, as its own stage, so it never delays computing or payroll."""
        synced = self.sync(tenant, period)
        if self.reads_evidence(tenant):
            verified = self.verify(tenant, period)
            return CycleReport(synced, verified, self.compute(tenant, period), self.relay())
        computed, relayed = self.compute(tenant, period), self.relay()
        verified = self.verify(tenant, period)
        relayed.add(self.relay())  # the audit trail's verdicts leave in the same cycle
        return CycleReport(synced, verified, computed, relayed)


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


def _withdrawn(before: dict[str, Result], results: list[Result], problems: list[Problem], *,
               kept: Collection[str] = ()) -> dict[str, str]:
    """Stored results the latest computation no longer produces, each with the reason it gives (the problems
    that name the employee), so that they stop being current. Held employees (`kept`) keep theirs."""
    produced = {r.nip for r in results} | set(kept)
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


def _drop_duplicates(stream: streams.Stream, encoded: repo.Encoded, stamps: list[str],
                     seen: dict[str, tuple[str, str]]) -> tuple[repo.Encoded, list[Problem]]:
    """The same id twice in one sync. Identical content: kept once. A copy with a later updatedAt: the record
    changed upstream while we paged (keyset paging reads it again), so the newer copy wins. Different content
    under the same or an older updatedAt (or with no updatedAt at all): upstream is inconsistent, the later copy is
    quarantined. Content is compared by the digest the store keeps (`repo.encode`), computed once per record."""
    kept: dict[str, int] = {}
    problems = []
    items = encoded.items
    for index, (item, digest, stamp) in enumerate(zip(items, encoded.digests, stamps or [""] * len(items),
                                                      strict=True)):
        rid = str(getattr(item, stream.key))
        prior = seen.get(rid)
        if prior is None or (prior[0] != digest and stamp > prior[1]):
            seen[rid] = (digest, stamp)
            kept.pop(rid, None)
            kept[rid] = index  # a newer copy in the same page replaces the older one
        elif prior[0] != digest:
            problems.append(Problem(record_kind=stream.name, record_id=rid, rule="duplicate-id",
                                    nip=getattr(item, "nip", None),
                                    message=f"{stream.name} {rid} came twice in one sync with different content and "
                                            f"no newer updatedAt; the first copy was kept, ask {stream.owner} "
                                            "which one is right"))
    return encoded.pick(sorted(kept.values())), problems
