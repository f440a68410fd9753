"""Health and metrics: `/live`, `/ready` and `/metrics` scraped over loopback while the daemon runs against the
mocks served over HTTP; readiness turns 503 when the database is unreachable, its schema behind, or the broker down.

The daemon's clock is injected and its wait between ticks is the test's hook: the scrape happens inside the
daemon's run, between two ticks, with no sleep anywhere.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import structlog
from alembic.script import ScriptDirectory
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from gateway import logsetup
from gateway.bootstrap import build_pipeline, mock_settings
from gateway.daemon import Daemon
from gateway.health import serve_health
from gateway.metrics import DELIVERIES, RECORDS_PULLED, UPSTREAM_ERRORS, breakers_of
from gateway.settings import Settings
from gateway.stages import Compute
from gateway.store import make_engine
from gateway.store.engine import alembic_config, upgrade
from gateway.store.tables import quarantine
from mocks import Fault, MockWorld, Scenario
from mocks.server import MockServer
from tests.conftest import FakeClock

METRO = Scenario.bundled("metro")
APRIL_10 = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)  # March's grace days are over: March is computed


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics answer, by name and labels."""
    answer = httpx.get(url + "/metrics", timeout=10)
    assert answer.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def sample(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def counter(metric: Any, *labels: str) -> float:
    return float(metric.labels(*labels)._value.get())


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(lambda endpoints: MockWorld(METRO, endpoints)) as served:
        yield served


def test_metrics_and_readiness_scraped_while_the_daemon_runs_against_the_served_mocks(db_url: str,
                                                                                     server: MockServer) -> None:
    world = server.world
    world.faults.clear()
    world.load(METRO)
    world.faults.set("payroll.submit", Fault(kind="error", status=503))  # payroll down: its rows stay pending
    clock = FakeClock(APRIL_10)
    settings = mock_settings(Settings(database_url=db_url, breaker_fail_max=3), world)
    pipeline = build_pipeline(settings, clock=clock, sleep=lambda _s: None)  # over HTTP: no transport given
    before = {"activities": counter(RECORDS_PULLED, "metro", "aktivitas"),
              "employees": counter(RECORDS_PULLED, "metro", "pegawai"),
              "retries": counter(DELIVERIES, "metro", "payroll", "retry"),
              "delivered_spbe": counter(DELIVERIES, "metro", "spbe", "delivered"),
              "payroll_503": counter(UPSTREAM_ERRORS, "metro", "payroll", "503")}
    seen: dict[str, Any] = {}

    def between_ticks(_seconds: float) -> bool:
        """The daemon waits for its next tick: scrape now (ten minutes later by its clock), then stop it."""
        clock.advance(seconds=600)
        seen["live"] = httpx.get(health.url + "/live", timeout=10)
        seen["ready"] = httpx.get(health.url + "/ready", timeout=10)
        seen["metrics"] = scrape(health.url)
        return True

    daemon = Daemon(pipeline, clock=clock, tenants=["metro"], wait=between_ticks)
    with serve_health(0, pipeline.engine, tenants=lambda: ["metro"], clock=clock,
                      breakers=breakers_of(pipeline.ctx.http_clients)) as health:
        assert health.port != 0
        assert daemon.run() == 1
    assert seen["live"].status_code == 200
    assert seen["ready"].status_code == 200 and seen["ready"].json() == {
        "ready": True, "checks": {"database": "ok", "migrations": "ok"}}
    got = seen["metrics"]
    # What the mock served, row for row: March's activities (April has none yet) and the employees once per sync
    # (reference data: asked for each of the two periods pulled, March and April).
    march = [a for a in METRO.activities if a.date.isoformat().startswith("2026-03")]
    assert sample(got, "tpp_gateway_records_pulled_total", tenant="metro", stream="aktivitas") \
        == counter(RECORDS_PULLED, "metro", "aktivitas") == before["activities"] + len(march)
    assert counter(RECORDS_PULLED, "metro", "pegawai") - before["employees"] == 2 * len(METRO.employees)
    # Open quarantine by rule, as the quarantine table holds it.
    with pipeline.engine.connect() as conn:
        rules = dict(conn.execute(select(quarantine.c.rule, func.count()).where(
            quarantine.c.tenant == "metro", quarantine.c.resolved_at.is_(None)).group_by(quarantine.c.rule)).all())
    assert rules  # the bundled month has bad records
    for rule, n in rules.items():
        assert sample(got, "tpp_gateway_quarantine_open", tenant="metro", rule=rule) == n
    # Payroll down: its four OPD rows pending, ten minutes old by the daemon's clock; SPBE and the feed delivered.
    assert sample(got, "tpp_gateway_outbox_rows", tenant="metro", destination="payroll", status="pending") == 4
    assert sample(got, "tpp_gateway_outbox_oldest_pending_age_seconds", tenant="metro", destination="payroll") == 600
    # SPBE: the 3 verdict batches and the audit head after compute
    assert sample(got, "tpp_gateway_outbox_rows", tenant="metro", destination="spbe", status="delivered") == 4
    assert sample(got, "tpp_gateway_outbox_oldest_pending_age_seconds", tenant="metro", destination="spbe") is None
    assert counter(DELIVERIES, "metro", "payroll", "retry") - before["retries"] == 4
    assert counter(DELIVERIES, "metro", "spbe", "delivered") - before["delivered_spbe"] == 4  # with the audit head
    # The 503s counted (three in a row open the breaker; the calls after it are not asked), the breaker open.
    assert counter(UPSTREAM_ERRORS, "metro", "payroll", "503") - before["payroll_503"] == 3
    assert sample(got, "tpp_gateway_breaker_state", tenant="", upstream="payroll",
                  tpp_gateway_breaker_state="open") == 1
    assert sample(got, "tpp_gateway_breaker_state", tenant="", upstream="bsre",
                  tpp_gateway_breaker_state="closed") == 1
    assert sample(got, "tpp_gateway_sync_lag_seconds", tenant="metro", stream="ekinerja.aktivitas.2026-03") == 600
    assert sample(got, "tpp_gateway_store_up") == 1
    world.faults.clear()


def test_ready_is_503_when_the_database_is_unreachable() -> None:
    engine = make_engine("postgresql+psycopg://nobody:secret@127.0.0.1:1/none", migrate=False)
    with serve_health(0, engine, tenants=lambda: ["metro"], clock=lambda: APRIL_10) as health:
        answer = httpx.get(health.url + "/ready", timeout=10)
        metrics = scrape(health.url)
        assert httpx.get(health.url + "/live", timeout=10).status_code == 200  # alive, just not ready
    assert answer.status_code == 503
    body = answer.json()
    assert body["ready"] is False and body["checks"]["database"].startswith("OperationalError")
    assert "secret" not in answer.text
    assert sample(metrics, "tpp_gateway_store_up") == 0  # the scrape itself still answers


def test_ready_is_503_while_migrations_are_behind(db_url: str) -> None:
    engine = make_engine(db_url, migrate=False)
    script = ScriptDirectory.from_config(alembic_config(engine))
    previous = script.get_revision(script.get_current_head()).down_revision  # one release behind
    upgrade(engine, str(previous))
    with serve_health(0, engine, tenants=lambda: [], clock=lambda: APRIL_10) as health:
        behind = httpx.get(health.url + "/ready", timeout=10)
        upgrade(engine)  # what the next start of the gateway does
        again = httpx.get(health.url + "/ready", timeout=10)
    assert behind.status_code == 503
    assert behind.json()["checks"]["migrations"] == f"at {previous}, head is {script.get_current_head()}"
    assert again.status_code == 200 and again.json()["checks"]["migrations"] == "ok"


def test_ready_is_503_when_the_configured_broker_is_unreachable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path}/b.db")
    with serve_health(0, engine, tenants=lambda: [], clock=lambda: APRIL_10,
                      broker_urls=["memory://", "amqp://guest:guest@127.0.0.1:1//"]) as health:
        answer = httpx.get(health.url + "/ready", timeout=30)
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["database"] == checks["migrations"] == "ok" and checks["broker"] != "ok"  # memory:// is no broker


@pytest.mark.rabbitmq
def test_ready_with_the_configured_broker_reachable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from tests.conftest import IN_CI

    url = os.environ.get("GATEWAY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    engine = make_engine(f"sqlite:///{tmp_path}/r.db")
    with serve_health(0, engine, tenants=lambda: [], clock=lambda: APRIL_10, broker_urls=[url]) as health:
        answer = httpx.get(health.url + "/ready", timeout=30)
    if answer.status_code == 503 and not IN_CI:
        pytest.skip(f"RabbitMQ not reachable at {url}: {answer.json()['checks']['broker']}")
    assert answer.status_code == 200 and answer.json()["checks"]["broker"] == "ok"


def test_a_failure_of_any_kind_in_one_tenant_is_logged_with_its_traceback_and_the_others_go_on(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from gateway.bootstrap import build_mock_pipeline

    clock = FakeClock(APRIL_10)
    settings = Settings(database_url=f"sqlite:///{tmp_path}/d.db")
    # A second city on the same endpoints, pulled first (tenants go in name order).
    settings = settings.model_copy(update={"tenants": {"metro": settings.tenants["metro"],
                                                       "kedua": settings.tenants["metro"]}})
    pipeline = build_mock_pipeline(settings, MockWorld(METRO), clock=clock)
    compute = Compute.__call__

    def broken_for_kedua(stage: Compute, tenant: str, period: str) -> Any:
        if tenant == "kedua":
            return {}["a scheme plug-in's bug"]  # a KeyError: not a GatewayError
        return compute(stage, tenant, period)

    monkeypatch.setattr(Compute, "__call__", broken_for_kedua)
    out = io.StringIO()
    logsetup.configure("INFO", json=True)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(out))
    try:
        report = Daemon(pipeline, clock=clock).tick()
    finally:
        structlog.reset_defaults()
        logsetup.configure("WARNING")
    # Metro computed and delivered (payroll per OPD, SPBE, feed); kedua's evidence verdicts went to SPBE before
    # its compute failed.
    # metro: payroll per OPD, SPBE verdicts, the audit head, the feed (results, integrity signals, the month's
    # quarantine opened at sync and at compute); kedua: SPBE
    assert report.computed == ["metro/2026-03"] and report.delivered == (4 + 3 + 1 + 4) + 3
    assert report.errors == ["kedua: KeyError: \"a scheme plug-in's bug\""]
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    failed = [e for e in events if e["event"] == "daemon.tenant_failed"]
    assert len(failed) == 1
    # tenant and period come from the bound context (the call passes neither); the traceback is structured.
    assert failed[0]["tenant"] == "kedua" and failed[0]["period"] == "2026-03"
    (exc,) = failed[0]["exception"]
    assert exc["exc_type"] == "KeyError" and exc["frames"][-1]["name"] == "broken_for_kedua"
    assert all("locals" not in f for f in exc["frames"])
    # Every sync line says its tenant, period and stream, bound once per unit of work.
    synced = [e for e in events if e["event"] == "sync.stream" and e["tenant"] == "metro"]
    assert {(e["period"], e["stream"]) for e in synced} >= {("2026-03", "aktivitas"), ("2026-04", "aktivitas")}


def test_the_daemon_logs_json_on_stderr_and_serves_health_on_the_port_asked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/run.db", "PYTHONPATH": str(root)}
    env.pop("GATEWAY_CONFIG_FILE", None)
    done = subprocess.run([sys.executable, "-c", "from gateway.cli import main; main()", "--log-json", "-v", "run",
                           "--mock", "--once", "--health-port", "0"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "health on http://127.0.0.1:" in done.stdout and "computed metro/2026-03" in done.stdout
    assert not any(line.startswith("{") for line in done.stdout.splitlines())  # stdout carries only the output
    events = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert {"health.serving", "sync.stream", "outbox.delivered", "daemon.tick"} <= {e["event"] for e in events}
    delivered = [e for e in events if e["event"] == "outbox.delivered"]
    assert all(e["tenant"] == "metro" and e["period"] == "2026-03" and e["batch"] for e in delivered)


def test_a_health_port_in_use_is_one_line_and_exit_2(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import socket

    from typer.testing import CliRunner

    from gateway.cli import app

    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path}/busy.db")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        out = CliRunner().invoke(app, ["run", "--mock", "--once", "--health-port", str(taken.getsockname()[1])])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "cannot serve health on 127.0.0.1:" in " ".join(out.output.replace("│", " ").split())
