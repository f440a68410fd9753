"""SPBE audit trail: evidence verdicts, sent in batches with an idempotency key."""

from __future__ import annotations

from typing import Any

from gateway.connectors._http import HttpBase
from gateway.connectors.wire.spbe import VerdictAnswer, VerdictBatch


class SpbeClient(HttpBase):
    upstream = "spbe"

    def __init__(self, base_url: str, api_key: str, **kwargs: Any) -> None:
        super().__init__(base_url, headers={"X-API-Key": api_key}, **kwargs)

    def record(self, batch: VerdictBatch, idempotency_key: str) -> VerdictAnswer:
        return VerdictAnswer.model_validate(self.json(
            "POST", "/api/v1/audit/evidence-verdicts", json=batch.model_dump(mode="json"),
            headers={"Idempotency-Key": idempotency_key}))
