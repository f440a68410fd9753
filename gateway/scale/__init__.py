"""Replicas on Celery: `gateway scheduler` enqueues each tick's stages, `gateway worker`s work them.

A tick is the daemon's (`gateway.daemon.plan_tick`): per tenant-period its stages in order, sent as one Celery chain
of `tpp.stage` tasks on the configured queue (RabbitMQ). What each guarantee rests on:

- **One worker per tenant-period at a time**: a stage runs only while its worker holds the PostgreSQL advisory lock
  of the tenant-period (`gateway.store.work`); a stage that finds it held is retried later (Celery's retry, after
  `worker_busy_retry_seconds`), never run beside it.
- **Once per tick**: every attempt is recorded in `work_runs` with the scheduler's tick; a stage of a tick whose
  attempt has already finished is skipped (a tick enqueued twice, a message redelivered after its ack was lost).
  The check runs under the lock, so it cannot race the first attempt.
- **Nothing lost to a crash**: `task_acks_late` with `task_reject_on_worker_lost` (a message is acknowledged when
  its stage has ended, so a killed worker's stage is delivered again) and `worker_prefetch_multiplier = 1` (a worker
  holds one message beyond the one it works); the killed worker's lock goes with its connection.
- **Payroll lines once**: the outbox and the payroll ledger, as with one process; the relay claims rows with
  `FOR UPDATE SKIP LOCKED`, so relay stages of several workers share the rows.
- **One tenant's failure stays its own**: a stage that raises anything is recorded as failed, logged (a bug with its
  traceback), and ends its own chain only; the next tick tries again.
- **One scheduler**: it enqueues only while it holds a session-level advisory lock; a second one waits as a standby.
"""

from __future__ import annotations

import os
import socket
import traceback
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import structlog
from celery import Celery, chain
from celery.exceptions import Ignore

from gateway.daemon import RELAY, Plan, plan_tick, run_stage
from gateway.domain import WIB
from gateway.errors import GatewayError
from gateway.logsetup import mask_text
from gateway.pipeline import Pipeline
from gateway.settings import Settings
from gateway.store import work

log = structlog.get_logger(__name__)

STAGE_TASK = "tpp.stage"

PipelineFactory = Callable[[], Pipeline]


def make_app(settings: Settings, pipeline_factory: PipelineFactory | None = None) -> Celery:
    """The Celery app of a deployment: its broker and queue from the settings; the worker's pipeline is built once
    per worker process, on its first stage (after a prefork pool has forked)."""
    app = Celery("tpp_gateway", broker=settings.worker_broker_url or settings.feed_broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.worker_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # outcomes are in work_runs; no result backend
        task_serializer="json", accept_content=["json"],
        worker_hijack_root_logger=False,  # the gateway's own logging (gateway.logsetup)
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
    )
    if pipeline_factory is None:
        def pipeline_factory() -> Pipeline:
            from gateway.bootstrap import build_pipeline

            return build_pipeline(settings)
    built: list[Pipeline] = []

    def pipeline() -> Pipeline:
        if not built:
            built.append(pipeline_factory())
        return built[0]

    @app.task(name=STAGE_TASK, bind=True, max_retries=None)
    def stage_task(self: Any, tick: str, tenant: str, period: str, stage: str) -> str:
        return work_stage(pipeline(), tick, tenant, period, stage,
                          worker=f"{self.request.hostname or socket.gethostname()}:{os.getpid()}",
                          busy=lambda: self.retry(countdown=settings.worker_busy_retry_seconds))

    return app


def work_stage(pipeline: Pipeline, tick: str, tenant: str, period: str, stage: str, *, worker: str,
               busy: Callable[[], BaseException]) -> str:
    """One stage of one tenant-period under its lock: `done`, `duplicate` (this tick's stage was already worked),
    or, when the tenant-period is held elsewhere, whatever `busy()` raises (Celery's retry). A failed stage (or the
    duplicate of one) raises Celery's `Ignore`: the message is acknowledged and the rest of its chain dropped."""
    engine = pipeline.engine
    bound = log.bind(tenant=tenant, period=period, stage=stage, tick=tick, worker=worker)
    with work.advisory_lock(engine, "work", tenant, period) as held:
        if not held:
            bound.info("worker.busy")
            raise busy()
        before = work.finished(engine, tick, tenant, period, stage)
        if before is not None:
            work.start(engine, tick, tenant, period, stage, worker, outcome="duplicate")
            bound.info("worker.duplicate", earlier=before)
            if before == "failed":
                raise Ignore()
            return "duplicate"
        run = work.start(engine, tick, tenant, period, stage, worker)
        try:
            run_stage(pipeline, stage, tenant, period)
            if stage == RELAY:
                pipeline.purge()
        except GatewayError as exc:  # an upstream down, refused credentials, a setting: one line
            work.finish(engine, run, tenant, "failed", mask_text(str(exc)))
            bound.error("worker.stage_failed", error=str(exc))
            raise Ignore() from None
        except Exception as exc:  # noqa: BLE001 - a bug in one tenant: its traceback, and the others go on
            work.finish(engine, run, tenant, "failed", mask_text(traceback.format_exc()))
            bound.exception("worker.stage_failed", error=f"{type(exc).__name__}: {exc}")
            raise Ignore() from None
        work.finish(engine, run, tenant, "done")
        bound.info("worker.stage_done")
        return "done"


def new_tick(now: datetime) -> str:
    return f"{now.astimezone(WIB):%Y-%m-%dT%H:%M:%S}-{uuid.uuid4().hex[:8]}"


def enqueue_tick(app: Celery, pipeline: Pipeline, today: date, grace_days: int, tick: str,
                 tenants: list[str] | None = None) -> Plan:
    """Send what is due `today` (the daemon's plan): one chain of stages per tenant-period, tagged with `tick`."""
    chosen = tenants if tenants is not None else (pipeline.settings.daemon_tenants or None)
    plan = plan_tick(pipeline.settings, today, grace_days, chosen, pipeline.reads_evidence)
    for tenant, problem in plan.skipped:
        log.warning("scheduler.tenant_skipped", tenant=tenant, reason=problem)
    for item in plan.work:
        chain(*(app.signature(STAGE_TASK, args=(tick, item.tenant, item.period, stage), immutable=True)
                for stage in item.stages)).apply_async()
    log.info("scheduler.tick", tick=tick, work=[f"{w.tenant}/{w.period}" for w in plan.work])
    return plan


class Scheduler:
    """Enqueues a tick every `interval` seconds while it holds the scheduler's advisory lock (its own connection,
    for the process's life); without it, it stands by and tries again each interval."""

    def __init__(self, app: Celery, pipeline: Pipeline, *, clock: Callable[[], datetime],
                 interval_seconds: float = 300.0, grace_days: int = 7,
                 wait: Callable[[float], bool] | None = None) -> None:
        import threading

        self.app, self.pipeline, self.clock = app, pipeline, clock
        self.interval, self.grace_days = interval_seconds, grace_days
        self.stop_event = threading.Event()
        self._wait = wait or self.stop_event.wait

    def tick(self) -> Plan:
        now = self.clock()
        return enqueue_tick(self.app, self.pipeline, now.astimezone(WIB).date(), self.grace_days, new_tick(now))

    def run(self, max_ticks: int | None = None) -> int:
        """Until stopped (or `max_ticks` ticks sent, 1 for `--once`); returns the ticks sent by this instance, 0
        when another scheduler held the lock throughout."""
        ticks = 0
        while not self.stop_event.is_set():
            with work.advisory_lock(self.pipeline.engine, "scheduler") as held:
                if not held:
                    log.info("scheduler.standby")
                    if max_ticks is not None or self._wait(self.interval):
                        return ticks
                    continue
                while not self.stop_event.is_set():
                    self.tick()
                    ticks += 1
                    if (max_ticks is not None and ticks >= max_ticks) or self._wait(self.interval):
                        return ticks
        return ticks

    def stop(self, *_args: object) -> None:
        self.stop_event.set()
