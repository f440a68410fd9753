"""Public reports: per-OPD summaries (no names, no NIPs) and DKI's unit report, as JSON, CSV or HTML.

The HTML page is self-contained (inline SVG charts, no scripts, no external assets) so it can be published
as it is. Figures are exact until shown: shares and averages are rounded for display only.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection

from gateway.domain import Result, ResultStatus
from gateway.mappings import get_scheme
from gateway.settings import TenantConfig
from gateway.store import repository as repo


def _dec(value: Fraction, places: int = 2) -> str:
    q = Decimal(1).scaleb(-places)
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(q, rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class OpdSummary:
    opd_id: str
    opd: str
    employees: int
    paid_full: int
    paid_partly: int
    paid_nothing: int
    average_score: str  # percent of the ceiling, 2 decimals
    indicators: int | None
    indicators_met: int | None
    share_met: str | None  # percent, 2 decimals
    total_rupiah: int


@dataclass(frozen=True)
class UnitRow:
    unit_id: str
    unit: str
    month: str
    total_points: str
    headcount: int
    mean_attainment: str | None
    closure_candidate: bool


@dataclass(frozen=True)
class Report:
    tenant: str
    display_name: str
    period: str
    scheme: str
    opds: tuple[OpdSummary, ...]
    score_histogram: tuple[int, ...]  # employees per 10-point band of the score: 0-9, 10-19, ..., 90-100
    units: tuple[UnitRow, ...] = ()
    quarantined: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build(conn: Connection, tenant: str, config: TenantConfig, period: str) -> Report:
    results = repo.load_results(conn, tenant, period)
    units = {u.id: u.name for u in repo.staged(conn, tenant, "unit")}
    by_opd: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_opd[r.opd_id].append(r)
    opds = tuple(_opd(opd, units.get(opd, opd), items) for opd, items in sorted(
        by_opd.items(), key=lambda kv: units.get(kv[0], kv[0])))
    histogram = [0] * 10
    for r in results:
        histogram[min(int(Fraction(r.score) // 10), 9)] += 1
    unit_rows: tuple[UnitRow, ...] = ()
    if config.scheme == "dki":
        unit_rows = _dki_units(conn, tenant, config, period)
    return Report(tenant=tenant, display_name=config.display_name, period=period, scheme=config.scheme, opds=opds,
                  score_histogram=tuple(histogram), units=unit_rows,
                  quarantined=len(repo.list_quarantine(conn, tenant, period)))


def _opd(opd_id: str, name: str, items: list[Result]) -> OpdSummary:
    count = {s: sum(1 for r in items if r.status == s) for s in ResultStatus}
    average = sum((Fraction(r.score) for r in items), Fraction(0)) / len(items)
    with_plans = [r for r in items if "indicators" in r.metrics]
    indicators = sum(int(r.metrics["indicators"]) for r in with_plans) if with_plans else None
    met = sum(int(r.metrics.get("indicators_met", "0")) for r in with_plans) if with_plans else None
    share = _dec(Fraction((met or 0) * 100, indicators)) if indicators else None
    return OpdSummary(opd_id=opd_id, opd=name, employees=len(items), paid_full=count[ResultStatus.FULL],
                      paid_partly=count[ResultStatus.PARTIAL], paid_nothing=count[ResultStatus.NOTHING],
                      average_score=_dec(average), indicators=indicators, indicators_met=met, share_met=share,
                      total_rupiah=sum(r.amount for r in items))


def _dki_units(conn: Connection, tenant: str, config: TenantConfig, period: str) -> tuple[UnitRow, ...]:
    from gateway.mappings.dki import DkiSettings, unit_report

    scheme = get_scheme(config.scheme)
    settings = scheme.settings_model.model_validate(config.settings)
    assert isinstance(settings, DkiSettings), f"tenant {tenant!r}: unit rows are DKI's"
    report = unit_report(repo.load_period(conn, tenant, period), settings)
    flagged = {c.unit_id for c in report.candidates}
    return tuple(UnitRow(unit_id=row.unit_id, unit=row.unit_name, month=row.month, total_points=_dec(row.total_points),
                         headcount=row.headcount,
                         mean_attainment=None if row.mean_attainment is None else _dec(row.mean_attainment * 100),
                         closure_candidate=row.unit_id in flagged)
                 for row in report.rows if row.headcount)


# rendering ---------------------------------------------------------------------------------------------------------
def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=1, ensure_ascii=False)


def to_csv(report: Report) -> str:
    out = io.StringIO()
    if report.units:
        rows: list[dict[str, Any]] = [asdict(u) for u in report.units]
    else:
        rows = [asdict(o) for o in report.opds]
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


FLAG = ' class="flag"'


def _rupiah(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def _bars(items: list[tuple[str, float]], maximum: float, unit: str) -> str:
    """A horizontal bar chart as inline SVG; values are display-only."""
    height = 26 * len(items) + 10
    parts = [f'<svg class="chart" role="img" width="720" height="{height}" viewBox="0 0 720 {height}">']
    for i, (label, value) in enumerate(items):
        y = 8 + 26 * i
        width = 0 if maximum <= 0 else 380 * value / maximum
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(label[:40])}</text>'
                     f'<rect x="300" y="{y}" width="{width:.1f}" height="18" fill="#2b6cb0"/>'
                     f'<text x="{306 + width:.1f}" y="{y + 14}" font-size="12">{value:g}{unit}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(report: Report) -> str:
    title = f"TPP {report.display_name}, {report.period}"
    opd_rows = "".join(
        f"<tr><td>{html.escape(o.opd)}</td><td>{o.employees}</td><td>{o.paid_full}</td><td>{o.paid_partly}</td>"
        f"<td>{o.paid_nothing}</td><td>{o.average_score}</td><td>{o.share_met if o.share_met is not None else '-'}"
        f"</td><td>{_rupiah(o.total_rupiah)}</td></tr>" for o in report.opds)
    score_chart = _bars([(o.opd, float(o.average_score)) for o in report.opds], 100.0, "%")
    bands = [f"{10 * i}-{10 * i + 9 if i < 9 else 100}" for i in range(10)]
    histogram = _bars(list(zip(bands, [float(n) for n in report.score_histogram], strict=True)),
                      float(max(report.score_histogram, default=0)), "")
    units = ""
    if report.units:
        unit_rows = "".join(
            f"<tr{FLAG if u.closure_candidate else ''}><td>{html.escape(u.unit)}</td><td>{u.month}</td>"
            f"<td>{u.total_points}</td><td>{u.headcount}</td><td>{u.mean_attainment or '-'}</td>"
            f"<td>{'merge/closure candidate' if u.closure_candidate else ''}</td></tr>" for u in report.units)
        units = ("<h2>Units</h2><table><thead><tr><th>Unit</th><th>Month</th><th>Total points</th>"
                 "<th>Headcount</th><th>Mean attainment (%)</th><th>Flag</th></tr></thead>"
                 f"<tbody>{unit_rows}</tbody></table>")
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:960px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}
tr.flag td{{background:#fde8e8}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Scheme {html.escape(report.scheme)}. Published summary: no names, no NIPs. {report.quarantined} records are
held back for correction and are not counted.</p>
<h2>Per OPD</h2>
<table><thead><tr><th>OPD</th><th>Employees</th><th>Paid in full</th><th>Paid partly</th><th>Paid nothing</th>
<th>Average score (%)</th><th>Indicators met (%)</th><th>Total (Rp)</th></tr></thead><tbody>{opd_rows}</tbody></table>
<h2>Average score per OPD</h2>{score_chart}
<h2>Distribution of scores</h2>{histogram}
{units}
</body></html>
"""


RENDERERS = {"json": to_json, "csv": to_csv, "html": to_html}
