"""Replicas: `gateway worker [--concurrency N]` works stages from the queue, `gateway scheduler [--once]` enqueues
each tick's (one active scheduler: the others stand by). Both need PostgreSQL: the locks that keep two workers off
one tenant-period, and the scheduler to one, are PostgreSQL advisory locks (gateway/scale/)."""

from __future__ import annotations

import socket
from enum import StrEnum
from typing import Annotated

import typer

from gateway.errors import ConfigurationError
from gateway.settings import Settings


class Pool(StrEnum):
    prefork = "prefork"
    solo = "solo"
    threads = "threads"


def _settings() -> Settings:
    from sqlalchemy.engine import make_url

    settings = Settings()
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        raise ConfigurationError("replicas need PostgreSQL (their locks are PostgreSQL advisory locks); "
                                 "set GATEWAY_DATABASE_URL, or run the single process `gateway run`")
    if (settings.worker_broker_url or settings.feed_broker_url).startswith("memory://"):
        raise ConfigurationError("replicas need a broker every process reaches: set GATEWAY_WORKER_BROKER_URL "
                                 "(or GATEWAY_FEED_BROKER_URL) to amqp://...")
    return settings


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        concurrency: Annotated[int, typer.Option(min=1, help="stages worked at once (processes)")] = 1,
        pool: Annotated[Pool, typer.Option(help="Celery pool")] = Pool.prefork,
        name: Annotated[str | None, typer.Option(help="this worker's name (default tpp@<host>)")] = None,
        health_port: Annotated[int | None, typer.Option(
            help="serve /live, /ready and /metrics (Prometheus) on this port (0: any free one)")] = None,
        health_host: Annotated[str, typer.Option(help="the address the health port listens on")] = "127.0.0.1",
    ) -> None:
        """A replica: work the stages `gateway scheduler` enqueues, one tenant-period at a time per worker."""
        from gateway.scale import make_app
        from gateway.store import make_engine

        settings = _settings()
        engine = make_engine(settings.database_url)  # migrated once here, before a prefork pool forks
        if health_port is None:
            engine.dispose()
        else:  # readiness: the database, its migrations and the worker's broker; the store's gauges per tenant
            from gateway.health import serve_health
            from gateway.pipeline import utc_now

            try:
                health = serve_health(health_port, engine, tenants=lambda: settings.tenants, clock=utc_now,
                                      broker_urls=[settings.worker_broker_url or settings.feed_broker_url],
                                      host=health_host)
            except OSError as exc:
                raise typer.BadParameter(f"cannot serve health on {health_host}:{health_port}: "
                                         f"{exc.strerror or exc}", param_hint="--health-port") from None
            typer.echo(f"health on {health.url} (/live, /ready, /metrics)", err=True)
        make_app(settings).worker_main(["worker", "--pool", pool.value, "--concurrency", str(concurrency),
                                        "--queues", settings.worker_queue, "--loglevel", "WARNING",
                                        "--hostname", name or f"tpp@{socket.gethostname()}",
                                        "--without-gossip", "--without-mingle"])

    @app.command()
    def scheduler(
        interval: Annotated[float, typer.Option(help="seconds between ticks")] = 300.0,
        grace_days: Annotated[int, typer.Option(help="days after a period ends before it is computed")] = 7,
        once: Annotated[bool, typer.Option("--once", help="one tick, then exit")] = False,
    ) -> None:
        """Enqueue what is due each tick for `gateway worker`s; one scheduler is active, the others stand by."""
        import signal

        from gateway.bootstrap import build_pipeline
        from gateway.pipeline import utc_now
        from gateway.scale import Scheduler, make_app

        settings = _settings()
        pipeline = build_pipeline(settings)
        runner = Scheduler(make_app(settings, lambda: pipeline), pipeline, clock=utc_now,
                           interval_seconds=interval, grace_days=grace_days)
        signal.signal(signal.SIGTERM, runner.stop)
        signal.signal(signal.SIGINT, runner.stop)
        sent = runner.run(max_ticks=1 if once else None)
        if once and not sent:
            typer.echo("another scheduler holds the lock: nothing enqueued", err=True)
