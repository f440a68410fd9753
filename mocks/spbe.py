"""SPBE audit-trail mock: records each evidence verdict once (by verdict id), idempotent per batch key."""

from __future__ import annotations

import threading

import httpx
import respx

from gateway.connectors.wire.spbe import AuditHead, EvidenceVerdict, VerdictAnswer, VerdictBatch
from mocks._common import read_idempotent_post, replay

DEMO_SPBE_KEY = "demo-spbe-key"


class SpbeMock:
    def __init__(self, *, api_key: str = DEMO_SPBE_KEY) -> None:
        self.api_key = api_key
        self.records: dict[str, EvidenceVerdict] = {}
        self.audit_heads: dict[str, AuditHead] = {}  # per tenant, the anchor with the most entries received
        self._answers: dict[str, tuple[str, VerdictAnswer]] = {}
        self._lock = threading.Lock()

    def submit(self, request: httpx.Request) -> httpx.Response:
        post = read_idempotent_post(request, self.api_key, VerdictBatch, "verdict batch")
        if isinstance(post, httpx.Response):
            return post
        key, batch, digest = post.key, post.body, post.digest
        with self._lock:
            if key in self._answers:
                known_digest, answer = self._answers[key]
                return replay(post, known_digest, answer.model_dump())
            fresh = [v for v in batch.verdicts if v.verdict_id not in self.records]
            for v in fresh:
                self.records[v.verdict_id] = v
            head = batch.audit_head
            known = self.audit_heads.get(head.tenant) if head is not None else None
            if head is not None and (known is None or head.entries >= known.entries):
                self.audit_heads[head.tenant] = head
            answer = VerdictAnswer(recorded=len(fresh), duplicates=len(batch.verdicts) - len(fresh))
            self._answers[key] = (digest, answer)
        return httpx.Response(201, json=answer.model_dump())

    def listing(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("X-API-Key") != self.api_key:
            return httpx.Response(401, json={"error": "invalid API key"})
        tenant = request.url.params.get("tenant")
        rows = [v.model_dump(mode="json") for v in self.records.values() if tenant in (None, v.tenant)]
        return httpx.Response(200, json={"count": len(rows), "data": rows})

    def mount(self, router: respx.MockRouter, *, base_url: str) -> None:
        url = f"{base_url.rstrip('/')}/api/v1/audit/evidence-verdicts"
        router.post(url, name="spbe.submit").mock(side_effect=self.submit)
        router.get(url, name="spbe.list").mock(side_effect=self.listing)
