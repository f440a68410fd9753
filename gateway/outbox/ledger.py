"""The payroll ledger: every line ever asked of payroll, per tenant, period and NIP, with its fate.

Payroll nets per employee, not per batch. What an employee is *covered* for is the sum of their lines that are
pending (asked, no answer yet), acknowledged (booked) or unknown (their batch went dead after it may have
reached payroll): an unknown line is never treated as unpaid. Rejected, unsent and void lines cover nothing.
New lines are always the difference between a target (the latest result) and that cover, written in the
employee's current OPD batch, whatever OPD or batch the earlier lines went in.

A line whose arrears payroll rejected (no bank account, unknown NIP, budget) holds that employee's further
arrears for the operator (`gateway reconcile`), so the same refusal is not sent again on every computation;
recoveries still go out, so payroll never keeps more than the latest result.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from gateway.outbox._rows import insert_row
from gateway.store.tables import outbox, payroll_ledger

PAYROLL = "payroll"
PENDING, ACKNOWLEDGED, REJECTED, UNKNOWN, UNSENT, VOID = (
    "pending", "acknowledged", "rejected", "unknown", "unsent", "void")
COVERING = frozenset({PENDING, ACKNOWLEDGED, UNKNOWN})


@dataclass
class Position:
    """One employee's standing with payroll for one period, read from the ledger."""

    covered: int = 0  # pending + acknowledged + unknown
    acknowledged: int = 0
    pending: int = 0
    unknown: int = 0
    rejected: int = 0  # amounts of open rejections
    reasons: list[str] = field(default_factory=list)  # of the open rejections
    lines: int = 0  # every line ever written for this NIP and period: makes each new batch's key new
    last_opd: str | None = None


@dataclass(frozen=True)
class Target:
    """What payroll should hold for one NIP: `amount` rupiah, paid through `opd_id`'s batch."""

    opd_id: str
    amount: int


def positions(conn: Connection, tenant: str, period: str, nips: Iterable[str] | None = None) -> dict[str, Position]:
    """Every NIP's position in one query per period (optionally only `nips`)."""
    query = (select(payroll_ledger.c.nip, payroll_ledger.c.opd_id, payroll_ledger.c.amount, payroll_ledger.c.fate,
                    payroll_ledger.c.reason)
             .where(payroll_ledger.c.tenant == tenant, payroll_ledger.c.period == period)
             .order_by(payroll_ledger.c.id))
    wanted = set(nips) if nips is not None else None
    out: dict[str, Position] = {}
    for nip, opd, amount, fate, reason in conn.execute(query):
        if wanted is not None and nip not in wanted:
            continue
        p = out.setdefault(nip, Position())
        p.lines += 1
        p.last_opd = opd
        if fate in COVERING:
            p.covered += amount
        if fate == ACKNOWLEDGED:
            p.acknowledged += amount
        elif fate == PENDING:
            p.pending += amount
        elif fate == UNKNOWN:
            p.unknown += amount
        elif fate == REJECTED:
            p.rejected += amount
            p.reasons.append(reason or "rejected")
    return out


def covering_lines(conn: Connection, tenant: str, period: str, nips: Iterable[str]) -> dict[str, list[str]]:
    """NIP -> the ids of the lines that make up what payroll holds or will hold for them (pending, acknowledged,
    unknown), oldest first."""
    wanted = list(nips)
    out: dict[str, list[str]] = {}
    for start in range(0, len(wanted), 1000):
        query = (select(payroll_ledger.c.nip, payroll_ledger.c.line_id).where(
            payroll_ledger.c.tenant == tenant, payroll_ledger.c.period == period,
            payroll_ledger.c.nip.in_(wanted[start:start + 1000]), payroll_ledger.c.fate.in_(COVERING))
            .order_by(payroll_ledger.c.id))
        for nip, line_id in conn.execute(query):
            out.setdefault(nip, []).append(line_id)
    return out


def _key(tenant: str, period: str, opd: str, kind: str, lines: list[tuple[str, int, int]]) -> str:
    # The lines' NIPs, amounts and ledger positions: the same key only for the same request from the same ledger
    # state (a resend), never for another amount, nor for the same amount asked again later.
    digest = hashlib.sha256(json.dumps(lines, sort_keys=True).encode()).hexdigest()[:16]
    return f"{tenant}:{period}:{opd}:{kind}:{digest}"


def bring_to(conn: Connection, tenant: str, period: str, targets: Mapping[str, Target], now: datetime, *,
             hold_rejected: bool = True) -> list[str]:
    """Write the outbox rows (and their ledger lines, in the caller's transaction) that bring payroll from the
    ledger to `targets`; NIPs not in `targets` are left alone. Per OPD, first payments go in a `tpp` batch and
    differences in an `adjustment` batch of their own. Returns the idempotency keys written."""
    standing = positions(conn, tenant, period, targets.keys())
    batches: dict[tuple[str, str], list[tuple[str, int, int]]] = defaultdict(list)
    for nip, target in sorted(targets.items()):
        p = standing.get(nip) or Position()
        delta = target.amount - p.covered
        if delta == 0 or (delta > 0 and hold_rejected and p.rejected):
            continue
        kind = "tpp" if p.covered == 0 and delta > 0 else "adjustment"
        batches[(target.opd_id, kind)].append((nip, delta, p.lines))
    written = []
    for (opd, kind), lines in sorted(batches.items()):
        key = _key(tenant, period, opd, kind, lines)
        payload: dict[str, Any] = {"tenant": tenant, "period": period, "opd_id": opd, "lines": [
            {"line_id": f"{key}:{nip}", "nip": nip, "amount": amount, "kind": kind} for nip, amount, _ in lines]}
        row_id = insert_row(conn, tenant, period, PAYROLL, f"{tenant}/{period}/{opd}", key, payload, now)
        if row_id is None:
            continue  # the identical request from the identical ledger state is queued already
        conn.execute(payroll_ledger.insert(), [
            {"tenant": tenant, "period": period, "nip": ln["nip"], "opd_id": opd, "outbox_id": row_id,
             "line_id": ln["line_id"], "amount": ln["amount"], "kind": kind, "fate": PENDING, "reason": None,
             "created_at": now, "updated_at": now} for ln in payload["lines"]])
        written.append(key)
    return written


# Fates from payroll's answers ------------------------------------------------------------------------------------
_ANSWERED = {"accepted": ACKNOWLEDGED, "rejected": REJECTED, "pending": PENDING}


def settle(conn: Connection, row: Mapping[str, Any], values: Mapping[str, Any], error: Any, now: datetime) -> None:
    """What one payroll row's recorded outcome means for its lines (see `settle_many`)."""
    settle_many(conn, [(row, values, error)], now)


def settle_many(conn: Connection, outcomes: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], Any]],
                now: datetime) -> None:
    """What the recorded outcomes of a relay's claim mean for their lines, in the transaction that records them:
    delivered -> payroll's per-line answer; dead -> unsent if refused outright, else unknown; anything else
    changes no line. A row whose lines all take one fate (the usual case) is settled by its outbox id, together
    with the other rows that take that fate: a claim of a hundred rows costs a few statements, not a hundred."""
    whole: dict[tuple[str, str, str | None, tuple[str, ...]], list[int]] = defaultdict(list)
    fates: dict[tuple[str, str | None], list[str]]
    only: tuple[str, ...]
    reason: str | None
    for row, values, error in outcomes:
        if values.get("status") == "delivered":
            fates, only = _answered_fates(row, values.get("answer")), (PENDING, UNKNOWN, UNSENT)
        elif values.get("status") == "dead":
            refused = bool(getattr(error, "refused", False))
            reason = str(values.get("last_error") or "dead letter")[:500]
            line_ids = [ln["line_id"] for ln in row["payload"].get("lines", [])]
            fates = {(UNSENT if refused else UNKNOWN, reason): line_ids}
            only = (PENDING,)
        else:
            continue
        if len(fates) == 1:
            (fate, reason), = fates
            whole[(row["tenant"], fate, reason, only)].append(row["id"])
            continue
        for (fate, reason), line_ids in fates.items():  # mixed answers: by line id
            _set_fate(conn, row, line_ids, fate, reason, now, only=only)
    for (tenant, fate, reason, only), outbox_ids in whole.items():
        for start in range(0, len(outbox_ids), 500):
            conn.execute(update(payroll_ledger).where(
                payroll_ledger.c.tenant == tenant, payroll_ledger.c.outbox_id.in_(outbox_ids[start:start + 500]),
                payroll_ledger.c.fate.in_(only)).values(fate=fate, reason=reason, updated_at=now))


def _answered_fates(row: Mapping[str, Any],
                    answer: Mapping[str, Any] | None) -> dict[tuple[str, str | None], list[str]]:
    """Each line's fate from payroll's answer. Lines the answer does not list (a workbook, which payroll
    acknowledges as a whole) are acknowledged."""
    answered = {ln.get("line_id"): ln for ln in (answer or {}).get("lines", []) if isinstance(ln, dict)}
    fates: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for line in row["payload"].get("lines", []):
        seen = answered.get(line["line_id"])
        fate = _ANSWERED.get(str(seen.get("status")), PENDING) if seen else ACKNOWLEDGED
        fates[(fate, seen.get("reason") if seen and fate == REJECTED else None)].append(line["line_id"])
    return fates


answered_fates = _answered_fates  # the feed's payroll events read the same fates (gateway/feed/story.py)


def settle_answer(conn: Connection, row: Mapping[str, Any], answer: Mapping[str, Any] | None, now: datetime) -> None:
    """A delivered row: each line takes the fate payroll answered (`_answered_fates`)."""
    for (fate, reason), line_ids in _answered_fates(row, answer).items():
        _set_fate(conn, row, line_ids, fate, reason, now, only=(PENDING, UNKNOWN, UNSENT))


def settle_missing(conn: Connection, row: Mapping[str, Any], now: datetime) -> None:
    """Payroll says it holds no batch under this row's key: its lines were never booked."""
    line_ids = [ln["line_id"] for ln in row["payload"].get("lines", [])]
    _set_fate(conn, row, line_ids, UNSENT, "payroll holds no batch with this idempotency key", now,
              only=(PENDING, UNKNOWN))


def _set_fate(conn: Connection, row: Mapping[str, Any], line_ids: list[str], fate: str, reason: str | None,
              now: datetime, *, only: tuple[str, ...]) -> None:
    # A row's lines are found by its outbox id (indexed; the planner keeps to it even before the table's
    # statistics know its new lines), then narrowed to the line ids.
    for start in range(0, len(line_ids), 500):
        conn.execute(update(payroll_ledger).where(
            payroll_ledger.c.outbox_id == row["id"], payroll_ledger.c.tenant == row["tenant"],
            payroll_ledger.c.line_id.in_(line_ids[start:start + 500]),
            payroll_ledger.c.fate.in_(only)).values(fate=fate, reason=reason, updated_at=now))


def reject(conn: Connection, tenant: str, period: str, nip: str, reason: str, now: datetime) -> int:
    """The finance office refused an acknowledged line after the fact (a SIPD workbook it sent back)."""
    done = conn.execute(update(payroll_ledger).where(
        payroll_ledger.c.tenant == tenant, payroll_ledger.c.period == period, payroll_ledger.c.nip == nip,
        payroll_ledger.c.fate == ACKNOWLEDGED).values(fate=REJECTED, reason=reason, updated_at=now))
    return done.rowcount


def void_rejections(conn: Connection, tenant: str, period: str, nips: Iterable[str], now: datetime) -> int:
    """The operator closes open rejections (after fixing the cause), lifting the hold on arrears."""
    nips = sorted(set(nips))
    count = 0
    for start in range(0, len(nips), 500):
        count += conn.execute(update(payroll_ledger).where(
            payroll_ledger.c.tenant == tenant, payroll_ledger.c.period == period,
            payroll_ledger.c.nip.in_(nips[start:start + 500]), payroll_ledger.c.fate == REJECTED)
            .values(fate=VOID, updated_at=now)).rowcount
    return count


def lines_of(conn: Connection, tenant: str, outbox_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(payroll_ledger).where(
        payroll_ledger.c.tenant == tenant, payroll_ledger.c.outbox_id == outbox_id)
        .order_by(payroll_ledger.c.id)).mappings()]


def rejected_lines(conn: Connection, tenant: str, period: str | None = None) -> list[dict[str, Any]]:
    query = select(payroll_ledger).where(payroll_ledger.c.tenant == tenant, payroll_ledger.c.fate == REJECTED)
    if period is not None:
        query = query.where(payroll_ledger.c.period == period)
    return [dict(r) for r in conn.execute(query.order_by(payroll_ledger.c.id)).mappings()]


def payroll_rows(conn: Connection, tenant: str, period: str, statuses: Iterable[str] | None = None
                 ) -> list[dict[str, Any]]:
    query = select(outbox).where(outbox.c.tenant == tenant, outbox.c.period == period,
                                 outbox.c.destination == PAYROLL)
    if statuses is not None:
        query = query.where(outbox.c.status.in_(list(statuses)))
    return [dict(r) for r in conn.execute(query.order_by(outbox.c.id)).mappings()]


__all__ = ["ACKNOWLEDGED", "COVERING", "PAYROLL", "PENDING", "REJECTED", "UNKNOWN", "UNSENT", "VOID", "Position",
           "Target", "bring_to", "lines_of", "payroll_rows", "positions", "reject", "rejected_lines", "settle",
           "settle_answer", "settle_many", "settle_missing", "void_rejections"]
