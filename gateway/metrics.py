"""Prometheus metrics, all named `tpp_gateway_*` (prometheus-client).

Two kinds, kept apart on purpose:

- **Events** counted where they happen, process-wide counters: rows pulled per stream (`gateway.stages.sync`),
  deliveries per outcome (`gateway.outbox.relay`), upstream errors (`gateway.connectors._http`). They are created
  with `registry=None`: nothing is registered in prometheus-client's global registry at import; `registry()` below
  registers them in the registry a health server exposes.
- **State** read from the store at scrape time by `StoreCollector`, one query set per tenant (`tenant_status`,
  the same reads as `gateway status`): sync lag, verification backlog, open quarantine by rule, outbox rows by
  status and the age of the oldest waiting, payroll lines rejected. Nothing is kept in sync by hand, so two
  processes on one database report the same numbers, and a restarted process reports them at once. The circuit
  breakers' states are read at scrape time too (`BreakerCollector`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import structlog
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric, StateSetMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from gateway.connectors._http import UPSTREAM_ERRORS
from gateway.store.status import tenant_status

__all__ = ["DELIVERIES", "RECORDS_PULLED", "UPSTREAM_ERRORS", "BreakerCollector", "BreakerState",
           "StoreCollector", "registry"]

log = structlog.get_logger(__name__)

RECORDS_PULLED = Counter("tpp_gateway_records_pulled", "Rows read from an upstream listing, good and quarantined",
                         ["tenant", "stream"], registry=None)
DELIVERIES = Counter("tpp_gateway_deliveries", "Outbox delivery attempts by outcome (delivered, submitted, retry, "
                     "dead)", ["tenant", "destination", "outcome"], registry=None)


@dataclass(frozen=True)
class BreakerState:
    tenant: str  # "" for the deployment's shared clients
    upstream: str
    state: str  # pybreaker's: closed, open, half-open


class BreakerCollector(Collector):
    """Each circuit breaker's state, as a Prometheus state set (one series per state, the current one 1)."""

    STATES = ("closed", "half-open", "open")

    def __init__(self, breakers: Callable[[], Iterable[BreakerState]]) -> None:
        self.breakers = breakers

    def collect(self) -> Iterator[Metric]:
        family = StateSetMetricFamily("tpp_gateway_breaker_state", "Circuit breaker state per upstream client",
                                      labels=["tenant", "upstream"])
        seen: set[tuple[str, str]] = set()
        for b in self.breakers():
            if (b.tenant, b.upstream) in seen:  # one client per upstream and endpoint set; say each once
                continue
            seen.add((b.tenant, b.upstream))
            family.add_metric([b.tenant, b.upstream], {s: s == b.state for s in self.STATES})
        yield family


class StoreCollector(Collector):
    """The store's state per tenant, read when Prometheus scrapes. An unreachable store is `tpp_gateway_store_up 0`
    (and a log line), not a failed scrape: the counters still tell what the process did."""

    def __init__(self, engine: Engine, tenants: Callable[[], Iterable[str]], clock: Callable[[], datetime]) -> None:
        self.engine, self.tenants, self.clock = engine, tenants, clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("tpp_gateway_store_up", "1 if the store could be read at this scrape")
        lag = GaugeMetricFamily("tpp_gateway_sync_lag_seconds", "Seconds since the stream's cursor last moved",
                                labels=["tenant", "stream"])
        backlog = GaugeMetricFamily("tpp_gateway_verification_backlog", "Evidence documents not yet checked",
                                    labels=["tenant", "period"])
        quarantine = GaugeMetricFamily("tpp_gateway_quarantine_open", "Open quarantine entries by rule",
                                       labels=["tenant", "rule"])
        rows = GaugeMetricFamily("tpp_gateway_outbox_rows", "Outbox rows by destination and status",
                                 labels=["tenant", "destination", "status"])
        oldest = GaugeMetricFamily("tpp_gateway_outbox_oldest_pending_age_seconds",
                                   "Age of the oldest outbox row not yet delivered (pending or submitted)",
                                   labels=["tenant", "destination"])
        rejected = GaugeMetricFamily("tpp_gateway_payroll_rejected_lines", "Payroll lines rejected and still open",
                                     labels=["tenant", "period"])
        rejected_amount = GaugeMetricFamily("tpp_gateway_payroll_rejected_rupiah",
                                            "Rupiah of the payroll lines rejected and still open",
                                            labels=["tenant", "period"])
        try:
            now = self.clock()
            with self.engine.connect() as conn:
                found = [tenant_status(conn, tenant, now) for tenant in sorted(self.tenants())]
        except SQLAlchemyError as exc:
            log.error("metrics.store_unreadable", error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for st in found:
            t = st["tenant"]
            for s in st["streams"]:
                lag.add_metric([t, s["stream"]], s["age_seconds"])
            for period, n in st["verification_backlog"].items():
                backlog.add_metric([t, period], n)
            for rule, n in st["open_quarantine"].items():
                quarantine.add_metric([t, rule], n)
            waiting: dict[str, float] = {}
            for o in st["outbox"]:
                rows.add_metric([t, o["destination"], o["status"]], o["rows"])
                if o["oldest_age_seconds"] is not None:
                    waiting[o["destination"]] = max(waiting.get(o["destination"], 0.0), o["oldest_age_seconds"])
            for destination, age in waiting.items():
                oldest.add_metric([t, destination], age)
            for r in st["payroll_rejected"]:
                rejected.add_metric([t, r["period"]], r["lines"])
                rejected_amount.add_metric([t, r["period"]], r["amount"])
        yield from (up, lag, backlog, quarantine, rows, oldest, rejected, rejected_amount)


def registry(engine: Engine, tenants: Callable[[], Iterable[str]], clock: Callable[[], datetime],
             breakers: Callable[[], Iterable[BreakerState]] | None = None) -> CollectorRegistry:
    """A registry of its own for one health server: the process's counters, the store read per tenant, the
    breakers (when the process has upstream clients)."""
    found = CollectorRegistry()
    for counter in (RECORDS_PULLED, DELIVERIES, UPSTREAM_ERRORS):
        found.register(counter)
    found.register(StoreCollector(engine, tenants, clock))
    if breakers is not None:
        found.register(BreakerCollector(breakers))
    return found


def breakers_of(clients: Iterable[object]) -> Callable[[], list[BreakerState]]:
    """The breaker states of these upstream clients (`HttpBase`), read at each scrape."""
    held = list(clients)

    def read() -> list[BreakerState]:
        return [BreakerState(getattr(c, "tenant", None) or "", str(getattr(c, "upstream", "?")),
                             str(c.breaker.current_state)) for c in held if hasattr(c, "breaker")]

    return read
