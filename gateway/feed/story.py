"""The rest of the story on the feed: payroll's answers, adjustments and quarantine, each published through
`writer.publish` in the transaction that commits the fact it reports.

- payroll batch acknowledged / line rejected: in the relay's record transaction, from the outcomes it settles in
  the ledger (`payroll_answered`);
- adjustment issued: in the computation's transaction, from the ledger lines `ledger.bring_to` just wrote
  (`adjustments`);
- quarantine opened / resolved: in the sync page's or the computation's transaction (`quarantine`).

Ids are derived from the fact (the batch key, the line id, the quarantine entry's natural key and when it was
opened or resolved), so a transaction retried from the same state makes the same events, and the writer skips an
event batch already written. Only NIPs identify people here: no names, no bank accounts, no upstream payloads or
messages (a quarantine message may quote the record).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from gateway.feed import writer
from gateway.feed.events import (
    ADJUSTMENT_ISSUED,
    BATCH_ACKNOWLEDGED,
    LINE_REJECTED,
    QUARANTINE_OPENED,
    QUARANTINE_RESOLVED,
    CloudEvent,
    event,
)
from gateway.store.tables import outbox, payroll_ledger


def _batch(tenant: str, period: str, key: str) -> str:
    prefix = f"{tenant}:{period}:"
    return key[len(prefix):] if key.startswith(prefix) else key


def payroll_answered(conn: Connection, outcomes: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], Any]],
                     now: datetime) -> None:
    """The relay recorded these payroll rows' outcomes: each delivered row is a batch payroll answered (one
    `batch-acknowledged` event) and each line it refused a `line-rejected` event."""
    from gateway.outbox.ledger import ACKNOWLEDGED, PENDING, REJECTED, answered_fates

    by_period: dict[tuple[str, str], list[CloudEvent]] = {}
    for row, values, _error in outcomes:
        if values.get("status") != "delivered":
            continue
        tenant, period, payload = row["tenant"], row["period"], row["payload"]
        batch = _batch(tenant, period, row["idempotency_key"])
        lines = {ln["line_id"]: ln for ln in payload.get("lines", [])}
        fates: dict[str, list[str]] = {ACKNOWLEDGED: [], REJECTED: [], PENDING: []}
        reasons: dict[str, str] = {}
        for (fate, reason), line_ids in answered_fates(row, values.get("answer")).items():
            fates.setdefault(fate, []).extend(line_ids)
            if fate == REJECTED:
                reasons.update(dict.fromkeys(line_ids, reason or "rejected"))
        kinds = {ln.get("kind", "tpp") for ln in lines.values()}
        events = by_period.setdefault((tenant, period), [])
        events.append(event(BATCH_ACKNOWLEDGED, tenant, batch, {
            "period": period, "opd_id": payload.get("opd_id", ""), "batch": batch,
            "kind": "adjustment" if "adjustment" in kinds else "tpp", "lines": len(lines),
            "acknowledged": sorted(fates[ACKNOWLEDGED]), "rejected": sorted(fates[REJECTED]),
            "pending": sorted(fates[PENDING]),
            "acknowledged_amount": sum(int(lines[i]["amount"]) for i in fates[ACKNOWLEDGED])}, now, "acknowledged"))
        for line_id in sorted(fates[REJECTED]):
            line = lines[line_id]
            events.append(event(LINE_REJECTED, tenant, line["nip"], {
                "period": period, "nip": line["nip"], "opd_id": payload.get("opd_id", ""), "line_id": line_id,
                "batch": batch, "amount": int(line["amount"]), "reason": reasons[line_id][:500]}, now,
                f"{line_id}:rejected"))
    for (tenant, period), events in sorted(by_period.items()):
        writer.publish(conn, tenant, period, events, now)


def lines_refused(conn: Connection, tenant: str, period: str, nips: Iterable[str],
                  ) -> list[dict[str, Any]]:
    """The acknowledged lines of these NIPs, about to be rejected after the fact (a SIPD workbook the finance
    office sent back): call before `ledger.reject`, then `publish_refused` with what it returns."""
    from gateway.outbox.ledger import ACKNOWLEDGED

    wanted = sorted(set(nips))
    return [dict(r) for r in conn.execute(
        select(payroll_ledger.c.nip, payroll_ledger.c.opd_id, payroll_ledger.c.line_id, payroll_ledger.c.amount,
               outbox.c.idempotency_key).join(outbox, outbox.c.id == payroll_ledger.c.outbox_id)
        .where(payroll_ledger.c.tenant == tenant, payroll_ledger.c.period == period,
               payroll_ledger.c.nip.in_(wanted), payroll_ledger.c.fate == ACKNOWLEDGED)
        .order_by(payroll_ledger.c.id)).mappings()]


def publish_refused(conn: Connection, tenant: str, period: str, lines: Iterable[Mapping[str, Any]], reason: str,
                    now: datetime) -> None:
    """One `line-rejected` event per line rejected after the fact (`lines_refused`)."""
    events = [event(LINE_REJECTED, tenant, ln["nip"], {
        "period": period, "nip": ln["nip"], "opd_id": ln["opd_id"], "line_id": ln["line_id"],
        "batch": _batch(tenant, period, ln["idempotency_key"]), "amount": int(ln["amount"]),
        "reason": reason[:500]}, now, f"{ln['line_id']}:rejected") for ln in lines]
    if events:
        writer.publish(conn, tenant, period, events, now)


def adjustments(conn: Connection, tenant: str, period: str, keys: Iterable[str], now: datetime) -> None:
    """One `adjustment-issued` event per adjustment line of the payroll rows `keys` (just written)."""
    wanted = list(keys)
    if not wanted:
        return
    events = []
    for start in range(0, len(wanted), 500):
        rows = conn.execute(select(payroll_ledger.c.nip, payroll_ledger.c.opd_id, payroll_ledger.c.line_id,
                                   payroll_ledger.c.amount, outbox.c.idempotency_key)
                            .join(outbox, outbox.c.id == payroll_ledger.c.outbox_id)
                            .where(outbox.c.tenant == tenant, payroll_ledger.c.tenant == tenant,
                                   outbox.c.idempotency_key.in_(wanted[start:start + 500]),
                                   payroll_ledger.c.kind == "adjustment")
                            .order_by(payroll_ledger.c.id))
        for nip, opd, line_id, amount, key in rows:
            events.append(event(ADJUSTMENT_ISSUED, tenant, nip, {
                "period": period, "nip": nip, "opd_id": opd, "line_id": line_id,
                "batch": _batch(tenant, period, key), "amount": int(amount)}, now, f"{line_id}:issued"))
    writer.publish(conn, tenant, period, events, now)


def _entry_key(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    return entry["record_kind"], entry["record_id"], entry["rule"]


def quarantine(conn: Connection, tenant: str, period: str | None, opened: Iterable[Mapping[str, Any]],
               resolved: Iterable[Mapping[str, Any]], now: datetime) -> None:
    """`opened` / `resolved`: quarantine rows (repository.open_entries / the resolve functions' `closed`). The
    aggregate is the record: tenant/period/<record_kind>:<record_id> (period `-` outside any period)."""
    month = period or ""
    events = []
    for entry, kind in [(e, QUARANTINE_OPENED) for e in sorted(opened, key=_entry_key)] + [
            (e, QUARANTINE_RESOLVED) for e in sorted(resolved, key=_entry_key)]:
        subject = f"{entry['record_kind']}:{entry['record_id']}"
        data: dict[str, Any] = {"period": entry.get("period") or month, "record_kind": entry["record_kind"],
                                "record_id": entry["record_id"], "rule": entry["rule"],
                                "opened_at": entry["created_at"]}
        version = f"{entry['rule']}|opened|{entry['created_at'].isoformat()}"
        if kind == QUARANTINE_RESOLVED:
            data |= {"resolved_at": entry["resolved_at"], "resolution": entry["resolution"],
                     "reason": entry["resolution_reason"] or ""}
            version = f"{entry['rule']}|resolved|{entry['resolved_at'].isoformat()}"
        events.append(event(kind, tenant, subject, data, now, version,
                            partitionkey=f"{tenant}/{data['period'] or '-'}/{subject}"[:128]))
    if events:
        writer.publish(conn, tenant, month, events, now)
