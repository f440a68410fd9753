"""What an operator does to payroll by hand: retry or discard a dead row, reconcile a period.

Every action asks payroll first what it holds (by idempotency key), records that as fact in the ledger, and
only then writes corrections, each through the outbox and with an audit entry naming the operator and reason.
A dead row is never resent as it was: retrying it sends what is still owed now, according to the ledger.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, select, update

from gateway.domain import fmt
from gateway.errors import GatewayError, UpstreamError
from gateway.outbox import ledger
from gateway.outbox.relay import Delivery
from gateway.outbox.writer import close_dead
from gateway.settings import TenantConfig
from gateway.store import audit, holds
from gateway.store import repository as repo
from gateway.store.tables import outbox


class Lookup(Protocol):
    def lookup(self, row: dict[str, Any]) -> Delivery | None: ...


class OperationError(GatewayError):
    """An operator action that cannot be done (yet); the message says why and what to do."""

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# Asking payroll what it holds ----------------------------------------------------------------------------------
def learn(conn: Connection, row: dict[str, Any], payroll: Lookup, now: datetime) -> str:
    """Ask payroll about one row and record the answer: 'booked' (the row becomes delivered, its lines take
    payroll's fates), 'absent' (its lines are unsent) or 'in progress'. Raises UpstreamError if payroll is silent."""
    found = payroll.lookup(row)
    if found is None:
        ledger.settle_missing(conn, row, now)
        return "absent"
    if found.status != "delivered":
        return "in progress"
    if row["status"] == "dead":
        conn.execute(update(outbox).where(outbox.c.id == row["id"], outbox.c.status == "dead").values(
            status="delivered", answer=found.answer, delivered_at=now,
            last_error=f"dead letter found booked by payroll on {now.isoformat()}"))
    ledger.settle_answer(conn, row, found.answer, now)
    return "booked"


def _row(conn: Connection, tenant: str, row_id: int) -> dict[str, Any]:
    found = conn.execute(select(outbox).where(outbox.c.tenant == tenant, outbox.c.id == row_id)).mappings().first()
    if found is None:
        raise OperationError(f"no outbox row {row_id} for tenant {tenant}")
    return dict(found)


def _dead_payroll_row(engine: Engine, tenant: str, row_id: int, payroll: Lookup, now: datetime
                      ) -> tuple[dict[str, Any], str]:
    """The dead row, after asking payroll what became of it (that answer is committed as fact at once)."""
    with engine.begin() as conn:
        row = _row(conn, tenant, row_id)
        if row["status"] != "dead":
            raise OperationError(f"outbox row {row_id} is {row['status']}, not dead: nothing to do")
        if row["destination"] != ledger.PAYROLL:
            return row, "not payroll"
        try:
            fate = learn(conn, row, payroll, now)
        except UpstreamError as exc:
            raise OperationError(f"payroll did not answer whether it holds row {row_id} "
                                 f"({row['idempotency_key']}): {exc}; its lines stay 'unknown', try again later",
                                 exit_code=1) from exc
    if fate == "in progress":
        raise OperationError(f"payroll holds row {row_id} and has not decided its lines yet; try again later",
                             exit_code=1)
    return row, fate


@dataclass
class RetryOutcome:
    row_id: int
    fate: str  # what payroll said of the dead row: booked | absent | not payroll
    written: list[str] = field(default_factory=list)  # the new batches' keys
    message: str = ""


def retry(engine: Engine, tenant: str, row_id: int, payroll: Lookup, *, now: datetime, actor: str,
          reason: str) -> RetryOutcome:
    """Re-base a dead payroll row on the ledger: what its employees are still owed now goes out as a new batch with
    new keys and the dead row is closed as superseded. Other rows (SPBE, feed) are queued again as they were."""
    from gateway.outbox.writer import retry_dead

    row, fate = _dead_payroll_row(engine, tenant, row_id, payroll, now)
    if fate == "not payroll":
        with engine.begin() as conn:
            retry_dead(conn, tenant, row_id, now)
            audit.append(conn, tenant, actor, "outbox.retry", [(str(row_id), {"reason": reason})], now)
        return RetryOutcome(row_id, fate, [row["idempotency_key"]], f"outbox row {row_id} is queued again")
    if fate == "booked":
        with engine.begin() as conn:
            audit.append(conn, tenant, actor, "outbox.retry", [(str(row_id), {
                "reason": reason, "payroll": "booked", "written": []})], now)
        return RetryOutcome(row_id, fate, [], f"payroll had booked row {row_id}: it is recorded as delivered, "
                                              "nothing is sent again")
    nips = sorted({ln["nip"] for ln in row["payload"].get("lines", [])})
    with engine.begin() as conn:
        current = {r.nip: ledger.Target(r.opd_id, r.amount) for r in repo.load_results(conn, tenant, row["period"])
                   if r.nip in nips}
        written = ledger.bring_to(conn, tenant, row["period"], current, now)
        if not written:
            conn.rollback()
            return RetryOutcome(row_id, fate, [], f"nothing is owed now to the {len(nips)} employees of row "
                                                  f"{row_id}; nothing changed (close it with gateway outbox "
                                                  "discard)")
        close_dead(conn, tenant, row_id, "superseded", f"superseded by {', '.join(written)}")
        audit.append(conn, tenant, actor, "outbox.retry", [(str(row_id), {
            "reason": reason, "payroll": "absent", "written": written})], now)
    return RetryOutcome(row_id, fate, written, f"outbox row {row_id} is superseded by {len(written)} new "
                                               "batch(es) of what is owed now")


def discard(engine: Engine, tenant: str, row_id: int, payroll: Lookup, *, now: datetime, actor: str,
            reason: str) -> str:
    """Close a dead row for good (audited). A payroll row is first asked about: one payroll booked becomes
    delivered instead; one whose fate payroll cannot tell is refused."""
    row, fate = _dead_payroll_row(engine, tenant, row_id, payroll, now)
    with engine.begin() as conn:
        if fate == "booked":
            audit.append(conn, tenant, actor, "outbox.discard", [(str(row_id), {
                "reason": reason, "payroll": "booked"})], now)
            return f"payroll had booked row {row_id}: it is recorded as delivered, not discarded"
        close_dead(conn, tenant, row_id, "discarded", f"discarded by {actor}: {reason}")
        audit.append(conn, tenant, actor, "outbox.discard", [(str(row_id), {"reason": reason, "payroll": fate})],
                     now)
    return f"outbox row {row_id} is discarded"


def reject(engine: Engine, tenant: str, period: str, nips: list[str], *, now: datetime, actor: str,
           reason: str) -> str:
    """The finance office refused employees' acknowledged lines after the fact (a SIPD workbook it sent back):
    their lines become rejected with the reason, so the ledger stops counting them as paid and holds their
    arrears until `reconcile --fix` after the cause is fixed (audited)."""
    if not reason.strip():
        raise OperationError("--reason is required: say what the finance office refused and why")
    with engine.begin() as conn:
        standing = ledger.positions(conn, tenant, period, nips)
        unknown = [nip for nip in nips if standing.get(nip, ledger.Position()).acknowledged == 0]
        if unknown:
            raise OperationError(f"{tenant} {period}: no acknowledged payroll line for NIP {', '.join(unknown)}; "
                                 "only what payroll acknowledged can be rejected")
        from gateway.feed import story  # the feed's writer builds on the outbox: imported when used

        refused = story.lines_refused(conn, tenant, period, nips)
        count = sum(ledger.reject(conn, tenant, period, nip, reason, now) for nip in nips)
        story.publish_refused(conn, tenant, period, refused, reason, now)  # on the feed, in this transaction
        audit.append(conn, tenant, actor, "payroll.rejected", [(nip, {"period": period, "reason": reason})
                                                                for nip in nips], now)
    return f"{count} acknowledged line(s) of {len(nips)} employee(s) are now rejected: {reason}"


def release(engine: Engine, tenant: str, period: str, *, now: datetime, actor: str, reason: str) -> str:
    """Release a period with held employees (audited): from the next computation their evidence that could not be
    checked counts as refused, their explanation says so, and a later valid check pays the arrears."""
    if not reason.strip():
        raise OperationError("--reason is required: say why the period cannot wait for the checks")
    with engine.begin() as conn:
        before = holds.released(conn, tenant, period)
        if before is not None:
            return (f"{tenant} {period} was released by {before.actor} on {before.released_at:%Y-%m-%d %H:%M} "
                    f"({before.reason}); nothing changed")
        held = holds.load(conn, tenant, period)
        if not held:
            raise OperationError(f"{tenant} {period}: no employee is held, so there is nothing to release")
        holds.release(conn, tenant, period, actor, reason, now)
        audit.append(conn, tenant, actor, "period.released", [(period, {
            "reason": reason, "held": [h["nip"] for h in held]})], now)
    return f"{tenant} {period} released: {len(held)} held employee(s) are computed with unchecked evidence refused"


# Reconciliation -------------------------------------------------------------------------------------------------
@dataclass
class Difference:
    kind: str  # owed | overpaid | paid-no-result | rejected | unknown | dead | payroll-disagrees
    nip: str | None
    opd_id: str | None
    result: int | None  # the current result's amount
    covered: int  # what the ledger says payroll holds or will hold for the NIP
    correction: int  # what --fix would send (0: nothing it can send)
    detail: str


@dataclass
class ReconcileReport:
    tenant: str
    period: str
    differences: list[Difference] = field(default_factory=list)
    in_flight: int = 0  # lines asked of payroll and not answered yet (not a difference)
    payroll_total: int = 0  # acknowledged by payroll, per the ledger
    results_total: int = 0
    fixed: list[str] = field(default_factory=list)  # the keys --fix wrote
    errors: list[str] = field(default_factory=list)
    # The budget ceiling (issue 18): payroll's budget rejections beside the gateway's own forecast, per OPD
    # (gateway/outbox/budget_check.py); lines to read, not differences to fix.
    budget: list[Any] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _ask_payroll(engine: Engine, tenant: str, period: str, payroll: Lookup, now: datetime,
                 report: ReconcileReport) -> list[Difference]:
    """Ask payroll about every payroll row of the period and record its answers; rows payroll disagrees about
    (a delivered row it does not hold) are differences."""
    found: list[Difference] = []
    with engine.connect() as conn:
        rows = ledger.payroll_rows(conn, tenant, period, ("dead", "delivered"))
    for row in rows:
        if row["status"] == "submitted":
            continue  # the relay is still polling it
        with engine.begin() as conn:
            try:
                fate = learn(conn, row, payroll, now)
            except UpstreamError as exc:
                report.errors.append(f"row {row['id']}: payroll did not answer: {exc}")
                continue
        if fate == "absent" and row["status"] == "delivered":
            found.append(Difference("payroll-disagrees", None, row["payload"].get("opd_id"), None, 0, 0,
                                    f"row {row['id']} ({row['idempotency_key']}) is delivered here but payroll "
                                    "holds no batch under its key; ask the finance office"))
    return found


def _differences(conn: Connection, tenant: str, period: str, report: ReconcileReport) -> list[Difference]:
    current = {r.nip: r for r in repo.load_results(conn, tenant, period)}
    withdrawn = {w["nip"]: w for w in repo.load_withdrawn(conn, tenant, period)}
    standing = ledger.positions(conn, tenant, period)
    report.results_total = sum(r.amount for r in current.values())
    report.payroll_total = sum(p.acknowledged for p in standing.values())
    report.in_flight = sum(1 for row in ledger.payroll_rows(conn, tenant, period, ("pending", "submitted"))
                           for _ in row["payload"].get("lines", []))
    out: list[Difference] = []
    for nip in sorted(set(current) | set(standing)):
        p = standing.get(nip) or ledger.Position()
        r = current.get(nip)
        opd = r.opd_id if r else p.last_opd
        if p.unknown:
            out.append(Difference("unknown", nip, opd, r.amount if r else None, p.covered, 0,
                                  f"{fmt.rupiah(p.unknown)} in batches payroll may or may not have booked; it did "
                                  "not say"))
        if p.rejected:
            owed = (r.amount if r else 0) - p.covered
            out.append(Difference("rejected", nip, opd, r.amount if r else None, p.covered, owed,
                                  f"payroll rejected {fmt.rupiah(p.rejected)}: {'; '.join(sorted(set(p.reasons)))}"))
            continue
        if r is None:
            if p.covered:
                why = withdrawn.get(nip, {}).get("withdrawn_reason") or "no result in this period"
                out.append(Difference("paid-no-result", nip, opd, None, p.covered, -p.covered,
                                      f"paid {fmt.rupiah(p.covered)}, no result now ({why})"))
            continue
        delta = r.amount - p.covered
        if delta:
            out.append(Difference("owed" if delta > 0 else "overpaid", nip, opd, r.amount, p.covered, delta,
                                  f"result {fmt.rupiah(r.amount)}, payroll holds or will hold {fmt.rupiah(p.covered)}"))
    for row in ledger.payroll_rows(conn, tenant, period, ("dead",)):
        out.append(Difference("dead", None, row["payload"].get("opd_id"), None, 0, 0,
                              f"row {row['id']} is dead: {(row['last_error'] or '')[:200]}"))
    return out


def reconcile(engine: Engine, tenant: str, period: str, payroll: Lookup, *, now: datetime,
              fix: bool = False, actor: str = "gateway", reason: str | None = None,
              config: TenantConfig | None = None) -> ReconcileReport:
    """Results against the ledger against payroll's own answers. With `fix`, bring payroll to the results:
    close open rejections (the operator fixed their cause), recover what was paid to employees with no result,
    send what is owed, and close dead rows whose lines payroll never got, all in one audited transaction."""
    if fix and not reason:
        raise OperationError("--fix needs --reason: say why (it is kept in the audit log)")
    report = ReconcileReport(tenant, period)
    disagreements = _ask_payroll(engine, tenant, period, payroll, now, report)
    with engine.connect() as conn:
        report.differences = disagreements + _differences(conn, tenant, period, report)
        report.budget = _budget(conn, tenant, period, config)
    if not fix or not any(d.correction or d.kind in ("dead", "rejected") for d in report.differences):
        return report
    with engine.begin() as conn:
        current = {r.nip: ledger.Target(r.opd_id, r.amount) for r in repo.load_results(conn, tenant, period)}
        # Employees paid with no result now (and rejected ones without a result) are brought to 0.
        targets = {d.nip: ledger.Target(d.opd_id, 0) for d in report.differences
                   if d.kind in ("paid-no-result", "rejected") and d.nip and d.opd_id and d.nip not in current}
        targets.update(current)
        ledger.void_rejections(conn, tenant, period, [d.nip for d in report.differences
                                                      if d.kind == "rejected" and d.nip], now)
        report.fixed = ledger.bring_to(conn, tenant, period, targets, now, hold_rejected=False)
        closed = []
        for row in ledger.payroll_rows(conn, tenant, period, ("dead",)):
            fates = {ln["fate"] for ln in ledger.lines_of(conn, tenant, row["id"])}
            if ledger.UNKNOWN not in fates:
                close_dead(conn, tenant, row["id"], "superseded", f"closed by reconcile ({actor}): {reason}")
                closed.append(row["id"])
        audit.append(conn, tenant, actor, "payroll.reconciled", [(period, {
            "reason": reason, "written": report.fixed, "closed_rows": closed,
            "differences": {k: sum(1 for d in report.differences if d.kind == k)
                            for k in sorted({d.kind for d in report.differences})}})], now)
    after = ReconcileReport(tenant, period, fixed=report.fixed, errors=report.errors)
    with engine.connect() as conn:
        after.differences = _differences(conn, tenant, period, after)
        after.budget = _budget(conn, tenant, period, config)
    return after


def _budget(conn: Connection, tenant: str, period: str, config: TenantConfig | None) -> list[Any]:
    from gateway.outbox.budget_check import budget_notes

    return [] if config is None else budget_notes(conn, tenant, period, config)


__all__ = ["Difference", "Lookup", "OperationError", "ReconcileReport", "RetryOutcome", "discard", "learn",
           "reconcile", "reject", "retry"]
