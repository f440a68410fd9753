"""One exception tree: callers catch at the level they care about. Every message names the record, the rule
and what to do.

    GatewayError
    ├── ConfigurationError          exit 2: fix the settings
    │   └── UnknownScheme           (also a KeyError)
    ├── InputError                  exit 2: fix the argument
    │   ├── InvalidPeriod           (also a ValueError)
    │   └── UnknownKind             (also a KeyError)
    ├── UpstreamError               an upstream answered badly or not at all
    │   ├── UpstreamAuthError
    │   └── CircuitOpen             (gateway.connectors._polite)
    ├── DeliveryError               a payroll batch or webhook failed
    ├── OperationError              an operator action that cannot be done (gateway.outbox.operations)
    └── RuleRefusal                 a scheme's "does not count" (caught inside the scheme)
        └── Refusal                 (gateway.mappings._checks)

The root and the branches the pure layers raise live in `gateway.domain.errors` (domain and mappings import
nothing else of ours) and are re-exported here. Bad upstream data is not an exception: it is quarantined as a
record (`Problem`) and the batch goes on.
"""

from gateway.domain.errors import (
    ConfigurationError,
    GatewayError,
    InputError,
    InvalidPeriod,
    RuleRefusal,
    UnknownKind,
    UnknownScheme,
)


class UpstreamError(GatewayError):
    """An upstream system answered badly or not at all."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True,
                 body: str | None = None) -> None:
        super().__init__(message)
        self.status, self.retryable, self.body = status, retryable, body


class UpstreamAuthError(UpstreamError):
    """Credentials were refused (HTTP 401 after a token refresh)."""


class DeliveryError(GatewayError):
    """A delivery (payroll batch, webhook) failed. `refused`: the destination answered that it did not take the
    row (a definite 4xx), so nothing of it was booked; otherwise it may have reached the destination."""

    def __init__(self, message: str, *, retryable: bool, answer: str | None = None, refused: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable, self.answer, self.refused = retryable, answer, refused
        self.retry_after = retry_after  # seconds the destination asked us to wait (Retry-After), if it did


__all__ = ["ConfigurationError", "DeliveryError", "GatewayError", "InputError", "InvalidPeriod", "RuleRefusal",
           "UnknownKind", "UnknownScheme", "UpstreamAuthError", "UpstreamError"]
