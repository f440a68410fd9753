"""Politeness toward an upstream: a rate budget shared by every process of the deployment, and a circuit breaker.

The budget is `limits` (moving window) over the storage `rate_limit_storage` names: `memory://` (one process, the
embedded default) or `redis://host:port` (every process and replica of the deployment share it). Its key is the
budget's name and a digest of the credential that spends it, so two tenants with their own credentials have their
own budgets and the secret never reaches the store. A request over budget waits, through the injectable sleep, until
the window has room.

The breaker is `pybreaker`, one per client and upstream: `fail_max` failures in a row that an upstream is to blame for
(retryable ones: 5xx, 429, timeouts) open it, and calls fail at once ("circuit open") instead of asking a dead upstream
again, until `reset_timeout` seconds pass and one probe is let through (half-open); its success closes it. Stages close
their breakers when they start (`HttpBase.reset_breaker`), so one tick's outage does not refuse the next tick's first
call.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import pybreaker
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from gateway.errors import UpstreamError


class RateBudget:
    """`rate` (e.g. "1/second", "600/minute") for `name`, spent per credential, shared through `storage`."""

    def __init__(self, name: str, rate: str, credential: str, storage: str = "memory://",
                 sleep: Callable[[float], None] = time.sleep, now: Callable[[], float] = time.time) -> None:
        self.item = parse(rate)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage))
        self.key = (f"tpp-gateway:{name}", hashlib.sha256(credential.encode()).hexdigest()[:16])
        self.sleep, self.now = sleep, now

    def spend(self) -> float:
        """Take one request from the budget, waiting until there is room; returns the seconds waited."""
        waited = 0.0
        while not self.limiter.hit(self.item, *self.key):
            reset, _remaining = self.limiter.get_window_stats(self.item, *self.key)
            pause = min(max(reset - self.now(), 0.01), float(self.item.get_expiry()))
            self.sleep(pause)
            waited += pause
        return waited


def breaker(name: str, fail_max: int, reset_timeout: float) -> pybreaker.CircuitBreaker:
    """A breaker that counts only the failures the upstream is to blame for (retryable `UpstreamError`s); the
    failure that opens it is raised as itself (its message says what the upstream answered)."""
    return pybreaker.CircuitBreaker(
        fail_max=fail_max, reset_timeout=reset_timeout, name=name, throw_new_error_on_trip=False,
        state_storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED),
        exclude=[lambda exc: not (isinstance(exc, UpstreamError) and exc.retryable)])


class CircuitOpen(UpstreamError):
    """The upstream's circuit is open: a temporary outage. Retryable for whoever retries later (the relay keeps the
    row for its next attempt, verification holds the employee), but not asked again within this call."""


def through(circuit: pybreaker.CircuitBreaker, upstream: str, call: Callable[[], Any]) -> Any:
    """`call` through the breaker; an open circuit is a `CircuitOpen` naming the upstream."""
    try:
        return circuit.call(call)
    except pybreaker.CircuitBreakerError as exc:
        raise CircuitOpen(f"{upstream}: circuit open after {circuit.fail_max} failures in a row; not asked "
                          f"again until a probe after {circuit.reset_timeout:.0f} s succeeds ({exc})",
                          retryable=True) from None
