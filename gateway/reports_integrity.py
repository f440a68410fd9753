"""The integrity report (`gateway report --kind integrity`): the period's evidence integrity signals for the
inspectorate, as HTML (an inline SVG chart per rule, no scripts), CSV or JSON. Internal audience: it names NIPs
and record ids. Signals come from `gateway.mappings.integrity` over the stored records; they change no money."""

from __future__ import annotations

import csv
import html
import io
import json
from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection

from gateway import feed
from gateway.errors import ConfigurationError
from gateway.mappings import get_scheme
from gateway.mappings.integrity import RULES, Signal, signals, thresholds_for
from gateway.settings import TenantConfig
from gateway.store import repository as repo

KINDS = ("activity", "evidence", "approval")


def load_signals(conn: Connection, tenant: str, config: TenantConfig, period: str) -> list[Signal]:
    """The period's signals from what is stored, under the tenant's thresholds."""
    try:
        scheme = get_scheme(config.scheme)
        scheme_settings = scheme.settings_model.model_validate(config.settings)
        thresholds = thresholds_for(config.integrity, scheme_settings)
    except (KeyError, ValidationError) as exc:
        raise ConfigurationError(f"tenant {tenant!r}: integrity thresholds or scheme settings are wrong: {exc}; fix "
                                 f"the [tenants.{tenant}] section") from exc
    return signals(repo.load_period(conn, tenant, period, kinds=KINDS), thresholds)


def signal_events(found: list[Signal], tenant: str, period: str, now: datetime) -> list[feed.CloudEvent]:
    """One `integrity.signal` event per signal; the same signal found again makes the same event id."""
    return [feed.event(feed.events.INTEGRITY_SIGNAL, tenant, s.key, {
        "period": period, "rule": s.rule, "subject": s.subject, "nips": list(s.nips), "records": list(s.records),
        "message": s.message}, now, f"{period}:{','.join(s.records)}") for s in found]


def as_json(tenant: str, period: str, found: list[Signal]) -> str:
    return json.dumps({"tenant": tenant, "period": period, "signals": [
        {"rule": s.rule, "subject": s.subject, "nips": list(s.nips), "records": list(s.records),
         "message": s.message} for s in found]}, indent=1)


def as_csv(tenant: str, period: str, found: list[Signal]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["tenant", "period", "rule", "subject", "nips", "records", "message"])
    for s in found:
        writer.writerow([tenant, period, s.rule, s.subject, " ".join(s.nips), " ".join(s.records), s.message])
    return out.getvalue()


def _chart(counts: Counter[str]) -> str:
    top = max(counts.values(), default=0) or 1
    bars = []
    for i, rule in enumerate(RULES):
        width = round(360 * counts[rule] / top)
        y = 10 + 28 * i
        bars.append(f'<text x="0" y="{y + 14}" font-size="12">{rule}</text>'
                    f'<rect x="130" y="{y}" width="{width}" height="18" fill="#b03a2e"/>'
                    f'<text x="{136 + width}" y="{y + 14}" font-size="12">{counts[rule]}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="540" height="{20 + 28 * len(RULES)}" '
            f'role="img" aria-label="signals per rule">{"".join(bars)}</svg>')


def as_html(tenant: str, period: str, found: list[Signal]) -> str:
    e = html.escape
    counts = Counter(s.rule for s in found)
    rows = "".join(f"<tr><td>{e(s.rule)}</td><td>{e(s.subject)}</td><td>{e(' '.join(s.nips))}</td>"
                   f"<td>{len(s.records)}: {e(' '.join(s.records[:20]))}{' ...' if len(s.records) > 20 else ''}"
                   f"</td><td>{e(s.message)}</td></tr>" for s in found)
    return (f"<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>Integrity signals {e(tenant)} "
            f"{e(period)}</title><style>body{{font-family:sans-serif}}td,th{{border:1px solid #ccc;padding:2px 6px;"
            f"vertical-align:top}}table{{border-collapse:collapse}}</style></head><body>"
            f"<h1>Evidence integrity signals: {e(tenant)} {e(period)}</h1><p>Internal (inspectorate): names "
            f"employees. A signal is a pattern to look at, not a finding; it changes no amount.</p>"
            f"{_chart(counts)}<table><tr><th>rule</th><th>subject</th><th>employees</th><th>records</th>"
            f"<th>what was seen</th></tr>{rows}</table></body></html>\n")


RENDERERS: dict[str, Any] = {"html": as_html, "csv": as_csv, "json": as_json}

__all__ = ["RENDERERS", "as_csv", "as_html", "as_json", "load_signals", "signal_events"]
