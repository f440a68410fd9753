"""The BPKAD payroll API as an outbox destination: submit once per idempotency key, then poll for the
per-line acknowledgement."""

from __future__ import annotations

from typing import Any

from gateway.connectors.payroll import PayrollClient
from gateway.connectors.wire.payroll import BatchAnswer, BatchRequest
from gateway.errors import DeliveryError, UpstreamError
from gateway.outbox.relay import Delivery


class PayrollDestination:
    def __init__(self, client: PayrollClient) -> None:
        self.client = client

    def deliver(self, row: dict[str, Any]) -> Delivery:
        try:
            answer: BatchAnswer
            if row["answer"] and row["answer"].get("batch_id"):
                answer = self.client.status(row["answer"]["batch_id"])
            else:
                answer = self.client.submit(BatchRequest.model_validate(row["payload"]), row["idempotency_key"])
                if answer.status != "completed":
                    answer = self.client.status(answer.batch_id)
        except UpstreamError as exc:
            raise DeliveryError(f"payroll batch {row['idempotency_key']}: {exc}", retryable=exc.retryable,
                                answer=exc.body) from exc
        status = "delivered" if answer.status == "completed" else "submitted"
        return Delivery(status=status, answer=answer.model_dump(mode="json"))
