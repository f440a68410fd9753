"""The long-running loop: pull each tenant's open and just-closed periods, compute closed ones, relay.

A period is computed once it has closed and its grace days (late evidence within the SLA, approvals) have
passed; computing again later is harmless (unchanged results write nothing, changed ones become adjustments).
Errors of one tenant are logged and the loop goes on; SIGINT/SIGTERM stop it after the current step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import structlog

from gateway.domain import WIB, Period
from gateway.errors import GatewayError
from gateway.pipeline import Clock, Pipeline

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


@dataclass
class TickReport:
    computed: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # tenants not pulled, e.g. without endpoints of their own
    delivered: int = 0


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
        backlog: list[tuple[str, str]] = []  # verification off the critical path, after the relay
        today = self.clock().astimezone(WIB).date()
        for tenant, config in sorted(self.pipeline.settings.tenants.items()):
            if self.stop_event.is_set():
                break
            if self.tenants is not None and tenant not in self.tenants:
                continue
            problem = config.endpoints_problem(tenant)
            if problem is not None:  # said once per daemon, not every tick
                report.skipped.append(tenant)
                if tenant not in self._said_skipped:
                    self._said_skipped.add(tenant)
                    log.warning("daemon.tenant_skipped", tenant=tenant, reason=problem)
                continue
            due = periods_due(today, config.payment, self.grace_days)
            try:
                for period in due.pull:
                    self.pipeline.sync(tenant, period)
                    self.pipeline.verify(tenant, period)
                    report.pulled.append(f"{tenant}/{period}")
                self.pipeline.sync(tenant, due.compute)
                if self.pipeline.reads_evidence(tenant):
                    self.pipeline.verify(tenant, due.compute)
                else:  # its verification is the SPBE audit only: worked off after the relay
                    backlog.append((tenant, due.compute))
                self.pipeline.compute(tenant, due.compute)
                report.computed.append(f"{tenant}/{due.compute}")
            except GatewayError as exc:
                report.errors.append(f"{tenant}: {exc}")
                log.error("daemon.tenant_failed", tenant=tenant, error=str(exc))
        try:
            relay = self.pipeline.relay()
            report.delivered = relay.delivered
            report.errors.extend(relay.errors)
            self.pipeline.purge()
        except Exception as exc:  # noqa: BLE001 - the loop outlives a failing relay pass; the next tick retries
            report.errors.append(f"relay: {type(exc).__name__}: {exc}")
            log.error("daemon.relay_failed", error=f"{type(exc).__name__}: {exc}")
        for tenant, period in backlog:
            if self.stop_event.is_set():
                break
            try:
                self.pipeline.verify(tenant, period)
            except GatewayError as exc:
                report.errors.append(f"{tenant}: verification backlog: {exc}")
                log.error("daemon.verify_backlog_failed", tenant=tenant, error=str(exc))
        log.info("daemon.tick", computed=report.computed, delivered=report.delivered, errors=len(report.errors))
        return report

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
