"""The mocks over real HTTP: an ASGI app that hands each request to the world's respx router, under uvicorn.

One seam: the handlers the gateway reaches in process through `MockWorld.transport()` are the very ones that
answer here. Each incoming request becomes an `httpx.Request` against the world's loopback endpoints
(`Endpoints.loopback`: every upstream under one origin, each under its own path prefix), the router answers it in a
worker thread (so concurrent clients really run concurrently, as against the real systems), and the answer's bytes
go back unchanged. The national systems are answered at their real absolute paths on the root as well
(`Endpoints.root_paths`: `/oauth2/token`, `/apisiasn/1.0/...`, `/ekinerja/1.0/...`,
`/auth/realms/public-siasn/protocol/openid-connect/token`, `/api/v2/verify/pdf`, `/api/sign/verify`): such a request
is handed to the router at its prefixed path, so it meets the same route, by the same name, with the same faults.
Faults that cannot be an answer are played out on the socket (`mocks.faults`): a `timeout` holds the answer, a
`reset` sends half of it and closes, a refusal closes without one.

Admin endpoints, under `/_admin/` (JSON):

- `GET /_admin/health`: `{"status": "ok", ...}` with the scenario, the base URLs, the real paths also answered on
  the root (`root_paths`) and the route names;
- `POST /_admin/scenario`: body a scenario (docs/scenario-format.md), every mock is seeded from it; payroll's ledger
  and SPBE's records start empty unless `?keep_books=1`;
- `GET /_admin/faults`: the fault plan, requests per route and what fired; `POST /_admin/faults`: body a
  `FaultPlan`, e.g. `{"seed": 1, "routes": {"ekinerja.aktivitas": [{"kind": "error", "rate": 0.1}]}}` (`{}`
  clears it); `DELETE /_admin/faults` clears it;
- `POST /_admin/bkn/expire-tokens`: every BKN token expires now;
- `GET /_admin/payroll/ledger`: payroll's batches, bookings, total and any line booked twice;
- `GET /_admin/spbe/records`: the evidence verdicts SPBE recorded.

Loopback only: `bind` refuses any other address unless asked (`allow_remote`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import httpx
import uvicorn
from pydantic import ValidationError
from respx.models import AllMockedAssertionError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mocks import ADMIN_PATH, Endpoints, MockWorld
from mocks.faults import DELAY, SERVED, FaultPlan, InjectedRefusal, InjectedReset, InjectedTimeout
from mocks.scenario import ScenarioData, ScenarioFile

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]

_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length"})
_KEEP_CALLS = 1_000  # respx records every call; a long-running server forgets them past this many


class MockServerApp:
    """ASGI: `/_admin/...` to the admin endpoints, everything else to the world's router."""

    def __init__(self, world: MockWorld) -> None:
        if not world.endpoints.origin:
            raise ValueError("serve a MockWorld built with Endpoints.loopback(host, port): its routes must sit "
                             "under the origin the server listens on")
        self.world = world
        self.origin = world.endpoints.origin
        self.root_paths = list(world.endpoints.root_paths().items())  # disjoint: at most one holds a path
        self.admin = _admin_app(world)
        self.served = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == ADMIN_PATH or scope["path"].startswith(ADMIN_PATH + "/"):
            await self.admin(scope, receive, send)
            return
        await self.upstream(scope, receive, send)

    async def upstream(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        path = self.prefixed((scope.get("raw_path") or scope["path"].encode()).decode("latin-1"))
        query = scope.get("query_string") or b""
        url = self.origin + path + ("?" + query.decode("latin-1") if query else "")
        request = httpx.Request(scope["method"], url, headers=scope["headers"], content=body,
                                extensions={SERVED: True})
        try:
            response = await anyio.to_thread.run_sync(self._handle, request)
        except InjectedTimeout as fault:
            # Hold the answer past the client's timeout; a client that waits long enough still gets it.
            if not await _wait_or_disconnect(receive, fault.delay):
                await _answer(send, fault.response, fault.response.read())
            return
        except InjectedReset as fault:
            content = fault.response.read()
            await _abort(send, fault.response, content[:len(content) // 2], declared=len(content) or 1)
            return
        except InjectedRefusal:
            await _abort(send, httpx.Response(200), b"", declared=1)
            return
        except AllMockedAssertionError:
            response = httpx.Response(404, json={"code": 0, "message": f"no mock answers {scope['method']} "
                                                                       f"{scope['path']}"})
        delay = request.extensions.get(DELAY)
        if delay and await _wait_or_disconnect(receive, delay):
            return
        await _answer(send, response, response.read())

    def prefixed(self, path: str) -> str:
        """Where the router serves `path`: a real path on the root moves under its upstream's prefix."""
        for real, here in self.root_paths:
            if path == real or path.startswith(real + "/"):
                return here + path[len(real):]
        return path

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.served += 1
        if self.served % _KEEP_CALLS == 0:
            self.world.router.reset()
        return self.world.router.handler(request)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _wait_or_disconnect(receive: Receive, seconds: float) -> bool:
    """Wait `seconds` (a real, non-blocking wait); True if the client went away meanwhile."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait_for(asyncio.shield(watcher), timeout=seconds)
        return True
    except TimeoutError:
        return False
    finally:
        watcher.cancel()


def _headers(response: httpx.Response, length: int) -> list[tuple[bytes, bytes]]:
    headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]
    headers.append((b"content-length", str(length).encode()))
    return headers


async def _answer(send: Send, response: httpx.Response, content: bytes) -> None:
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": _headers(response, len(content))})
    await send({"type": "http.response.body", "body": content})


async def _abort(send: Send, response: httpx.Response, partial: bytes, *, declared: int) -> None:
    """Announce `declared` bytes, send fewer, and end: the server closes the connection mid-answer."""
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": _headers(response, declared)})
    await send({"type": "http.response.body", "body": partial, "more_body": True})


# admin ------------------------------------------------------------------------------------------------------------
def _admin_app(world: MockWorld) -> Starlette:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "tenant": world.scenario.tenant, "period": world.scenario.period,
                             "endpoints": world.endpoints.urls(), "root_paths": world.endpoints.root_paths(),
                             "routes": sorted(world.routes)})

    async def load_scenario(request: Request) -> JSONResponse:
        body = await request.body()

        def read() -> ScenarioFile:
            scenario = ScenarioFile(body)
            scenario.check()  # every record, before any mock is reseeded
            return scenario

        try:
            scenario = await anyio.to_thread.run_sync(read)
        except ValueError as exc:
            return JSONResponse({"error": f"not a scenario: {exc}"}, status_code=422)
        keep = request.query_params.get("keep_books", "").lower() in ("1", "true", "yes")
        loaded = {"tenant": scenario.tenant, "period": scenario.period, "employees": len(scenario.employees),
                  "activities": len(scenario.activities)}  # counted before seeding drops the parsed records
        await anyio.to_thread.run_sync(lambda: world.load(scenario, keep_books=keep))
        return JSONResponse({"loaded": loaded, "kept_books": keep})

    async def faults(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            world.faults.clear()
        elif request.method == "POST":
            try:
                world.faults.load(FaultPlan.model_validate_json(await request.body() or b"{}"))
            except (ValidationError, ValueError) as exc:
                message = exc.errors()[:3] if isinstance(exc, ValidationError) else str(exc)
                return JSONResponse({"error": f"not a fault plan: {message}"}, status_code=422)
        return JSONResponse(world.faults.snapshot())

    async def expire_tokens(request: Request) -> JSONResponse:
        world.bkn.expire_tokens()
        return JSONResponse({"expired": True})

    async def ledger(request: Request) -> JSONResponse:
        return JSONResponse(world.payroll.snapshot())

    async def spbe_records(request: Request) -> JSONResponse:
        rows = [v.model_dump(mode="json") for v in list(world.spbe.records.values())]
        return JSONResponse({"count": len(rows), "records": rows})

    return Starlette(routes=[
        Route("/_admin/health", health, methods=["GET"]),
        Route("/_admin/scenario", load_scenario, methods=["POST"]),
        Route("/_admin/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_admin/bkn/expire-tokens", expire_tokens, methods=["POST"]),
        Route("/_admin/payroll/ledger", ledger, methods=["GET"]),
        Route("/_admin/spbe/records", spbe_records, methods=["GET"]),
    ])


def create_app(world: MockWorld) -> MockServerApp:
    return MockServerApp(world)


# running ----------------------------------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False) -> socket.socket:
    """A listening socket (port 0: any free port); only on loopback unless `allow_remote`."""
    if not allow_remote and not is_loopback(host):
        raise ValueError(f"refusing to serve the mocks on {host}: they answer to demo credentials; use a loopback "
                         f"address (127.0.0.1) or allow remote hosts explicitly")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and without it every answer
    # written in two parts (headers, body) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class _QuietAborts(logging.Filter):
    """A `reset` fault ends a response on purpose; uvicorn need not report it as an application error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def _config(app: MockServerApp, log_level: str) -> uvicorn.Config:
    logging.getLogger("uvicorn.error").addFilter(_QuietAborts())
    return uvicorn.Config(app, lifespan="off", log_level=log_level, access_log=False, timeout_graceful_shutdown=2)


def serve(world: MockWorld, sock: socket.socket, *, log_level: str = "warning") -> None:
    """Serve until interrupted (Ctrl-C), in this thread."""
    uvicorn.Server(_config(create_app(world), log_level)).run(sockets=[sock])


class MockServer:
    """A world served by uvicorn in a background thread, on a loopback port of its own (tests, benchmarks).

        with MockServer(lambda endpoints: MockWorld(scenario, endpoints)) as server:
            httpx.get(server.endpoints.ekinerja_url + "/aktivitas", ...)
    """

    def __init__(self, make_world: Callable[[Endpoints], MockWorld], *, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning") -> None:
        self.sock = bind(host, port)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.endpoints = Endpoints.loopback(host, self.port)
        self.world = make_world(self.endpoints)
        self.app = create_app(self.world)
        self._server = uvicorn.Server(_config(self.app, log_level))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return self.endpoints.origin

    def start(self, timeout: float = 10.0) -> MockServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self.sock]},
                                        name=f"mock-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the mock server on {self.base_url} did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serving(scenario: ScenarioData, **options: Any) -> Iterator[MockServer]:
    """The scenario's world served on a free loopback port for the duration of the block."""
    with MockServer(lambda endpoints: MockWorld(scenario, endpoints), **options) as server:
        yield server


__all__ = ["MockServer", "MockServerApp", "bind", "create_app", "is_loopback", "serve", "serving"]
