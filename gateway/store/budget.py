"""The budget ceiling read from the store (issue 18): per OPD, this period's computed amount (current results) and
what the payroll ledger covers per period of the year, assessed against the tenant's pagu by the pure
`gateway.domain.budget`. Tenant-scoped; reads only."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, func, select

from gateway.domain.budget import BudgetLine, assess, year_periods
from gateway.domain.period import Period
from gateway.store.tables import payroll_ledger, results

# The ledger's fates that cover an amount (gateway/outbox/ledger.py COVERING: asked, booked, or of unknown fate).
_COVERING = ("pending", "acknowledged", "unknown")


def budget_lines(conn: Connection, tenant: str, period: str, payment: str,
                 pagu: Mapping[str, int]) -> list[BudgetLine]:
    """Every OPD with a pagu, as of `period` (none without a pagu)."""
    if not pagu:
        return []
    labels = year_periods(Period.parse(period), payment)
    this_period: dict[str, int] = {opd: int(total or 0) for opd, total in conn.execute(
        select(results.c.opd_id, func.sum(results.c.amount))
        .where(results.c.tenant == tenant, results.c.period == period, results.c.withdrawn_at.is_(None))
        .group_by(results.c.opd_id))}
    covered: dict[tuple[str, str], int] = {(opd, p): int(total or 0) for opd, p, total in conn.execute(
        select(payroll_ledger.c.opd_id, payroll_ledger.c.period, func.sum(payroll_ledger.c.amount))
        .where(payroll_ledger.c.tenant == tenant, payroll_ledger.c.period.in_(labels),
               payroll_ledger.c.fate.in_(_COVERING))
        .group_by(payroll_ledger.c.opd_id, payroll_ledger.c.period))}
    return assess(period, payment, pagu, this_period, covered)


def latest_period(conn: Connection, tenant: str) -> str | None:
    """The latest period with current results (the one `gateway status` shows the pagu for)."""
    found = conn.execute(select(func.max(results.c.period)).where(
        results.c.tenant == tenant, results.c.withdrawn_at.is_(None))).scalar_one()
    return str(found) if found else None
