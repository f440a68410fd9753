"""The long-running loop: pull each tenant's open and just-closed periods, compute closed ones, relay.

A period is computed once it has closed and its grace days (late evidence within the SLA, approvals) have
passed; computing again later is harmless (unchanged results write nothing, changed ones become adjustments).
A failure of any kind in one tenant is logged (with its traceback) and the loop goes on with the others;
SIGINT/SIGTERM stop it after the current step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import structlog
from structlog.contextvars import bound_contextvars

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
            with bound_contextvars(tenant=tenant):
                self._tenant_tick(tenant, periods_due(today, config.payment, self.grace_days), report, backlog)
        try:
            relay = self.pipeline.relay()
            report.delivered = relay.delivered
            report.errors.extend(relay.errors)
            self.pipeline.purge()
        except Exception as exc:  # noqa: BLE001 - the loop outlives a failing relay pass; the next tick retries
            report.errors.append(f"relay: {type(exc).__name__}: {exc}")
            log.error("daemon.relay_failed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
        for tenant, period in backlog:
            if self.stop_event.is_set():
                break
            with bound_contextvars(tenant=tenant, period=period):
                try:
                    self.pipeline.verify(tenant, period)
                except Exception as exc:  # noqa: BLE001 - one tenant's failure, of any kind, is not the others'
                    report.errors.append(f"{tenant}: verification backlog: {_said(exc)}")
                    log.error("daemon.verify_backlog_failed", error=_said(exc), exc_info=exc)
        log.info("daemon.tick", computed=report.computed, delivered=report.delivered, errors=len(report.errors))
        return report

    def _tenant_tick(self, tenant: str, due: Due, report: TickReport, backlog: list[tuple[str, str]]) -> None:
        """One tenant's share of a tick. Any failure (a `GatewayError` the gateway raised on purpose, or a bug,
        a driver error, a broken scheme plug-in) is this tenant's alone: logged with its traceback, reported, and
        the tick goes on with the next tenant."""
        period = ""
        try:
            for period in due.pull:
                with bound_contextvars(period=period):
                    self.pipeline.sync(tenant, period)
                    self.pipeline.verify(tenant, period)
                report.pulled.append(f"{tenant}/{period}")
            period = due.compute
            with bound_contextvars(period=period):
                self.pipeline.sync(tenant, period)
                if self.pipeline.reads_evidence(tenant):
                    self.pipeline.verify(tenant, period)
                else:  # its verification is the SPBE audit only: worked off after the relay
                    backlog.append((tenant, period))
                self.pipeline.compute(tenant, period)
            report.computed.append(f"{tenant}/{period}")
        except Exception as exc:  # noqa: BLE001 - one tenant's failure, of any kind, is not the others'
            report.errors.append(f"{tenant}: {_said(exc)}")
            with bound_contextvars(period=period):
                log.error("daemon.tenant_failed", error=_said(exc), exc_info=exc)

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
