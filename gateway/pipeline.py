"""The cycle as a sequence of stages: sync -> verify -> compute (results + outbox in one transaction) -> relay.

Each stage is a small unit of its own (`gateway.stages`), built by the composition root (`gateway.bootstrap`) on
one shared `StageContext`; the pipeline only orders them, and reads the tenant's scheme to know whether verification
is on the critical path.
"""

from __future__ import annotations

from typing import Any

from structlog.contextvars import bound_contextvars

from gateway.errors import UnknownScheme
from gateway.mappings import get_scheme
from gateway.outbox import Destination, RelayReport
from gateway.progress import Reporter
from gateway.settings import Settings
from gateway.stages import (
    Clock,
    Compute,
    ComputeReport,
    CycleReport,
    Relaying,
    StageContext,
    Sync,
    SyncReport,
    Verify,
    VerifyReport,
    utc_now,
)
from gateway.stages.compute import reads_verdicts

__all__ = ["Clock", "ComputeReport", "CycleReport", "Pipeline", "SyncReport", "VerifyReport", "utc_now"]


class Pipeline:
    def __init__(self, ctx: StageContext, sync: Sync, verify: Verify, compute: Compute, relay: Relaying) -> None:
        self.ctx = ctx
        self._sync, self._verify, self._compute, self._relay = sync, verify, compute, relay
        # Tenants with endpoints of their own: their stages, with their own clients, on the same store.
        self.own: dict[str, Pipeline] = {}

    def _of(self, tenant: str) -> Pipeline:
        return self.own.get(tenant, self)

    # Each stage call is a unit of work: its tenant and period are bound once for every log line (and metric)
    # inside it (structlog contextvars), not passed to each call.
    def sync(self, tenant: str, period: str) -> SyncReport:
        with bound_contextvars(tenant=tenant, period=period, stage="sync"):
            return self._of(tenant)._sync(tenant, period)

    def verify(self, tenant: str, period: str, chunk: int = 200) -> VerifyReport:
        with bound_contextvars(tenant=tenant, period=period, stage="verify"):
            return self._of(tenant)._verify(tenant, period, chunk)

    def compute(self, tenant: str, period: str) -> ComputeReport:
        with bound_contextvars(tenant=tenant, period=period, stage="compute"):
            return self._of(tenant)._compute(tenant, period)

    def relay(self, max_passes: int = 100) -> RelayReport:
        """Every tenant's outbox rows, through the deployment's destinations (payroll routes by tenant)."""
        return self._relay(max_passes)

    # the shared parts, for the CLI, the daemon and the tests
    @property
    def engine(self) -> Any:
        return self.ctx.engine

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def progress(self) -> Reporter:
        return self.ctx.progress

    @progress.setter
    def progress(self, reporter: Reporter) -> None:
        self.ctx.progress = reporter  # every stage reads it from the context
        for pipeline in self.own.values():
            pipeline.progress = reporter

    @property
    def bkn(self) -> Any:
        return self._verify.bkn

    @property
    def tte(self) -> Any:
        return self._verify.tte

    @property
    def clients(self) -> dict[str, Any]:
        return self._sync.clients

    @property
    def destinations(self) -> dict[str, Destination]:
        return self._compute.destinations

    def purge(self) -> int:
        return self._relay.purge()

    def reads_evidence(self, tenant: str) -> bool:
        """Whether the tenant's scheme reads evidence verdicts: only then is verification on the critical path."""
        try:
            scheme = get_scheme(self._compute._tenant(tenant).scheme)
        except UnknownScheme:
            return True  # compute will say the scheme is unknown
        return reads_verdicts(scheme)

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
