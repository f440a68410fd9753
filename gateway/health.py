"""Liveness, readiness and Prometheus metrics over HTTP, for `gateway run --health-port` (and `gateway worker`).

    handle = serve_health(9102, engine, tenants=lambda: settings.tenants, broker_url=settings.feed_broker_url)
    ...
    handle.close()

- `GET /live`: 200 while the process serves at all.
- `GET /ready`: 200 when the database answers, its schema is at Alembic's head and the broker (if one is
  configured; `memory://` is none) accepts a connection; 503 otherwise. The body (JSON) says which check failed.
- `GET /metrics`: prometheus-client's own WSGI app over a registry of this server's own (`gateway.metrics`).

A WSGI app served by the standard library's `wsgiref` server, threaded, in a daemon thread: what prometheus-client's
own `start_http_server` does, with two more paths in front of its app.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from prometheus_client import make_wsgi_app
from sqlalchemy import Engine, text

from gateway.logsetup import mask_text
from gateway.metrics import BreakerState, registry
from gateway.store.engine import alembic_config

__all__ = ["HealthServer", "readiness", "serve_health"]

log = structlog.get_logger(__name__)


def _first_line(exc: BaseException) -> str:
    # No URL or password: an error's first line, masked like a log line.
    return mask_text(f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}")[:300]


def check_database(engine: Engine) -> dict[str, str]:
    """`database`: a round trip; `migrations`: the schema's revision against the code's Alembic head."""
    checks: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:  # noqa: BLE001 - any failure to answer is "not ready", said in the body
        return {"database": _first_line(exc), "migrations": "unknown: the database did not answer"}
    checks["database"] = "ok"
    head = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    checks["migrations"] = "ok" if current == head else (
        f"at {', '.join(sorted(current)) or 'nothing'}, head is {', '.join(sorted(head))}")
    return checks


def check_broker(url: str, timeout: float = 2.0) -> str:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - kombu raises the transport's own errors
        return _first_line(exc)
    return "ok"


def readiness(engine: Engine, broker_urls: Iterable[str] = ()) -> tuple[bool, dict[str, str]]:
    checks = check_database(engine)
    for n, url in enumerate(u for u in broker_urls if u and not u.startswith("memory://")):
        checks["broker" if n == 0 else f"broker{n + 1}"] = check_broker(url)
    return all(v == "ok" for v in checks.values()), checks


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a scrape in progress never holds the process's exit


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        """wsgiref writes each request to stderr: that is the JSON log's stream. Scrapes are not logged."""


class _App:
    def __init__(self, engine: Engine, broker_urls: list[str], metrics: Callable[..., Any]) -> None:
        self.engine, self.broker_urls, self.metrics = engine, broker_urls, metrics

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/live":
            return _json(start_response, "200 OK", {"live": True})
        if path == "/ready":
            ready, checks = readiness(self.engine, self.broker_urls)
            if not ready:
                log.warning("health.not_ready", checks=checks)
            return _json(start_response, "200 OK" if ready else "503 Service Unavailable",
                         {"ready": ready, "checks": checks})
        if path == "/metrics":
            return self.metrics(environ, start_response)  # type: ignore[no-any-return]
        return _json(start_response, "404 Not Found", {"error": f"no {path}; try /live, /ready, /metrics"})


def _json(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> Iterator[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return iter([data])


@dataclass
class HealthServer:
    """A running health server; `close()` stops it (also on leaving a `with`)."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> HealthServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def serve_health(port: int, engine: Engine, *, tenants: Callable[[], Iterable[str]],
                 clock: Callable[[], datetime], broker_urls: Iterable[str] = (),
                 breakers: Callable[[], Iterable[BreakerState]] | None = None,
                 host: str = "127.0.0.1") -> HealthServer:
    """Serve `/live`, `/ready` and `/metrics` on `host:port` (0: any free port, read it from `.port`) in a
    background thread. `tenants` are the tenants whose store state the metrics read (each scrape asks again);
    `broker_urls` the brokers readiness needs (the feed's, a worker's Celery broker); `breakers` the process's
    circuit breakers (`gateway.metrics.breakers_of`). Raises OSError when the port cannot be bound."""
    app = _App(engine, list(broker_urls), make_wsgi_app(registry(engine, tenants, clock, breakers)))
    server = make_server(host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="health", daemon=True)
    thread.start()
    bound = server.server_address[1]
    log.info("health.serving", host=host, port=bound)
    return HealthServer(host, int(bound), server, thread)
