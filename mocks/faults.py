"""Fault injection for every mock: a plan of faults per route name, drawn at a rate, deterministic for a seed.

Every route the mocks mount has a name (`ekinerja.aktivitas`, `payroll.submit`, ...). `MockWorld` wraps each
route's handler once at mount time with `Faults.wrap`, so every mock gets faults the same way, in process (through
`httpx.MockTransport`) and over HTTP (`mocks.server`), from the same handlers:

| kind             | in process                                   | over HTTP                                      |
| ---------------- | -------------------------------------------- | ---------------------------------------------- |
| `rate-limit`     | 429 with `Retry-After`                       | the same                                       |
| `error`          | 500 / 502 (an HTML proxy page) / 503 / 504   | the same                                       |
| `suspended`      | BKN's "Runtime Error" ... `SUSPENDED` (503)  | the same                                       |
| `slow`           | the injectable `sleep(delay)`, then answers  | the server awaits `delay`, then answers        |
| `timeout`        | raises `httpx.ReadTimeout` (answer lost)     | the server holds the answer for `delay`        |
| `reset`          | raises `httpx.RemoteProtocolError`           | headers, half the body, then the socket closes |
| `reset`+refused  | raises `httpx.ConnectError` (not processed)  | headers only, then the socket closes           |
| `truncated`      | the answer's body cut in half                | the same                                       |
| `malformed`      | the answer's body made invalid JSON          | the same                                       |
| `duplicate`      | a listing page starts with records of the page before, served again (pages overlap) |            |
| `records-change` | records already paged get new content and `updatedAt` (they move to the end)    |            |
| `token-expiry`   | every BKN token expires before the request is answered                           |            |

`timeout` and `reset` run the handler first: the upstream did the work and the answer was lost (a payroll batch is
booked; the retry must not book it twice). The last three are data faults: the mock that owns the route applies
them (`FaultTarget`), and they fire only where that mock supports them.

A plan is per route name (or a glob such as `ekinerja.*`); on each request the route's faults are tried in order
and the first that fires wins. Each fault fires with probability `rate`, skips the route's first `after` requests
and fires at most `times` times; the draws come from `random.Random(f"{seed}:{route}")`, so the same requests meet
the same faults for a seed. Set a plan from Python (`world.faults.set(...)`, `world.faults.load(plan)`) or as JSON
through the server's `POST /_admin/faults` (`FaultPlan`).
"""

from __future__ import annotations

import fnmatch
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal["rate-limit", "error", "suspended", "slow", "timeout", "reset", "truncated", "malformed",
                    "duplicate", "records-change", "token-expiry"]
DATA_FAULTS = frozenset({"duplicate", "records-change", "token-expiry"})

# Request extensions between the server and the wrapped handlers.
SERVED = "mocks.served"  # set by the server: the request came over HTTP, so delays are the server's to await
DELAY = "mocks.delay"  # set by a `slow` fault on a served request: seconds the server waits before answering

Handler = Callable[..., httpx.Response]


class Fault(BaseModel):
    """One fault of a route's plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    rate: float = Field(default=1.0, ge=0.0, le=1.0, description="chance of firing on each request")
    after: int = Field(default=0, ge=0, description="leave the route's first `after` requests alone")
    times: int | None = Field(default=None, ge=1, description="fire at most this many times (no limit: None)")
    status: int | None = Field(default=None, description="error: 500, 502, 503 or 504 (503); suspended: (503)")
    retry_after: str | None = Field(default="1", description="rate-limit: the Retry-After header, None for none")
    delay: float = Field(default=0.05, ge=0.0, description="slow: seconds before the answer; timeout: how long "
                                                           "the server holds it over HTTP")
    records: int = Field(default=1, ge=1, description="duplicate / records-change: how many records")
    refused: bool = Field(default=False, description="reset: the request never reached the upstream")

    @model_validator(mode="after")
    def _check_status(self) -> Fault:
        if self.status is not None:
            allowed = {"error": {500, 502, 503, 504}, "suspended": {401, 500, 503}}.get(self.kind, set())
            if self.status not in allowed:
                raise ValueError(f"status {self.status} does not fit a {self.kind!r} fault "
                                 f"(allowed: {sorted(allowed) or 'none'})")
        return self


class FaultPlan(BaseModel):
    """Faults per route name or glob (`ekinerja.*`), with the seed of their draws: the JSON of /_admin/faults."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    routes: dict[str, list[Fault]] = {}


class FaultTarget(Protocol):
    """A mock that applies data faults to its own state."""

    def supports_fault(self, route: str, kind: str) -> bool: ...

    def apply_fault(self, fault: Fault, route: str, request: httpx.Request, rng: random.Random) -> bool:
        """Change the mock's state for this fault; False when it does not apply to this request."""
        ...


class InjectedTimeout(httpx.ReadTimeout):
    """The answer did not come in time. Over HTTP the server holds `response` for `delay` seconds."""

    def __init__(self, request: httpx.Request, response: httpx.Response, delay: float) -> None:
        super().__init__(f"mock fault: no answer within the client's timeout ({request.method} {request.url})",
                         request=request)
        self.response, self.delay = response, delay


class InjectedReset(httpx.RemoteProtocolError):
    """The connection broke in the middle of the answer. Over HTTP: headers, half the body, then a close."""

    def __init__(self, request: httpx.Request, response: httpx.Response) -> None:
        super().__init__(f"mock fault: connection reset while answering {request.method} {request.url}",
                         request=request)
        self.response = response


class InjectedRefusal(httpx.ConnectError):
    """The request never reached the upstream. Over HTTP the server closes the connection without an answer."""

    def __init__(self, request: httpx.Request) -> None:
        super().__init__(f"mock fault: connection refused for {request.method} {request.url}", request=request)


_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def _system(route: str) -> str:
    return route.split(".", 1)[0]


class Faults:
    """The live fault plan of one mock world, and the wrapper that applies it to every route."""

    def __init__(self, plan: FaultPlan | None = None, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep  # in process, `slow` waits through this (tests inject one that does not sleep)
        self._lock = threading.Lock()
        self._targets: dict[str, FaultTarget | None] = {}  # every wrapped route -> the mock that owns it
        self.load(plan or FaultPlan())

    # the plan ---------------------------------------------------------------------------------------------------
    @property
    def plan(self) -> FaultPlan:
        return self._plan

    @property
    def routes(self) -> list[str]:
        """Every route name the faults can be set on."""
        return sorted(self._targets)

    def load(self, plan: FaultPlan | dict[str, Any]) -> None:
        """Replace the whole plan (and start its draws and counts afresh)."""
        plan = plan if isinstance(plan, FaultPlan) else FaultPlan.model_validate(plan)
        for pattern, faults in plan.routes.items():
            self._check(pattern, faults)
        with self._lock:
            self._plan = plan
            self._rngs: dict[str, random.Random] = {}
            self._faults: dict[str, list[Fault]] = {}  # resolved per route name, in plan order
            self.requests: Counter[str] = Counter()  # requests seen per route
            self.fired: Counter[tuple[str, str]] = Counter()  # (route, kind) -> times fired
            self._fired_at: Counter[tuple[str, int]] = Counter()  # (route, index in its list) -> times fired

    def set(self, route: str, *faults: Fault, seed: int | None = None) -> None:
        """Set the faults of one route name or glob (none: clear it), keeping the rest of the plan."""
        routes = dict(self._plan.routes)
        if faults:
            routes[route] = list(faults)
        else:
            routes.pop(route, None)
        self.load(FaultPlan(seed=self._plan.seed if seed is None else seed, routes=routes))

    def clear(self) -> None:
        self.load(FaultPlan(seed=self._plan.seed))

    def snapshot(self) -> dict[str, Any]:
        """The plan and what fired so far, as JSON (GET /_admin/faults)."""
        with self._lock:
            return {"plan": self._plan.model_dump(mode="json"), "routes": self.routes,
                    "requests": dict(self.requests),
                    "fired": [{"route": r, "kind": k, "times": n} for (r, k), n in sorted(self.fired.items())]}

    def _check(self, pattern: str, faults: list[Fault]) -> None:
        names = [name for name in self._targets if fnmatch.fnmatchcase(name, pattern)]
        if not names and self._targets:
            raise ValueError(f"no mock route matches {pattern!r}; the routes are: {', '.join(self.routes)}")
        for fault in faults:
            if fault.kind not in DATA_FAULTS:
                continue
            able = [n for n in names if (t := self._targets[n]) is not None and t.supports_fault(n, fault.kind)]
            if names and not able:
                raise ValueError(f"no route matching {pattern!r} supports a {fault.kind!r} fault")

    # drawing ----------------------------------------------------------------------------------------------------
    def _route_faults(self, route: str) -> list[tuple[int, Fault]]:
        found = self._faults.get(route)
        if found is None:
            found = [f for pattern, faults in self._plan.routes.items() if fnmatch.fnmatchcase(route, pattern)
                     for f in faults]
            target = self._targets.get(route)
            found = [f for f in found if f.kind not in DATA_FAULTS
                     or (target is not None and target.supports_fault(route, f.kind))]
            self._faults[route] = found
        return list(enumerate(found))

    def draw(self, route: str) -> tuple[Fault, random.Random] | None:
        """The fault this request to `route` meets, if any (and the route's generator, for data faults)."""
        with self._lock:
            faults = self._route_faults(route)
            self.requests[route] += 1
            if not faults:
                return None
            seen = self.requests[route]
            rng = self._rngs.get(route)
            if rng is None:
                rng = self._rngs[route] = random.Random(f"{self._plan.seed}:{route}")
            for index, fault in faults:
                if seen <= fault.after or (fault.times is not None and self._fired_at[(route, index)] >= fault.times):
                    continue
                if fault.rate >= 1.0 or rng.random() < fault.rate:
                    self._fired_at[(route, index)] += 1
                    self.fired[(route, fault.kind)] += 1
                    return fault, rng
            return None

    def _unfire(self, route: str, fault: Fault) -> None:
        """A data fault that found nothing to change does not count against `times`."""
        with self._lock:
            for index, known in self._route_faults(route):
                if known is fault and self._fired_at[(route, index)]:
                    self._fired_at[(route, index)] -= 1
                    self.fired[(route, fault.kind)] -= 1
                    if not self.fired[(route, fault.kind)]:
                        del self.fired[(route, fault.kind)]
                    break

    # the wrapper ------------------------------------------------------------------------------------------------
    def wrap(self, route: str, handler: Handler, target: FaultTarget | None = None) -> Handler:
        """`handler` with this plan's faults for `route` in front of it (done once per route at mount time)."""
        self._targets[route] = target

        def with_faults(request: httpx.Request, **kwargs: Any) -> httpx.Response:
            drawn = self.draw(route)
            if drawn is None:
                return handler(request, **kwargs)
            fault, rng = drawn
            early = self._before(route, fault, request, target, rng)
            if early is not None:
                return early
            return self._after(route, fault, request, handler(request, **kwargs))

        with_faults.__name__ = f"faulty_{getattr(handler, '__name__', 'handler')}"
        return with_faults

    def _before(self, route: str, fault: Fault, request: httpx.Request, target: FaultTarget | None,
                rng: random.Random) -> httpx.Response | None:
        kind = fault.kind
        if kind == "rate-limit":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return httpx.Response(429, headers=headers, json={"fault": {
                "code": 900800, "message": "Message throttled out",
                "description": "You have exceeded your quota"}})
        if kind == "error":
            status = fault.status or 503
            if status == 502:  # what a reverse proxy in front of the upstream answers: HTML, not JSON
                return httpx.Response(502, headers={"Content-Type": "text/html"}, content=(
                    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
                    b"</h1></center><hr><center>nginx</center></body></html>"))
            return httpx.Response(status, json={"code": 0, "message": _REASONS[status]})
        if kind == "suspended":
            return httpx.Response(fault.status or 503, json={"fault": {
                "code": 303001, "message": "Runtime Error",
                "description": f"Currently , Address endpoint : [ Name : {_system(route)} ] - Current state : "
                               "SUSPENDED"}})
        if kind == "reset" and fault.refused:
            raise InjectedRefusal(request)
        if kind in DATA_FAULTS:
            assert target is not None  # _route_faults keeps data faults only where a target supports them
            if not target.apply_fault(fault, route, request, rng):
                self._unfire(route, fault)
        return None

    def _after(self, route: str, fault: Fault, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        kind = fault.kind
        if kind == "slow":
            if request.extensions.get(SERVED):
                request.extensions[DELAY] = fault.delay
            else:
                self.sleep(fault.delay)
            return response
        if kind == "timeout":
            raise InjectedTimeout(request, response, fault.delay)
        if kind == "reset":
            raise InjectedReset(request, response)
        if kind == "truncated":
            body = response.read()
            return _with_body(response, body[:len(body) // 2])
        if kind == "malformed":
            body = response.read()
            # A key loses its quotes: the body is whole (no transport error) but is not JSON any more.
            broken = body.replace(b'"', b"", 2) if body.startswith(b"{") else b"{" + body
            return _with_body(response, broken)
        return response


def _with_body(response: httpx.Response, body: bytes) -> httpx.Response:
    headers = [(k, v) for k, v in response.headers.raw if k.lower() != b"content-length"]
    return httpx.Response(response.status_code, headers=headers, content=body)


__all__ = ["DATA_FAULTS", "DELAY", "SERVED", "Fault", "FaultKind", "FaultPlan", "FaultTarget", "Faults",
           "InjectedRefusal", "InjectedReset", "InjectedTimeout"]
