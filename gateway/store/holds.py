"""Held employees and released periods: an outage holds an employee's money back, it never underpays.

An employee with evidence BKN or BSrE could not check (`TteConclusion.UNAVAILABLE`, or never checked) is held:
no result is stored for them this computation, nothing goes to payroll, and what was already computed or paid stays
as it was. The next verification asks again; when every check has concluded, the next computation pays them. An
operator who cannot wait releases the period (`gateway release`, audited): the held employees are then computed with
the unchecked evidence counted as refused, their explanation says so, and a later check that comes back valid makes
the arrears an ordinary adjustment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from gateway.store._safe import safe_text
from gateway.store.tables import holds, releases

EVIDENCE_SHOWN = 4000  # characters of evidence ids kept per hold (the rest is counted)


@dataclass(frozen=True)
class Release:
    actor: str
    reason: str
    released_at: datetime


def _evidence_text(ids: Sequence[str]) -> str:
    text = ", ".join(ids)
    if len(text) <= EVIDENCE_SHOWN:
        return text
    cut = text[:EVIDENCE_SHOWN].rsplit(", ", 1)[0]
    return f"{cut} and {len(ids) - cut.count(', ') - 1} more"


def replace(conn: Connection, tenant: str, period: str, held: Mapping[str, tuple[Sequence[str], str]],
            now: datetime) -> list[str]:
    """Make `held` (NIP -> (evidence ids, reason)) the period's holds; returns the NIPs newly held. A hold that goes
    on keeps its `since`."""
    c = holds.c
    since = {nip: at for nip, at in conn.execute(select(c.nip, c.since).where(c.tenant == tenant,
                                                                                c.period == period))}
    conn.execute(delete(holds).where(c.tenant == tenant, c.period == period))
    ordered = sorted(held)
    for start in range(0, len(ordered), 2_000):  # a city's holds in slices, not all rows built at once
        conn.execute(insert(holds), [
            {"tenant": tenant, "period": period, "nip": nip, "evidence": _evidence_text(held[nip][0]),
             "reason": safe_text(held[nip][1], 2000), "since": since.get(nip, now)}
            for nip in ordered[start:start + 2_000]])
    return sorted(set(held) - set(since))


def load(conn: Connection, tenant: str, period: str | None = None, nip: str | None = None) -> list[dict[str, Any]]:
    query = select(holds).where(holds.c.tenant == tenant)
    if period is not None:
        query = query.where(holds.c.period == period)
    if nip is not None:
        query = query.where(holds.c.nip == nip)
    return [dict(r) for r in conn.execute(query.order_by(holds.c.period, holds.c.nip)).mappings()]


def release(conn: Connection, tenant: str, period: str, actor: str, reason: str, now: datetime) -> bool:
    """Record the operator's release of a period; False if it was released before (the first release stands)."""
    if released(conn, tenant, period) is not None:
        return False
    conn.execute(insert(releases).values(tenant=tenant, period=period, actor=actor[:128],
                                         reason=safe_text(reason, 2000), released_at=now))
    return True


def released(conn: Connection, tenant: str, period: str) -> Release | None:
    row = conn.execute(select(releases.c.actor, releases.c.reason, releases.c.released_at).where(
        releases.c.tenant == tenant, releases.c.period == period)).first()
    return Release(*row) if row else None
