"""Verify: fetch each evidence document not yet checked, hash it and ask BSrE, `verify_concurrency` at a time; each
chunk's checks and SPBE verdicts commit together."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from sqlalchemy import select

from gateway.domain import EvidenceCheck, Period, TteConclusion
from gateway.errors import ConfigurationError, UpstreamError
from gateway.outbox import Destination, enqueue_verdicts, verdict
from gateway.pades import OfflineChecker, OfflineVerdict, read_roots
from gateway.progress import Step
from gateway.stages._base import RECHECKED, Stage, StageContext, VerifyReport
from gateway.store import repository as repo
from gateway.store.tables import evidence_checks, records

log = structlog.get_logger("gateway.pipeline")


class Verify(Stage):
    def __init__(self, ctx: StageContext, bkn: Any, tte: Any, destinations: dict[str, Destination]) -> None:
        super().__init__(ctx)
        self.bkn, self.tte, self.destinations = bkn, tte, destinations
        self._offline: dict[str, OfflineChecker | None] = {}  # per tenant: its trust roots' checker

    def _offline_for(self, tenant: str) -> OfflineChecker | None:
        if tenant not in self._offline:
            roots = self._tenant(tenant).trust_roots
            try:
                self._offline[tenant] = (OfflineChecker(read_roots(roots), self.settings.pades_workers)
                                         if roots else None)
            except (ValueError, ConfigurationError) as exc:  # a root that is no certificate, a file not there
                raise ConfigurationError(f"tenant {tenant!r}: {exc}; fix trust_roots in [tenants.{tenant}]") from None
        return self._offline[tenant]

    def __call__(self, tenant: str, period: str, chunk: int = 200) -> VerifyReport:
        """Fetch each evidence document not yet checked, hash it and ask BSrE about its signature."""
        self._fresh()
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
                       evidence_checks.c.tte.not_in(RECHECKED)).distinct())} if todo else {}
        if not todo:
            return
        spbe = self.destinations.get("spbe")
        audit = self._tenant(tenant).spbe_audit and spbe is not None and getattr(spbe, "serves", lambda _t: True)(
            tenant)
        workers = max(1, min(self.settings.verify_concurrency, len(todo)))
        offline, required = self._offline_for(tenant), self._tenant(tenant).bsre_required
        log.info("verify.start", documents=len(todo), workers=workers,
                 known_verdicts=len(known))
        # Documents are fetched and checked `workers` at a time; each chunk commits before the next starts, so a
        # killed verify loses at most the chunk in flight and picks up from what is committed.
        bound = structlog.contextvars.get_contextvars()  # a pool's threads start with a context of their own
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"verify-{tenant}") as pool:
            for start in range(0, len(todo), chunk):
                outcomes = list(pool.map(lambda eid: self._check_bound(bound, eid, known, offline, required),
                                         todo[start:start + chunk]))
                pending = [check for check, _, _ in outcomes]
                own = {check.evidence_id: (None if v.conclusion is None else v.conclusion.value, v.signer, v.chain)
                       for check, _, v in outcomes if v is not None}
                for check, reused, _ in outcomes:
                    report.count(check, reused)
                now = self.clock()
                with self.engine.begin() as conn:  # checks and their audit-trail rows commit together
                    repo.save_checks(conn, tenant, period, pending, now, own)
                    if audit:  # the chunk's evidence only: a DKI month has 1.4 million items
                        evidence = repo.staged_by_id(conn, tenant, "evidence", [c.evidence_id for c in pending])
                        enqueue_verdicts(conn, tenant, period, [
                            verdict(tenant, period, evidence[c.evidence_id], c, now) for c in pending
                            if c.evidence_id in evidence], now)
                self.progress(Step(tenant, "verify", start + len(pending), len(todo), "documents", period))

    def _check_bound(self, bound: dict[str, Any], evidence_id: str, *args: Any
                     ) -> tuple[EvidenceCheck, bool, OfflineVerdict | None]:
        """`_check` in a pool thread, under the unit of work's bound context (tenant, period) and the evidence's."""
        with structlog.contextvars.bound_contextvars(**bound, evidence=evidence_id):
            return self._check(evidence_id, *args)

    def _check(self, evidence_id: str, known: dict[str, tuple[TteConclusion, str]],
               offline: OfflineChecker | None = None, required: bool = True
               ) -> tuple[EvidenceCheck, bool, OfflineVerdict | None]:
        """One document: fetch, hash, the gateway's own PAdES check where the tenant has trust roots, and BSrE's
        verdict (or the one stored for the same bytes: then True). Without `required`, an offline verdict that
        decides is the verdict and BSrE is not asked."""
        try:
            document = self.bkn.document(evidence_id)
        except UpstreamError as exc:
            return EvidenceCheck(evidence_id=evidence_id, actual_sha256=None, tte=TteConclusion.UNAVAILABLE,
                                 tte_description=f"document not fetched: {exc}"), False, None
        if document is None:
            return EvidenceCheck(evidence_id=evidence_id, actual_sha256=None, tte=TteConclusion.UNCHECKED,
                                 tte_description="BKN has no document for this evidence"), False, None
        digest = hashlib.sha256(document).hexdigest()
        own = offline.check(document) if offline is not None else None
        if digest in known:
            conclusion, description = known[digest]
            return EvidenceCheck(evidence_id=evidence_id, actual_sha256=digest, tte=conclusion,
                                 tte_description=description), True, own
        if own is not None and own.conclusion is not None and not required:
            return EvidenceCheck(evidence_id=evidence_id, actual_sha256=digest, tte=own.conclusion,
                                 tte_description=f"offline PAdES check: {own.description}"), False, own
        try:
            conclusion, description = self.tte.verify(document)
        except UpstreamError as exc:
            conclusion, description = TteConclusion.UNAVAILABLE, f"BSrE did not answer: {exc}"
        if own is not None and own.conclusion is not None and conclusion not in (
                TteConclusion.UNAVAILABLE, own.conclusion):
            log.warning("verify.disagreement", evidence=evidence_id, bsre=conclusion.value,
                        offline=own.conclusion.value)
        return EvidenceCheck(evidence_id=evidence_id, actual_sha256=digest, tte=conclusion,
                             tte_description=description), False, own
