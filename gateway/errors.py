"""One exception tree: callers catch at the level they care about. Every message names the record, the rule
and what to do."""


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigurationError(GatewayError):
    """Settings are missing or invalid: fix the environment or the TOML file."""


class UpstreamError(GatewayError):
    """An upstream system answered badly or not at all."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True,
                 body: str | None = None) -> None:
        super().__init__(message)
        self.status, self.retryable, self.body = status, retryable, body


class UpstreamAuthError(UpstreamError):
    """Credentials were refused (HTTP 401 after a token refresh)."""


class QuarantineError(GatewayError):
    """A record failed validation: it is quarantined with its payload and reason, the rest goes on."""


class DeliveryError(GatewayError):
    """A delivery (payroll batch, webhook) failed. `refused`: the destination answered that it did not take the
    row (a definite 4xx), so nothing of it was booked; otherwise it may have reached the destination."""

    def __init__(self, message: str, *, retryable: bool, answer: str | None = None, refused: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable, self.answer, self.refused = retryable, answer, refused
        self.retry_after = retry_after  # seconds the destination asked us to wait (Retry-After), if it did
