"""The one HTTP base every connector stands on: httpx client, timeouts, TLS verification, tenacity retries.

Retryable: transport errors, 408/425/429 and 5xx (including BKN's "Runtime Error ... SUSPENDED"); `Retry-After`
is honoured. Anything else 4xx raises at once with the answer kept. The transport is the one seam for mocks.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import structlog
from prometheus_client import Counter
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception

from gateway.connectors._polite import CircuitOpen, RateBudget, breaker, through
from gateway.errors import UpstreamAuthError, UpstreamError

log = structlog.get_logger(__name__)

_M = TypeVar("_M", bound=BaseModel)

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

# Registered by whoever serves the metrics (`gateway.metrics`), not in prometheus-client's global registry.
UPSTREAM_ERRORS = Counter("tpp_gateway_upstream_errors", "Upstream answers that were not what was asked for: a "
                          "transport error, or an unexpected HTTP status (before any retry)",
                          ["tenant", "upstream", "kind"], registry=None)


def _count_error(client: HttpBase, kind: str) -> None:
    # The tenant: the one whose own endpoints this client reaches, else the one bound for the unit of work.
    tenant = client.tenant or str(structlog.contextvars.get_contextvars().get("tenant", ""))
    UPSTREAM_ERRORS.labels(tenant, client.upstream, kind).inc()


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, CircuitOpen):  # retried later by the caller, not now: the circuit says the upstream is down
        return False
    if isinstance(exc, UpstreamError):
        return exc.retryable
    return isinstance(exc, httpx.TransportError)


def _retry_after(exc: BaseException | None) -> float | None:
    header = getattr(exc, "retry_after", None)
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        try:
            from datetime import UTC, datetime

            return max(0.0, (parsedate_to_datetime(header) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


class _Wait:
    """Exponential backoff with full jitter, or the upstream's Retry-After in full when it gave one (`_Stop` has
    already given up on a wait longer than the deployment allows)."""

    def __init__(self, base: float, cap: float, rng: random.Random) -> None:
        self.base, self.cap, self.rng = base, cap, rng

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = _retry_after(exc)
        if hinted is not None:
            return hinted
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** (state.attempt_number - 1)))


class _Stop:
    """After `attempts`, or at once when the upstream asks to be left alone longer than `retry_after_max` seconds:
    then this call fails now (a sync stops for this tick with its cursor where the last committed page left it)
    instead of holding the tick for the wait, and the error says so."""

    def __init__(self, attempts: int, retry_after_max: float) -> None:
        self.attempts, self.retry_after_max = attempts, retry_after_max

    def __call__(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        hinted = _retry_after(exc)
        if exc is not None and hinted is not None and hinted > self.retry_after_max:
            exc.args = (f"{exc.args[0] if exc.args else exc}; it asked to wait {hinted:.0f} s, more than "
                        f"retry_after_max_seconds ({self.retry_after_max:.0f}): not asked again this tick",
                        *exc.args[1:])
            if isinstance(exc, UpstreamError):
                exc.retryable = False
            return True
        return state.attempt_number >= self.attempts


class HttpBase:
    """A configured httpx client plus the retry policy; connectors subclass it and declare what to ask."""

    upstream: str = "upstream"

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None,
                 auth: httpx.Auth | None = None, timeout: float = 30.0, max_attempts: int = 5,
                 sleep: Callable[[float], None] | None = None, backoff_base: float = 0.5,
                 backoff_cap: float = 30.0, headers: dict[str, str] | None = None,
                 retry_after_max: float = 600.0, budgets: dict[str, RateBudget] | None = None,
                 breaker_fail_max: int = 10, breaker_reset_seconds: float = 60.0) -> None:
        self.client = httpx.Client(base_url=base_url, transport=transport, auth=auth, timeout=timeout,
                                   verify=True, headers=headers)
        self.budgets = budgets or {}  # budget name (`budget_for`) -> its shared rate budget
        self.breaker = breaker(self.upstream, breaker_fail_max, breaker_reset_seconds)
        self.tenant: str | None = None  # the tenant whose own endpoints this client reaches; None: the deployment's
        self._retrying_kwargs: dict[str, Any] = {
            "stop": _Stop(max_attempts, retry_after_max),
            "wait": _Wait(backoff_base, backoff_cap, random.Random()),
            "retry": retry_if_exception(_is_retryable),
            "reraise": True,
        }
        if sleep is not None:
            self._retrying_kwargs["sleep"] = sleep

    def close(self) -> None:
        self.client.close()

    def reset_breaker(self) -> None:
        """Close the breaker (a stage starting afresh asks again)."""
        self.breaker.close()

    def budget_for(self, url: str) -> str:
        """The rate budget a request to `url` spends (a client reaching two services tells them apart)."""
        return self.upstream

    def request(self, method: str, url: str, *, ok: tuple[int, ...] = (200, 201, 202), **kwargs: Any
                ) -> httpx.Response:
        return self._retry(lambda: self._once(method, url, ok, **kwargs))

    def _retry(self, call: Callable[[], Any]) -> Any:
        for attempt in Retrying(**self._retrying_kwargs):
            with attempt:
                return call()
        raise AssertionError("unreachable")  # Retrying re-raises the last error

    def _once(self, method: str, url: str, ok: tuple[int, ...], **kwargs: Any) -> httpx.Response:
        return through(self.breaker, self.upstream, lambda: self._ask(method, url, ok, **kwargs))  # type: ignore[no-any-return]

    def _ask(self, method: str, url: str, ok: tuple[int, ...], **kwargs: Any) -> httpx.Response:
        budget = self.budgets.get(self.budget_for(url))
        if budget is not None:
            budget.spend()
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            log.warning("upstream.transport_error", upstream=self.upstream, url=url, error=type(exc).__name__)
            _count_error(self, "transport")
            # An upstream that does not answer is an UpstreamError too (callers catch that), and retryable.
            raise UpstreamError(f"{self.upstream} did not answer {method} {url}: {type(exc).__name__}: {exc}",
                                retryable=True) from exc
        if response.status_code in ok:
            return response
        body = response.text[:2000]
        retryable = response.status_code in RETRYABLE_STATUS or "SUSPENDED" in body
        log.warning("upstream.bad_status", upstream=self.upstream, url=url, status=response.status_code,
                    retryable=retryable)
        _count_error(self, str(response.status_code))
        # A 401 saying the backend is SUSPENDED is an outage (retry later), not refused credentials.
        refused = response.status_code == 401 and "SUSPENDED" not in body
        error_cls = UpstreamAuthError if refused else UpstreamError
        error = error_cls(f"{self.upstream} answered {response.status_code} to {method} {url}: {body[:200]}",
                          status=response.status_code, retryable=retryable and error_cls is UpstreamError,
                          body=body)
        error.retry_after = response.headers.get("Retry-After")  # type: ignore[attr-defined]
        raise error

    def json(self, method: str, url: str, *, ok: tuple[int, ...] = (200, 201, 202), **kwargs: Any) -> Any:
        return self._retry(lambda: self._parse(self._once(method, url, ok, **kwargs), method, url))

    def envelope(self, model: type[_M], where: str, method: str, url: str, **kwargs: Any) -> _M:
        """One page read into its envelope `model`; a page that is not one is asked again like malformed JSON."""
        return self._retry(lambda: read_envelope(model, self._parse(self._once(method, url, (200,), **kwargs),
                                                                    method, url), where))

    def _parse(self, response: httpx.Response, method: str, url: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            # Truncated or malformed JSON is a transient upstream fault: ask again (inside the retry loop).
            raise UpstreamError(f"{self.upstream} sent malformed JSON for {method} {url}",
                                status=response.status_code, retryable=True, body=response.text[:200]) from exc


def read_envelope(model: type[_M], data: Any, where: str) -> _M:
    """A listing page's envelope, or a retryable UpstreamError naming the listing (never a ValidationError)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'page'}: {e['msg']}" for e in exc.errors()[:5])
        raise UpstreamError(f"{where} sent a page that is not its envelope ({problems[:300]})",
                            retryable=True) from None
