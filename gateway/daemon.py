"""The long-running loop: pull each tenant's open and just-closed periods, compute closed ones, relay.

A period is computed once it has closed and its grace days (late evidence within the SLA, approvals) have
passed; computing again later is harmless (unchanged results write nothing, changed ones become adjustments).
Errors of one tenant, of any kind, are logged (a bug with its traceback) and the loop goes on; SIGINT/SIGTERM
stop it after the current step. `plan_tick` (what a tick works) is shared with `gateway scheduler` (gateway/scale/).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any

import structlog
from structlog.contextvars import bound_contextvars

from gateway.domain import WIB, Period
from gateway.errors import GatewayError
from gateway.pipeline import Clock, Pipeline
from gateway.settings import Settings

log = structlog.get_logger(__name__)


def month_of(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class Due:
    """What a tick does for one tenant: periods to pull, and the last closed period to compute."""

    pull: tuple[str, ...]
    compute: str


def periods_due(today: date, payment: str, grace_days: int) -> Due:
    """As of `today` (WIB): pull the open period and, during its grace days, the one that just ended (late
    evidence and approvals still arrive); compute the last period whose grace days are over."""
    label = quarter_of if payment == "quarterly" else month_of
    current = Period.parse(label(today))
    previous = label(current.first - timedelta(days=1))
    settled = Period.parse(label(today - timedelta(days=grace_days)))
    closed = label(settled.first - timedelta(days=1))
    pull = (current.label,) if closed == previous else (current.label, previous)
    return Due(pull=pull, compute=closed)


RELAY = "relay"  # the stage after which the rest of a work item's stages are off the critical path


@dataclass(frozen=True)
class Work:
    """One tenant-period of a tick and its stages in order (sync, verify, compute, relay): what `gateway run` does
    in process and what `gateway scheduler` enqueues for `gateway worker`. Stages after `relay` (the SPBE audit of
    a scheme that reads no verdicts) are worked once payroll has been sent."""

    tenant: str
    period: str
    stages: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    work: tuple[Work, ...]
    skipped: tuple[tuple[str, str], ...]  # (tenant, reason): not pulled, e.g. without endpoints of its own


def plan_tick(settings: Settings, today: date, grace_days: int, tenants: list[str] | None,
              reads_evidence: Callable[[str], bool]) -> Plan:
    """What one tick works, per tenant in name order: the periods to pull (sync, verify), then the closed period
    to compute (sync, verify, compute, relay; verification after the relay where the scheme reads no verdicts)."""
    work: list[Work] = []
    skipped: list[tuple[str, str]] = []
    for tenant, config in sorted(settings.tenants.items()):
        if tenants is not None and tenant not in tenants:
            continue
        problem = config.endpoints_problem(tenant)
        if problem is not None:
            skipped.append((tenant, problem))
            continue
        due = periods_due(today, config.payment, grace_days)
        work.extend(Work(tenant, period, ("sync", "verify")) for period in due.pull)
        closing = ("sync", "verify", "compute", RELAY) if reads_evidence(tenant) else (
            "sync", "compute", RELAY, "verify")
        work.append(Work(tenant, due.compute, closing))
    return Plan(tuple(work), tuple(skipped))


def run_stage(pipeline: Pipeline, stage: str, tenant: str, period: str) -> Any:
    """One stage of one tenant-period (the relay delivers every tenant's due rows)."""
    if stage == "sync":
        return pipeline.sync(tenant, period)
    if stage == "verify":
        return pipeline.verify(tenant, period)
    if stage == "compute":
        return pipeline.compute(tenant, period)
    if stage == RELAY:
        return pipeline.relay()
    raise ValueError(f"unknown stage {stage!r}")


@dataclass
class TickReport:
    computed: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # tenants not pulled, e.g. without endpoints of their own
    delivered: int = 0


def _said(exc: BaseException) -> str:
    """A `GatewayError` says what to do in its own words; anything else is named by its type too."""
    return str(exc) if isinstance(exc, GatewayError) else f"{type(exc).__name__}: {exc}"


class Daemon:
    def __init__(self, pipeline: Pipeline, *, clock: Clock, interval_seconds: float = 300.0,
                 grace_days: int = 7, wait: Callable[[float], bool] | None = None,
                 tenants: list[str] | None = None) -> None:
        self.pipeline, self.clock, self.interval, self.grace_days = pipeline, clock, interval_seconds, grace_days
        # None: the settings' daemon_tenants, or every configured tenant when that is empty.
        self.tenants = tenants if tenants is not None else (pipeline.settings.daemon_tenants or None)
        self.stop_event = threading.Event()
        self._said_skipped: set[str] = set()
        self._wait = wait or self.stop_event.wait

    def tick(self) -> TickReport:
        report = TickReport()
        today = self.clock().astimezone(WIB).date()
        plan = plan_tick(self.pipeline.settings, today, self.grace_days, self.tenants, self.pipeline.reads_evidence)
        for tenant, problem in plan.skipped:  # said once per daemon, not every tick
            report.skipped.append(tenant)
            if tenant not in self._said_skipped:
                self._said_skipped.add(tenant)
                log.warning("daemon.tenant_skipped", tenant=tenant, reason=problem)
        backlog: list[Work] = []  # verification off the critical path, after the relay
        failed: set[str] = set()
        for work in plan.work:
            if self.stop_event.is_set():
                break
            if work.tenant in failed:
                continue
            before = work.stages[:work.stages.index(RELAY)] if RELAY in work.stages else work.stages
            if not self._guarded(report, work, "daemon.tenant_failed", "",
                                 partial(self._stages, work, before)):
                failed.add(work.tenant)
                continue
            if RELAY in work.stages:
                report.computed.append(f"{work.tenant}/{work.period}")
                after = work.stages[work.stages.index(RELAY) + 1:]
                if after:
                    backlog.append(Work(work.tenant, work.period, after))
            else:
                report.pulled.append(f"{work.tenant}/{work.period}")
        try:
            relay = self.pipeline.relay()
            report.delivered = relay.delivered
            report.errors.extend(relay.errors)
            self.pipeline.purge()
        except Exception as exc:  # noqa: BLE001 - the loop outlives a failing relay pass; the next tick retries
            report.errors.append(f"relay: {type(exc).__name__}: {exc}")
            log.error("daemon.relay_failed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
        for work in backlog:
            if self.stop_event.is_set():
                break
            self._guarded(report, work, "daemon.verify_backlog_failed", "verification backlog: ",
                          partial(self._stages, work, work.stages))
        log.info("daemon.tick", computed=report.computed, delivered=report.delivered, errors=len(report.errors))
        return report

    def _stages(self, work: Work, stages: tuple[str, ...]) -> None:
        for stage in stages:
            run_stage(self.pipeline, stage, work.tenant, work.period)

    @staticmethod
    def _guarded(report: TickReport, work: Work, event: str, what: str, step: Callable[[], None]) -> bool:
        """Run one tenant-period's step with its tenant and period bound to every log line inside it; a failure
        of any kind (a `GatewayError` the gateway raised on purpose, or a bug, a driver error, a broken scheme
        plug-in) is that tenant's alone: logged with its traceback, reported, and the loop goes on."""
        with bound_contextvars(tenant=work.tenant, period=work.period):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - one tenant's failure, of any kind, is not the others'
                report.errors.append(f"{work.tenant}: {what}{_said(exc)}")
                log.error(event, error=_said(exc), exc_info=exc)
                return False
        return True

    def run(self, max_ticks: int | None = None) -> int:
        """Tick until stopped (or `max_ticks`); returns the number of ticks."""
        ticks = 0
        while not self.stop_event.is_set() and (max_ticks is None or ticks < max_ticks):
            self.tick()
            ticks += 1
            if max_ticks is not None and ticks >= max_ticks:
                break
            if self._wait(self.interval):
                break
        return ticks

    def stop(self, *_args: object) -> None:
        self.stop_event.set()
