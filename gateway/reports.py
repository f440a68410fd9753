"""Public reports: per-OPD summaries (no names, no NIPs) and DKI's unit report, as JSON, CSV or HTML.

Safe to publish: no cell (an OPD, a unit in a month, a score band) computed from fewer than `k` employees (the
tenant's `report_min_employees`, default 5) shows an average, share or amount. Such cells are folded into one
"Lainnya" row with its count, and where "Lainnya" or the total would give a folded cell away by subtraction the
next-smallest cell is folded too (`gateway.domain.disclosure.plan`). Merge/closure candidates are shown only to
the `internal` audience.

The HTML page is in Indonesian (labels, month names, number format: Rp 1.234.567, decimals with a comma) and
self-contained (inline SVG charts with their scales, no scripts, no external assets), so it can be published as
it is. Figures are exact until shown: shares and averages are rounded for display only. Every report carries
the head of the tenant's audit chain (`gateway.store.audit.head`), an anchor kept outside the database.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, Literal

from babel.dates import format_date
from babel.numbers import format_decimal
from sqlalchemy import Connection

from gateway.domain import Period, Result, ResultStatus
from gateway.domain.disclosure import plan
from gateway.mappings import get_scheme
from gateway.settings import TenantConfig
from gateway.store import audit
from gateway.store import repository as repo

Audience = Literal["public", "internal"]
AUDIENCES: tuple[Audience, ...] = ("public", "internal")
LOCALE = "id_ID"
OTHER = "Lainnya"
TOTAL = "Jumlah"


def _dec(value: Fraction, places: int = 2) -> str:
    q = Decimal(1).scaleb(-places)
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(q, rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class OpdSummary:
    """One published row per OPD, the "Lainnya" row or the total. A figure is None where it may not be shown."""

    opd_id: str | None  # None: "Lainnya" or the total
    opd: str
    opds: int  # OPDs the row holds
    employees: int
    paid_full: int
    paid_partly: int
    paid_nothing: int
    average_score: str | None  # percent of the ceiling, 2 decimals
    indicators: int | None
    indicators_met: int | None
    share_met: str | None  # percent, 2 decimals
    total_rupiah: int | None


@dataclass(frozen=True)
class Band:
    label: str  # "0-9", ..., "90-100"
    employees: int | None  # None: folded (fewer than k, or taken with one that was)


@dataclass(frozen=True)
class UnitRow:
    unit_id: str | None  # None: "Lainnya" or the month's total
    unit: str
    month: str
    units: int
    headcount: int
    total_points: str | None
    mean_attainment: str | None  # percent, 2 decimals


@dataclass(frozen=True)
class UnitMonth:
    month: str
    month_label: str
    rows: tuple[UnitRow, ...]
    other: UnitRow | None
    total: UnitRow


@dataclass(frozen=True)
class Candidate:
    """A unit whose mean attainment stayed below the threshold every month (internal audience only)."""

    unit_id: str
    unit: str
    attainments: tuple[str, ...]  # percent per month


@dataclass(frozen=True)
class Report:
    tenant: str
    display_name: str
    period: str
    period_label: str  # "Maret 2026", "Triwulan I 2026"
    scheme: str
    audience: Audience
    k: int
    opds: tuple[OpdSummary, ...]  # shown OPDs, by name
    other_opds: OpdSummary | None
    total: OpdSummary
    bands: tuple[Band, ...]  # employees per 10-point band of the score
    bands_other: int  # employees in folded bands
    units: tuple[UnitMonth, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    quarantined: int = 0
    audit_entries: int = 0
    audit_head: str = audit.GENESIS

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def published_cells(self) -> list[tuple[str, int]]:
        """Every row that shows a figure, with the employees it comes from (what the k rule is about)."""
        cells = [(o.opd, o.employees) for o in (*self.opds, self.other_opds, self.total)
                 if o is not None and o.average_score is not None]
        cells += [(b.label, b.employees) for b in self.bands if b.employees]
        cells += [(f"{u.unit} {u.month}", u.headcount) for m in self.units for u in (*m.rows, m.other, m.total)
                  if u is not None and u.total_points is not None]
        return cells


def month_label(month: str) -> str:
    """"2026-03" -> "Maret 2026" (CLDR's Indonesian month names); a quarter "2026-Q1" -> "Triwulan I 2026"."""
    parsed = Period.parse(month)
    if parsed.is_quarter:
        return f"Triwulan {('I', 'II', 'III', 'IV')[(parsed.first.month - 1) // 3]} {parsed.first.year}"
    return format_date(parsed.first, "MMMM y", locale=LOCALE)


def build(conn: Connection, tenant: str, config: TenantConfig, period: str,
          audience: Audience = "public") -> Report:
    results = repo.load_results(conn, tenant, period)
    names = {u.id: u.name for u in repo.staged(conn, tenant, "unit")}
    unit_rows: Sequence[Any] = ()
    candidates: tuple[Candidate, ...] = ()
    if config.scheme == "dki":
        unit_rows, candidates = _dki_units(conn, tenant, config, period)
    head = audit.head(conn, tenant)
    return assemble(tenant=tenant, config=config, period=period, audience=audience, results=results,
                    unit_names=names, unit_rows=unit_rows, candidates=candidates,
                    quarantined=len(repo.list_quarantine(conn, tenant, period)),
                    audit_entries=head.entries, audit_head=head.hash)


def assemble(*, tenant: str, config: TenantConfig, period: str, audience: Audience, results: Sequence[Result],
             unit_names: Mapping[str, str], unit_rows: Sequence[Any] = (), candidates: tuple[Candidate, ...] = (),
             quarantined: int = 0, audit_entries: int = 0, audit_head: str = audit.GENESIS) -> Report:
    """The report from what is stored (results; DKI's unit rows as `mappings.dki.UnitMonth`), suppressed for k."""
    k = config.report_min_employees
    by_opd: dict[str, list[Result]] = defaultdict(list)
    for r in sorted(results, key=lambda r: (unit_names.get(r.opd_id, r.opd_id), r.opd_id)):
        by_opd[r.opd_id].append(r)
    opd_plan = plan({opd: len(items) for opd, items in by_opd.items()}, k)
    opds = tuple(_opd(opd, unit_names.get(opd, opd), by_opd[opd], 1, True) for opd in opd_plan.shown)
    other = None
    if opd_plan.folded:
        other = _opd(None, OTHER, [r for opd in opd_plan.folded for r in by_opd[opd]], len(opd_plan.folded),
                     opd_plan.other_shown)
    total = _opd(None, TOTAL, list(results), len(by_opd), opd_plan.total_shown)
    histogram = [0] * 10
    for r in results:
        histogram[min(int(Fraction(r.score) // 10), 9)] += 1
    labels = [f"{10 * i}-{10 * i + 9 if i < 9 else 100}" for i in range(10)]
    band_plan = plan(dict(zip(labels, histogram, strict=True)), k)
    bands = tuple(Band(label, n if band_plan.shows(label) else None)
                  for label, n in zip(labels, histogram, strict=True))
    return Report(tenant=tenant, display_name=config.display_name, period=period, period_label=month_label(period),
                  scheme=config.scheme, audience=audience, k=k, opds=opds, other_opds=other, total=total,
                  bands=bands, bands_other=band_plan.other_count, units=_unit_months(unit_rows, k),
                  candidates=candidates if audience == "internal" else (), quarantined=quarantined,
                  audit_entries=audit_entries, audit_head=audit_head)


def _opd(opd_id: str | None, name: str, items: list[Result], opds: int, shown: bool) -> OpdSummary:
    count = {s: sum(1 for r in items if r.status == s) for s in ResultStatus}
    average = sum((Fraction(r.score) for r in items), Fraction(0)) / len(items) if items else None
    with_plans = [r for r in items if "indicators" in r.metrics]
    indicators = sum(int(r.metrics["indicators"]) for r in with_plans) if with_plans else None
    met = sum(int(r.metrics.get("indicators_met", "0")) for r in with_plans) if with_plans else None
    share = _dec(Fraction((met or 0) * 100, indicators)) if indicators else None
    return OpdSummary(opd_id=opd_id, opd=name, opds=opds, employees=len(items), paid_full=count[ResultStatus.FULL],
                      paid_partly=count[ResultStatus.PARTIAL], paid_nothing=count[ResultStatus.NOTHING],
                      average_score=_dec(average) if shown and average is not None else None,
                      indicators=indicators if shown else None, indicators_met=met if shown else None,
                      share_met=share if shown else None,
                      total_rupiah=sum(r.amount for r in items) if shown else None)


def _dki_units(conn: Connection, tenant: str, config: TenantConfig, period: str
               ) -> tuple[Sequence[Any], tuple[Candidate, ...]]:
    from gateway.mappings.dki import DkiSettings, unit_report

    scheme = get_scheme(config.scheme)
    settings = scheme.settings_model.model_validate(config.settings)
    assert isinstance(settings, DkiSettings), f"tenant {tenant!r}: unit rows are DKI's"
    report = unit_report(repo.load_period(conn, tenant, period), settings)
    return report.rows, tuple(Candidate(c.unit_id, c.unit_name, tuple(_dec(a * 100) for a in c.attainments))
                              for c in report.candidates)


def _unit_months(rows: Sequence[Any], k: int) -> tuple[UnitMonth, ...]:
    by_month: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        if row.headcount:
            by_month[row.month].append(row)
    out = []
    for month, items in sorted(by_month.items()):
        items.sort(key=lambda r: (r.unit_name, r.unit_id))
        p = plan({r.unit_id: r.headcount for r in items}, k)
        index = {r.unit_id: r for r in items}
        out.append(UnitMonth(
            month=month, month_label=month_label(month),
            rows=tuple(_unit(index[u].unit_id, index[u].unit_name, month, [index[u]], True) for u in p.shown),
            other=_unit(None, OTHER, month, [index[u] for u in p.folded], p.other_shown) if p.folded else None,
            total=_unit(None, TOTAL, month, items, p.total_shown)))
    return tuple(out)


def _unit(unit_id: str | None, name: str, month: str, rows: list[Any], shown: bool) -> UnitRow:
    headcount = sum(r.headcount for r in rows)
    points = sum((r.total_points for r in rows), Fraction(0))
    attained = [r for r in rows if r.mean_attainment is not None]
    staff = sum(r.headcount for r in attained)
    mean = sum((r.mean_attainment * r.headcount for r in attained), Fraction(0)) / staff if staff else None
    return UnitRow(unit_id=unit_id, unit=name, month=month, units=len(rows), headcount=headcount,
                   total_points=_dec(points) if shown else None,
                   mean_attainment=_dec(mean * 100) if shown and mean is not None else None)


# rendering ---------------------------------------------------------------------------------------------------------
def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=1, ensure_ascii=False)


def to_csv(report: Report) -> str:
    """Machine-readable rows (decimal points, no thousands separators): DKI's unit rows, or the OPD rows; the
    "Lainnya" and total rows included, with a `row` column saying which is which."""
    out = io.StringIO()
    rows: list[dict[str, Any]] = []
    if report.units:
        for m in report.units:
            rows += [{"row": kind, **asdict(u)} for kind, u in
                     [*(("unit", u) for u in m.rows), ("lainnya", m.other), ("jumlah", m.total)] if u is not None]
    else:
        rows = [{"row": kind, **asdict(o)} for kind, o in
                [*(("opd", o) for o in report.opds), ("lainnya", report.other_opds), ("jumlah", report.total)]
                if o is not None]
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def number(value: str | int | None, places: int = 2) -> str:
    """Indonesian format: 1.234.567 and 74,95; a figure that may not be shown is "–"."""
    if value is None:
        return "–"
    if isinstance(value, int):
        return format_decimal(value, locale=LOCALE)
    return format_decimal(Decimal(value), format="#,##0." + "0" * places, locale=LOCALE)


def rupiah(amount: int | None) -> str:
    return "–" if amount is None else f"Rp {number(amount)}"


def _step(maximum: float) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving at most five intervals up to `maximum`."""
    step = 1.0
    while maximum / step > 5:
        for factor in (2, 2.5, 2):
            step *= factor
            if maximum / step <= 5:
                break
    return step


def _bars(items: list[tuple[str, float | None, int]], maximum: float, fmt: Callable[[float], str],
          axis: str) -> str:
    """A horizontal bar chart as inline SVG with its scale (ticks and an axis label); values are display-only.

    Each item is (label, value or None for a folded cell: no bar, employees the value comes from)."""
    top = max(maximum, 1.0)
    step = _step(top)
    top = step * -(-top // step)
    row, left, width = 26, 300, 380
    height = row * len(items) + 50
    parts = [f'<svg class="chart" role="img" width="720" height="{height}" viewBox="0 0 720 {height}">']
    for i, (label, value, employees) in enumerate(items):
        y = 8 + row * i
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(label[:44])}</text>')
        if value is None:
            parts.append(f'<text x="{left + 6}" y="{y + 14}" font-size="12" fill="#666">digabung ke {OTHER}</text>')
            continue
        w = width * value / top
        if employees:  # an empty band has no bar, only its 0
            parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="18" fill="#2b6cb0" '
                         f'data-employees="{employees}"/>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 14}" font-size="12">{fmt(value)}</text>')
    base = 8 + row * len(items)
    parts.append(f'<line x1="{left}" y1="{base}" x2="{left + width}" y2="{base}" stroke="#333"/>')
    tick = 0.0
    while tick <= top + 1e-9:
        x = left + width * tick / top
        parts.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 5}" stroke="#333"/>'
                     f'<text class="tick" x="{x:.1f}" y="{base + 18}" font-size="11" text-anchor="middle">'
                     f'{fmt(tick)}</text>')
        tick += step
    parts.append(f'<text x="{left + width / 2}" y="{base + 38}" font-size="12" text-anchor="middle">'
                 f'{html.escape(axis)}</text></svg>')
    return "".join(parts)


def _pct(value: float) -> str:
    return f"{format_decimal(value, format='#,##0.#', locale=LOCALE)}%"


def _count(value: float) -> str:
    return format_decimal(value, format="#,##0.#", locale=LOCALE)


def _opd_row(o: OpdSummary, cls: str = "") -> str:
    name = o.opd if o.opd_id is not None else f"{o.opd} ({o.opds} OPD)"
    return (f'<tr data-employees="{o.employees}"{cls}><td>{html.escape(name)}</td><td>{number(o.employees)}</td>'
            f"<td>{number(o.paid_full)}</td><td>{number(o.paid_partly)}</td><td>{number(o.paid_nothing)}</td>"
            f'<td class="fig">{number(o.average_score)}</td><td class="fig">{number(o.share_met)}</td>'
            f'<td class="fig">{rupiah(o.total_rupiah)}</td></tr>')


def _unit_row(u: UnitRow, cls: str = "") -> str:
    name = u.unit if u.unit_id is not None else f"{u.unit} ({number(u.units)} unit)"
    return (f'<tr data-employees="{u.headcount}"{cls}><td>{html.escape(name)}</td><td>{number(u.headcount)}</td>'
            f'<td class="fig">{number(u.total_points)}</td><td class="fig">{number(u.mean_attainment)}</td></tr>')


def to_html(report: Report) -> str:
    title = f"TPP {report.display_name}, {report.period_label}"
    k = report.k
    opd_rows = "".join(_opd_row(o) for o in report.opds)
    if report.other_opds is not None:
        opd_rows += _opd_row(report.other_opds, ' class="other"')
    opd_rows += _opd_row(report.total, ' class="total"')
    scored = [o for o in (*report.opds, report.other_opds) if o is not None]
    score_chart = _bars([(o.opd if o.opd_id else f"{OTHER} ({o.opds} OPD)",
                          None if o.average_score is None else float(o.average_score), o.employees) for o in scored],
                        100.0, _pct, "rata-rata skor (% dari pagu)")
    histogram = _bars([(b.label, None if b.employees is None else float(b.employees), b.employees or 0)
                       for b in report.bands],
                      float(max((b.employees or 0 for b in report.bands), default=0)), _count, "jumlah pegawai")
    folded_bands = (f"<p>{number(report.bands_other)} pegawai pada rentang yang digabung (masing-masing kurang "
                    f"dari {k} pegawai, atau digabung agar tidak dapat dihitung dari jumlahnya).</p>"
                    if any(b.employees is None for b in report.bands) else "")
    units = "".join(
        f"<h2>Unit kerja, {html.escape(m.month_label)}</h2><table><thead><tr><th>Unit kerja</th><th>Pegawai</th>"
        "<th>Jumlah poin</th><th>Rata-rata capaian (%)</th></tr></thead><tbody>"
        + "".join(_unit_row(u) for u in m.rows)
        + (_unit_row(m.other, ' class="other"') if m.other is not None else "")
        + _unit_row(m.total, ' class="total"') + "</tbody></table>" for m in report.units)
    candidates = ""
    if report.audience == "internal" and report.candidates:
        rows = "".join(f"<tr><td>{html.escape(c.unit)}</td><td>{' / '.join(number(a) for a in c.attainments)}"
                       "</td></tr>" for c in report.candidates)
        candidates = ("<h2>Kandidat penggabungan atau penutupan unit (internal)</h2><p>Rata-rata capaian di bawah "
                      "ambang pada setiap bulan triwulan. Tidak untuk dipublikasikan.</p><table><thead><tr>"
                      f"<th>Unit kerja</th><th>Rata-rata capaian per bulan (%)</th></tr></thead><tbody>{rows}"
                      "</tbody></table>")
    audience = "Ringkasan untuk publikasi" if report.audience == "public" else "Laporan internal"
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:960px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td.fig{{white-space:nowrap}}td:first-child,th:first-child{{text-align:left}}
tr.other td{{font-style:italic}}tr.total td{{font-weight:bold;border-top:2px solid #333}}
footer{{color:#555;font-size:small;word-break:break-all}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{audience}: tanpa nama, tanpa NIP. Rata-rata, persentase dan jumlah rupiah dari kurang dari {k} pegawai tidak
ditampilkan (–): baris seperti itu digabung ke "{OTHER}" dengan jumlah pegawainya, dan bila perlu satu baris
terkecil berikutnya ikut digabung agar tidak dapat dihitung dari jumlah total. {number(report.quarantined)} data
ditahan untuk perbaikan dan tidak dihitung.</p>
<h2>Per OPD</h2>
<table><thead><tr><th>OPD</th><th>Pegawai</th><th>Dibayar penuh</th><th>Dibayar sebagian</th><th>Tidak dibayar</th>
<th>Rata-rata skor (%)</th><th>Indikator tercapai (%)</th><th>Jumlah TPP</th></tr></thead>
<tbody>{opd_rows}</tbody></table>
<h2>Rata-rata skor per OPD</h2>{score_chart}
<h2>Sebaran skor</h2>{histogram}{folded_bands}
{units}{candidates}
<footer>Skema {html.escape(report.scheme)}. Kepala rantai log audit: {report.audit_head}
({number(report.audit_entries)} entri).</footer>
</body></html>
"""


RENDERERS = {"json": to_json, "csv": to_csv, "html": to_html}
__all__ = ["AUDIENCES", "RENDERERS", "Report", "assemble", "build", "month_label", "number", "rupiah"]
