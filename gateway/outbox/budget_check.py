"""Reconcile's budget lines (issue 18): per OPD with a pagu or with lines payroll rejected for its budget ceiling,
the gateway's own forecast (gateway/domain/budget.py) beside payroll's refusals, and whether the gateway had warned
(a `budget.warning` event of the period for that OPD on the feed, or, with the feed off, the forecast now)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from gateway.connectors.wire.payroll import REJECT_BUDGET
from gateway.feed.events import BUDGET_WARNING
from gateway.settings import TenantConfig
from gateway.store.budget import budget_lines
from gateway.store.tables import outbox, payroll_ledger


@dataclass
class BudgetNote:
    kind: str  # budget-warning (the forecast is above the pagu) | budget-rejected (payroll refused for its ceiling)
    opd_id: str
    pagu: int | None
    forecast: int | None
    rejected_lines: int
    rejected_amount: int
    warned: bool  # the gateway's forecast had warned (an event on the feed, or the forecast now)
    detail: str


def _warned_on_feed(conn: Connection, tenant: str, period: str) -> set[str]:
    """OPD ids with a budget.warning event of `period` in the tenant's feed rows."""
    found: set[str] = set()
    rows = conn.execute(select(outbox.c.payload).where(outbox.c.tenant == tenant, outbox.c.period == period,
                                                       outbox.c.destination == "feed"))
    for (payload,) in rows:
        for e in (payload or {}).get("events", []):
            if e.get("type") == BUDGET_WARNING:
                found.add(e["data"]["opd_id"])
    return found


def budget_notes(conn: Connection, tenant: str, period: str, config: TenantConfig) -> list[BudgetNote]:
    lines = {b.opd_id: b for b in budget_lines(conn, tenant, period, config.payment, config.pagu)}
    refused: dict[str, list[int]] = defaultdict(list)
    for opd, amount in conn.execute(select(payroll_ledger.c.opd_id, payroll_ledger.c.amount).where(
            payroll_ledger.c.tenant == tenant, payroll_ledger.c.period == period,
            payroll_ledger.c.fate == "rejected", payroll_ledger.c.reason == REJECT_BUDGET)):
        refused[opd].append(amount)
    on_feed = _warned_on_feed(conn, tenant, period)
    notes = []
    for opd in sorted(set(refused) | {o for o, b in lines.items() if b.warning}):
        b = lines.get(opd)
        warned = opd in on_feed or (b is not None and b.warning)
        if b is None:
            forecast = f"no pagu is set for OPD {opd} ([tenants.{tenant}.pagu]), so the gateway had not warned"
        else:
            said = ("had warned (budget.warning on the feed)" if opd in on_feed else
                    "warns now" if b.warning else "had not warned")
            forecast = (f"the gateway's forecast for {opd}'s year is {_rp(b.forecast)} against a pagu of "
                        f"{_rp(b.pagu)} ({_rp(b.remaining)} left after the earlier periods): it {said}")
        amounts = refused.get(opd, [])
        if amounts:
            detail = (f"payroll rejected {len(amounts)} line(s), {_rp(sum(amounts))}, of OPD {opd} for its budget "
                      f"ceiling; {forecast}")
        else:
            detail = f"OPD {opd}: {forecast}; payroll has rejected nothing for its budget yet"
        notes.append(BudgetNote("budget-rejected" if amounts else "budget-warning", opd,
                                b.pagu if b else None, b.forecast if b else None, len(amounts), sum(amounts),
                                warned, detail))
    return notes


def _rp(amount: int) -> str:
    return f"Rp {amount:,}".replace(",", ".")


def as_json(notes: list[BudgetNote]) -> list[dict[str, Any]]:
    from dataclasses import asdict

    return [asdict(n) for n in notes]
