"""The budget ceiling's view in the internal report (issue 18): per OPD with a pagu, spent this year, this period's
computed amount and the year's forecast against the pagu (gateway/domain/budget.py), as an HTML section that
`gateway report --kind integrity -f html` places under the signals."""

from __future__ import annotations

import html

from sqlalchemy import Connection

from gateway.domain.budget import BudgetLine
from gateway.settings import TenantConfig
from gateway.store import repository as repo
from gateway.store.budget import budget_lines


def _rp(amount: int) -> str:
    return f"Rp {amount:,}".replace(",", ".")


def load(conn: Connection, tenant: str, config: TenantConfig, period: str) -> tuple[list[BudgetLine], dict[str, str]]:
    """The period's budget lines and the OPDs' names from the store."""
    names = {u.id: u.name for u in repo.staged(conn, tenant, "unit")}
    return budget_lines(conn, tenant, period, config.payment, config.pagu), names


def as_html_section(lines: list[BudgetLine], names: dict[str, str]) -> str:
    if not lines:
        return ""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(names.get(b.opd_id, b.opd_id))} ({e(b.opd_id)})</td><td>{_rp(b.pagu)}</td>"
        f"<td>{_rp(b.spent)}</td><td>{_rp(b.this_period)}</td><td>{len(b.later)}</td><td>{_rp(b.forecast)}</td>"
        f"<td>{'above the pagu' if b.warning else 'within'}</td></tr>" for b in lines)
    return (f"<h2>Budget ceiling (pagu), {e(lines[0].period)}</h2><p>Forecast: the year's earlier periods as "
            "payroll covers them, this period as computed, and each later period as payroll already holds it or, "
            "if nothing yet, at this period's amount.</p><table><tr><th>OPD</th><th>pagu</th><th>spent this year"
            "</th><th>this period</th><th>periods left</th><th>forecast</th><th></th></tr>"
            f"{rows}</table>")
