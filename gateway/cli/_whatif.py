"""`gateway whatif -t T -p P --set KEY=VALUE ...`: the period under changed scheme settings, writing nothing
(gateway/whatif.py). A table by default, `--json` for scripts, `-f html` for a page to share."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway.cli import JsonOpt, PeriodOpt, TenantOpt, _check_period, _rupiah
from gateway.errors import ConfigurationError


def _signed(amount: int) -> str:
    return ("+" if amount > 0 else "") + _rupiah(amount).replace("Rp -", "-Rp ")


def render_html(found: object) -> str:
    from gateway.whatif import WhatIf

    assert isinstance(found, WhatIf)
    rows = [*found.opds, found.total]
    body = "\n".join(
        f"<tr><td>{html.escape(o.opd_id)}</td><td>{html.escape(o.opd)}</td><td>{_rupiah(o.today)}</td>"
        f"<td>{_rupiah(o.changed)}</td><td>{_signed(o.difference)}</td><td>{o.gain}</td><td>{o.lose}</td>"
        f"<td>{o.stay}</td></tr>" for o in rows)
    changes = ", ".join(f"{html.escape(k)} = {html.escape(json.dumps(v, default=str))}"
                        for k, v in found.changes.items()) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>What-if {html.escape(found.tenant)} {found.period}</title>
<style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;text-align:right}} td:nth-child(-n+2){{text-align:left}}
tr:last-child{{font-weight:bold}}</style></head><body>
<h1>What-if: {html.escape(found.tenant)}, {found.period}</h1>
<p>Changed settings: {changes}. Computed from the stored inputs; nothing was saved or sent.</p>
<table><thead><tr><th>OPD id</th><th>OPD</th><th>today</th><th>under the change</th><th>difference</th>
<th>gain</th><th>lose</th><th>stay</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""


def register(app: typer.Typer) -> None:
    @app.command()
    def whatif(tenant: TenantOpt, period: PeriodOpt,
               changes: Annotated[list[str], typer.Option("--set", metavar="KEY=VALUE", help=(
                   "a scheme setting to change: KEY a dotted path into [tenants.<t>.settings], VALUE a TOML value "
                   "or a string; repeatable"))],
               as_json: JsonOpt = False,
               fmt: Annotated[str, typer.Option("--format", "-f", help="table or html")] = "table",
               out: Annotated[Path | None, typer.Option("--out", help="write here instead of stdout")] = None,
               ) -> None:
        """The period computed from the stored inputs with changed scheme settings, against today's results, per
        OPD and in total; writes nothing and sends nothing."""
        from gateway.settings import Settings
        from gateway.store import make_engine
        from gateway.whatif import WhatIfError, what_if

        period = _check_period(period)
        if fmt not in ("table", "html"):
            raise typer.BadParameter("--format must be table or html")
        settings = Settings()
        try:
            found = what_if(make_engine(settings.database_url), tenant, settings.tenants[tenant], period, changes,
                            max_employees=settings.compute_max_employees)
        except (WhatIfError, ConfigurationError) as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        if as_json:
            text = json.dumps(found.as_json(), indent=1, default=str) + "\n"
        elif fmt == "html":
            text = render_html(found)
        else:
            text = ""
        if out is not None and text:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {out}")
            return
        if text:
            typer.echo(text, nl=False)
            return
        console = Console(width=140)
        changed = ", ".join(f"{k} = {v!r}" for k, v in found.changes.items())
        table = Table(title=f"{tenant} {period}: what if {escape(changed)} (nothing saved or sent)")
        for col in ("OPD", "today", "under the change", "difference", "gain", "lose", "stay"):
            table.add_column(col, justify="left" if col == "OPD" else "right")
        for o in [*found.opds, found.total]:
            table.add_row(escape(o.opd if o.opd == "total" else f"{o.opd} ({o.opd_id})"), _rupiah(o.today),
                          _rupiah(o.changed), _signed(o.difference), str(o.gain), str(o.lose), str(o.stay))
        console.print(table)
