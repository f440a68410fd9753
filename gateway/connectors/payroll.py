"""BPKAD payroll API: batch submission with an idempotency key, then per-line acknowledgement by status query."""

from __future__ import annotations

from typing import Any

from gateway.connectors._http import HttpBase
from gateway.connectors.wire.payroll import BatchAnswer, BatchRequest
from gateway.errors import UpstreamError


class PayrollClient(HttpBase):
    upstream = "payroll"

    def __init__(self, base_url: str, api_key: str, **kwargs: Any) -> None:
        super().__init__(base_url, headers={"X-API-Key": api_key}, **kwargs)

    def submit(self, batch: BatchRequest, idempotency_key: str) -> BatchAnswer:
        return BatchAnswer.model_validate(self.json(
            "POST", "/batches", json=batch.model_dump(mode="json"), headers={"Idempotency-Key": idempotency_key}))

    def status(self, batch_id: str) -> BatchAnswer:
        return BatchAnswer.model_validate(self.json("GET", f"/batches/{batch_id}"))

    def find(self, idempotency_key: str) -> BatchAnswer | None:
        """The batch payroll holds under a key (`GET /batches?idempotency_key=K`), or None (404): the way to learn
        a batch's fate after a timeout lost its batch_id."""
        try:
            body = self.json("GET", "/batches", params={"idempotency_key": idempotency_key})
        except UpstreamError as exc:
            if exc.status == 404:
                return None
            raise
        return BatchAnswer.model_validate(body)
