"""What `gateway status` shows for a tenant, read from the store: the last sync per stream, the per-employee SIASN
streams, the verification backlog, open quarantine by rule, results per period, outbox rows by destination and
status (with the age of the oldest pending), payroll lines rejected and still open, and the head of the audit
chain (to be recorded outside the database: `gateway audit verify --head` then detects its newest entries
removed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from gateway.settings import TenantConfig
from gateway.store import audit
from gateway.store.tables import (
    evidence_checks,
    lookups,
    outbox,
    payroll_ledger,
    quarantine,
    records,
    results,
    sync_cursors,
)

_WAITING = ("pending", "submitted")


def tenant_status(conn: Connection, tenant: str, now: datetime) -> dict[str, Any]:
    def age(at: datetime | None) -> float | None:
        return None if at is None else round((now - at).total_seconds())

    streams = [{"stream": s, "cursor": c, "updated_at": u.isoformat(), "age_seconds": age(u)}
               for s, c, u in conn.execute(select(sync_cursors.c.stream, sync_cursors.c.cursor,
                                                  sync_cursors.c.updated_at)
                                           .where(sync_cursors.c.tenant == tenant).order_by(sync_cursors.c.stream))]
    employees = conn.execute(select(func.count()).select_from(records).where(
        records.c.tenant == tenant, records.c.kind == "employee")).scalar_one()
    per_employee = [{"stream": s, "asked": n, "of": employees, "oldest_asked_age_seconds": age(oldest)}
                    for s, n, oldest in conn.execute(
                        select(lookups.c.stream, func.count(), func.min(lookups.c.fetched_at))
                        .where(lookups.c.tenant == tenant).group_by(lookups.c.stream).order_by(lookups.c.stream))]
    check = evidence_checks
    backlog: dict[str, int] = dict(conn.execute(
        select(records.c.period, func.count())
        .select_from(records.outerjoin(check, and_(check.c.tenant == records.c.tenant,
                                                   check.c.evidence_id == records.c.id)))
        .where(records.c.tenant == tenant, records.c.kind == "evidence",
               or_(check.c.evidence_id.is_(None), check.c.tte.in_(("UNCHECKED", "UNAVAILABLE"))))
        .group_by(records.c.period).order_by(records.c.period)).all())
    rules: dict[str, int] = dict(conn.execute(select(quarantine.c.rule, func.count()).where(
        quarantine.c.tenant == tenant, quarantine.c.resolved_at.is_(None)).group_by(quarantine.c.rule)
        .order_by(quarantine.c.rule)).all())
    periods = [{"period": p, "results": n, "total": int(total or 0)} for p, n, total in conn.execute(
        select(results.c.period, func.count(), func.sum(results.c.amount))
        .where(results.c.tenant == tenant, results.c.withdrawn_at.is_(None))
        .group_by(results.c.period).order_by(results.c.period))]
    rows = [{"destination": d, "status": s, "rows": n,
             "oldest_age_seconds": age(oldest) if s in _WAITING else None}
            for d, s, n, oldest in conn.execute(
                select(outbox.c.destination, outbox.c.status, func.count(), func.min(outbox.c.created_at))
                .where(outbox.c.tenant == tenant).group_by(outbox.c.destination, outbox.c.status)
                .order_by(outbox.c.destination, outbox.c.status))]
    rejected = [{"period": p, "lines": n, "amount": int(a or 0)} for p, n, a in conn.execute(
        select(payroll_ledger.c.period, func.count(), func.sum(payroll_ledger.c.amount))
        .where(payroll_ledger.c.tenant == tenant, payroll_ledger.c.fate == "rejected")
        .group_by(payroll_ledger.c.period).order_by(payroll_ledger.c.period))]
    return {"tenant": tenant, "streams": streams, "per_employee": per_employee, "employees": employees,
            "verification_backlog": backlog, "open_quarantine": rules, "results": periods, "outbox": rows,
            "payroll_rejected": rejected, "audit_head": audit.head(conn, tenant).as_json()}


def pagu_status(conn: Connection, tenant: str, config: TenantConfig) -> dict[str, Any] | None:
    """The budget ceiling (issue 18) as of the latest period with results: per OPD with a pagu, spent this year,
    the period's computed amount and the year's forecast (gateway/domain/budget.py); None without a pagu."""
    from gateway.store.budget import budget_lines, latest_period
    from gateway.store.repository import staged

    period = latest_period(conn, tenant) if config.pagu else None
    if period is None:
        return None
    names = {u.id: u.name for u in staged(conn, tenant, "unit")}
    return {"period": period, "payment": config.payment, "opds": [
        b.as_json() | {"opd": names.get(b.opd_id) or b.opd_id}
        for b in budget_lines(conn, tenant, period, config.payment, config.pagu)]}
