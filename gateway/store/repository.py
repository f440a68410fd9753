"""Repositories over the tables. Every function takes the tenant and filters on it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Insert, Table, and_, select
from sqlalchemy.dialects import postgresql, sqlite

from gateway.domain import (
    Activity,
    Approval,
    Attendance,
    Employee,
    Evidence,
    EvidenceCheck,
    Indicator,
    Period,
    PeriodData,
    Problem,
    Programme,
    Result,
    Unit,
)
from gateway.store.tables import evidence_checks, quarantine, records, results, sync_cursors

KINDS: dict[str, type[BaseModel]] = {
    "unit": Unit, "employee": Employee, "indicator": Indicator,
    "activity": Activity, "evidence": Evidence, "approval": Approval,
    "attendance": Attendance, "programme": Programme,
}


def dialect_insert(conn: Connection, table: Table) -> Any:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def content_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class StageCount:
    new: int = 0
    changed: int = 0
    unchanged: int = 0


def stage(conn: Connection, tenant: str, kind: str, items: Sequence[BaseModel], period: str | None,
          now: datetime) -> StageCount:
    """Upsert validated records of one kind; counts what was new, changed and unchanged."""
    count = StageCount()
    if not items:
        return count
    ids = [_record_id(kind, item) for item in items]
    existing = dict(conn.execute(
        select(records.c.id, records.c.content_hash).where(
            records.c.tenant == tenant, records.c.kind == kind, records.c.id.in_(ids))).all())
    rows = []
    for rid, item in zip(ids, items, strict=True):
        payload = item.model_dump(mode="json")
        digest = content_hash(payload)
        if existing.get(rid) == digest:
            count.unchanged += 1
            continue
        if rid in existing:
            count.changed += 1
        else:
            count.new += 1
        rows.append({"tenant": tenant, "kind": kind, "id": rid, "period": period,
                     "nip": getattr(item, "nip", None), "content_hash": digest, "payload": payload,
                     "staged_at": now})
    if rows:
        stmt: Insert = dialect_insert(conn, records)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["tenant", "kind", "id"],
            set_={c: stmt.excluded[c] for c in ("period", "nip", "content_hash", "payload", "staged_at")}), rows)
    return count


def _record_id(kind: str, item: BaseModel) -> str:
    return str(item.nip) if kind == "employee" else str(item.id)


def staged(conn: Connection, tenant: str, kind: str, period: str | None = None) -> list[Any]:
    """Staged records of one kind; `period` may be a month or a quarter (its three months)."""
    model = KINDS[kind]
    query = select(records.c.payload).where(records.c.tenant == tenant, records.c.kind == kind)
    if period is not None:
        query = query.where(records.c.period.in_(Period.parse(period).months()))
    return [model.model_validate(p) for (p,) in conn.execute(query.order_by(records.c.id))]


def save_checks(conn: Connection, tenant: str, period: str, checks: Iterable[EvidenceCheck],
                now: datetime) -> None:
    rows = [{"tenant": tenant, "evidence_id": c.evidence_id, "period": period, "actual_sha256": c.actual_sha256,
             "tte": c.tte.value, "tte_description": c.tte_description, "checked_at": now} for c in checks]
    if not rows:
        return
    stmt = dialect_insert(conn, evidence_checks)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["tenant", "evidence_id"],
        set_={c: stmt.excluded[c] for c in ("period", "actual_sha256", "tte", "tte_description", "checked_at")}),
        rows)


def load_checks(conn: Connection, tenant: str, period: str) -> list[EvidenceCheck]:
    rows = conn.execute(select(evidence_checks).where(
        evidence_checks.c.tenant == tenant, evidence_checks.c.period.in_(Period.parse(period).months()))).mappings()
    return [EvidenceCheck(evidence_id=r["evidence_id"], actual_sha256=r["actual_sha256"], tte=r["tte"],
                          tte_description=r["tte_description"]) for r in rows]


def load_period(conn: Connection, tenant: str, period: str) -> PeriodData:
    return PeriodData(
        tenant=tenant, period=period,
        units=tuple(staged(conn, tenant, "unit")),
        employees=tuple(staged(conn, tenant, "employee")),
        indicators=tuple(staged(conn, tenant, "indicator", period)),
        activities=tuple(staged(conn, tenant, "activity", period)),
        evidence=tuple(staged(conn, tenant, "evidence", period)),
        approvals=tuple(staged(conn, tenant, "approval", period)),
        checks=tuple(load_checks(conn, tenant, period)),
        attendance=tuple(staged(conn, tenant, "attendance", period)),
        programmes=tuple(staged(conn, tenant, "programme", period)),
    )


def add_quarantine(conn: Connection, tenant: str, period: str | None, problems: Iterable[Problem],
                   payloads: dict[str, Any] | None, now: datetime) -> int:
    """Record problems; a problem already open for the same record and rule is kept once."""
    # "" rather than NULL for records outside any period: NULL never conflicts, so they would pile up.
    rows = [{"tenant": tenant, "period": period or "", "record_kind": p.record_kind, "record_id": p.record_id,
             "rule": p.rule, "message": p.message, "payload": (payloads or {}).get(p.record_id),
             "created_at": now} for p in problems]
    if not rows:
        return 0
    stmt = dialect_insert(conn, quarantine)
    result = conn.execute(stmt.on_conflict_do_update(
        index_elements=["tenant", "period", "record_kind", "record_id", "rule"],
        set_={"message": stmt.excluded.message, "payload": stmt.excluded.payload}), rows)
    return result.rowcount


def list_quarantine(conn: Connection, tenant: str, period: str | None = None) -> list[dict[str, Any]]:
    query = select(quarantine).where(quarantine.c.tenant == tenant, quarantine.c.resolved_at.is_(None))
    if period is not None:
        query = query.where(quarantine.c.period.in_((period, "")))
    return [dict(r) for r in conn.execute(query.order_by(quarantine.c.id)).mappings()]


def save_results(conn: Connection, items: Sequence[Result], now: datetime) -> None:
    if not items:
        return
    rows = [{**r.model_dump(mode="json", exclude={"lines", "input_ids"}),
             "lines": [line.model_dump(mode="json") for line in r.lines], "input_ids": list(r.input_ids),
             "computed_at": now} for r in items]
    stmt = dialect_insert(conn, results)
    keys = [c for c in rows[0] if c not in ("tenant", "period", "nip")]
    conn.execute(stmt.on_conflict_do_update(index_elements=["tenant", "period", "nip"],
                                            set_={c: stmt.excluded[c] for c in keys}), rows)


def load_results(conn: Connection, tenant: str, period: str, nip: str | None = None) -> list[Result]:
    query = select(results).where(results.c.tenant == tenant, results.c.period == period)
    if nip is not None:
        query = query.where(results.c.nip == nip)
    rows = conn.execute(query.order_by(results.c.nip)).mappings()
    return [Result.model_validate({**{k: v for k, v in r.items() if k != "computed_at"},
                                   "metrics": r["metrics"] or {}}) for r in rows]


def get_cursor(conn: Connection, tenant: str, stream: str) -> str | None:
    return conn.execute(select(sync_cursors.c.cursor).where(
        and_(sync_cursors.c.tenant == tenant, sync_cursors.c.stream == stream))).scalar_one_or_none()


def set_cursor(conn: Connection, tenant: str, stream: str, cursor: str, now: datetime) -> None:
    stmt = dialect_insert(conn, sync_cursors)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["tenant", "stream"], set_={"cursor": stmt.excluded.cursor, "updated_at": now}),
        [{"tenant": tenant, "stream": stream, "cursor": cursor, "updated_at": now}])
