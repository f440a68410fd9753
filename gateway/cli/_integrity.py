"""`gateway report --kind integrity`: the integrity report (gateway/reports_integrity.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from gateway.settings import Settings
from gateway.store import make_engine


def integrity_report(tenant: str, period: str, fmt: str, out: Path | None) -> None:
    from gateway import reports_budget, reports_integrity

    if fmt not in reports_integrity.RENDERERS:
        raise typer.BadParameter(f"--format must be one of {', '.join(reports_integrity.RENDERERS)}")
    settings = Settings()
    config = settings.tenants[tenant]
    with make_engine(settings.database_url).connect() as conn:
        found = reports_integrity.load_signals(conn, tenant, config, period)
        budget = reports_budget.load(conn, tenant, config, period) if fmt == "html" else ([], {})
    text = reports_integrity.RENDERERS[fmt](tenant, period, found)
    if budget[0]:  # the budget ceiling (issue 18), for a tenant with a pagu
        text = text.replace("</body>", reports_budget.as_html_section(*budget) + "</body>", 1)
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}: {len(found)} signal(s)")
    else:
        typer.echo(text, nl=False)
