"""Evidence verdicts to the SPBE audit trail, through the outbox: written with the checks, relayed later."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from gateway.connectors.spbe import SpbeClient
from gateway.connectors.wire.spbe import AuditHead, EvidenceVerdict, VerdictBatch
from gateway.domain import Evidence, EvidenceCheck, TteConclusion
from gateway.errors import DeliveryError, UpstreamError
from gateway.outbox._rows import insert_row
from gateway.outbox.relay import Delivery
from gateway.store import audit

SPBE = "spbe"


def verdict(tenant: str, period: str, evidence: Evidence, check: EvidenceCheck, now: datetime) -> EvidenceVerdict:
    """The evidence-level verdict: integrity (hash) and signature. SLA and approval are the scheme's, per city."""
    if check.tte in (TteConclusion.UNCHECKED, TteConclusion.UNAVAILABLE) or check.actual_sha256 is None:
        outcome, reason = "unchecked", check.tte_description or "not verified yet"
    elif check.actual_sha256 != evidence.sha256:
        outcome, reason = "refused", "document hash differs from the hash recorded at upload"
    elif check.tte is not TteConclusion.VALID:
        outcome, reason = "refused", f"TTE {check.tte.value}: {check.tte_description}"
    else:
        outcome, reason = "accepted", "hash matches; TTE valid"
    return EvidenceVerdict(
        verdict_id=f"{tenant}:{evidence.id}:{check.actual_sha256 or '-'}:{check.tte.value}", tenant=tenant,
        period=period, evidence_id=evidence.id, recorded_sha256=evidence.sha256,
        actual_sha256=check.actual_sha256, tte=check.tte.value, verdict=outcome, reason=reason, checked_at=now)


def enqueue_verdicts(conn: Connection, tenant: str, period: str, verdicts: Sequence[EvidenceVerdict],
                     now: datetime) -> str | None:
    """One outbox row for a chunk of verdicts; its key is derived from the verdict ids it carries. The row also
    carries the audit chain's head as it is in this transaction, so SPBE holds an anchor of the chain."""
    if not verdicts:
        return None
    ids = sorted(v.verdict_id for v in verdicts)
    key = f"{tenant}:{period}:spbe:{hashlib.sha256(chr(10).join(ids).encode()).hexdigest()[:20]}"
    head = audit.head(conn, tenant)
    payload = VerdictBatch(verdicts=list(verdicts), audit_head=AuditHead(
        tenant=tenant, entries=head.entries, hash=head.hash, at=head.at)).model_dump(mode="json")
    written = insert_row(conn, tenant, period, SPBE, f"{tenant}/{period}/spbe", key, payload, now)
    return key if written is not None else None


def enqueue_audit_head(conn: Connection, tenant: str, period: str, now: datetime) -> str | None:
    """The audit chain's head as it is in this transaction, in a batch of no verdicts: written by the compute
    stage after the entries it appended, so SPBE's anchor is never older than the newest results."""
    head = audit.head(conn, tenant)
    if not head.entries:
        return None
    key = f"{tenant}:{period}:spbe:head:{head.hash[:20]}"
    payload = VerdictBatch(verdicts=[], audit_head=AuditHead(tenant=tenant, entries=head.entries, hash=head.hash,
                                                             at=head.at)).model_dump(mode="json")
    written = insert_row(conn, tenant, period, SPBE, f"{tenant}/{period}/spbe", key, payload, now)
    return key if written is not None else None


class SpbeDestination:
    """The SPBE audit trail: the deployment's (`client`), or a tenant's own where its section names one (`own`)."""

    def __init__(self, client: SpbeClient | None, own: dict[str, SpbeClient] | None = None) -> None:
        self.client, self.own = client, own or {}

    def serves(self, tenant: str) -> bool:
        return tenant in self.own or self.client is not None

    def deliver(self, row: dict[str, Any]) -> Delivery:
        client = self.own.get(row["tenant"], self.client)
        if client is None:  # a row written while the tenant had an SPBE key: kept until one is configured again
            raise DeliveryError(f"SPBE verdict batch {row['idempotency_key']}: no SPBE audit trail is configured "
                                f"for tenant {row['tenant']!r} (GATEWAY_SPBE_API_KEY or its own spbe_api_key)",
                                retryable=True)
        try:
            answer = client.record(VerdictBatch.model_validate(row["payload"]), row["idempotency_key"])
        except UpstreamError as exc:
            raise DeliveryError(f"SPBE verdict batch {row['idempotency_key']}: {exc}", retryable=exc.retryable,
                                answer=exc.body) from exc
        return Delivery(status="delivered", answer=answer.model_dump())
