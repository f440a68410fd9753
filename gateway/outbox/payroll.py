"""The BPKAD payroll API as an outbox destination: submit once per idempotency key, then poll for the
per-line acknowledgement. The relay settles each line's fate in the payroll ledger (`ledger.settle`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.connectors.payroll import PayrollClient
from gateway.connectors.wire.payroll import BatchAnswer, BatchRequest
from gateway.errors import DeliveryError, UpstreamError
from gateway.outbox.relay import Delivery

# A definite answer that payroll did not take the batch: nothing of it was booked. Anything else (timeouts,
# resets, 5xx, 409 for a key payroll holds) may have reached payroll, and its lines stay "unknown".
REFUSED_OUTRIGHT = frozenset({400, 401, 403, 404, 413, 422})


class PayrollDestination:
    thread_safe = True  # httpx.Client is

    def __init__(self, client: PayrollClient) -> None:
        self.client = client

    def deliver(self, row: dict[str, Any]) -> Delivery:
        known = bool(row["answer"] and row["answer"].get("batch_id"))
        try:
            answer: BatchAnswer
            if known:
                answer = self.client.status(row["answer"]["batch_id"])
            else:
                answer = self.client.submit(BatchRequest.model_validate(row["payload"]), row["idempotency_key"])
                if answer.status != "completed":
                    answer = self.client.status(answer.batch_id)
        except UpstreamError as exc:
            refused = not known and exc.status in REFUSED_OUTRIGHT
            raise DeliveryError(f"payroll batch {row['idempotency_key']}: {exc}", retryable=exc.retryable,
                                answer=exc.body, refused=refused) from exc
        status = "delivered" if answer.status == "completed" else "submitted"
        return Delivery(status=status, answer=answer.model_dump(mode="json"))

    def lookup(self, row: dict[str, Any]) -> Delivery | None:
        """Payroll's own answer for a row, asked by its idempotency key (a timeout loses the batch_id): None when
        payroll holds no such batch. Raises UpstreamError when payroll does not answer."""
        answer = self.client.find(row["idempotency_key"])
        if answer is None:
            return None
        if answer.status != "completed":
            return Delivery(status="submitted", answer=answer.model_dump(mode="json"))
        return Delivery(status="delivered", answer=answer.model_dump(mode="json"))


class PayrollRouter:
    """The one `payroll` destination: each row goes to its tenant's payroll (`payroll_destination`)."""

    thread_safe = True

    def __init__(self, routes: dict[str, Any], choose: Callable[[str], str]) -> None:
        self.routes, self.choose = routes, choose

    def _for(self, row: dict[str, Any]) -> Any:
        name = self.choose(row["tenant"])
        route = self.routes.get(name)
        if route is None:
            raise DeliveryError(f"payroll batch {row['idempotency_key']}: tenant {row['tenant']!r} pays through "
                                f"{name!r}, which is not set up here", retryable=False, refused=True)
        return route

    def deliver(self, row: dict[str, Any]) -> Delivery:
        return self._for(row).deliver(row)

    def lookup(self, row: dict[str, Any]) -> Delivery | None:
        return self._for(row).lookup(row)
