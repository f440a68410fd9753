"""The daemon's steps by hand for one period, against `gateway mock serve` over HTTP; operator mistakes are one line
and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.cli._serve import gateway_env
from mocks import MockWorld, Scenario
from mocks.server import MockServer

runner = CliRunner()


def test_gateway_cycle_against_the_served_mock_does_the_whole_month(tmp_path: Path) -> None:
    with MockServer(lambda endpoints: MockWorld(Scenario.bundled("metro"), endpoints)) as server:
        env = {**gateway_env(server.endpoints), "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
               "GATEWAY_RATE_LIMITS": "{}"}
        out = runner.invoke(app, ["cycle", "-t", "metro", "-p", "2026-03", "--json"], env=env)
        assert out.exit_code == 0, out.output
        report = json.loads(out.output)
        assert report["compute"]["results"] == 50 and report["sync"]["staged"]["activity"]["new"] > 0
        assert report["relay"]["delivered"] > 0 and report["relay"]["dead"] == 0
        assert server.world.payroll.ledger  # booked over HTTP
        again = runner.invoke(app, ["compute", "-t", "metro", "-p", "2026-03", "--json"], env=env)
        assert again.exit_code == 0 and json.loads(again.output)["batches"] == []  # nothing new to book
        results = runner.invoke(app, ["results", "-t", "metro", "-p", "2026-03", "--json"], env=env)
        assert len([r for r in json.loads(results.output) if "amount" in r and "lines" in r]) == 50
        shown = runner.invoke(app, ["status", "-t", "metro", "--json"], env=env)
        assert shown.exit_code == 0, shown.output
        (status,) = json.loads(shown.output)
    total = sum(r["amount"] for r in json.loads(results.output) if "lines" in r)
    assert status["results"] == [{"period": "2026-03", "results": 50, "total": total}]
    assert {s["stream"] for s in status["streams"]} >= {"ekinerja.pegawai", "ekinerja.aktivitas.2026-03"}
    assert all(s["age_seconds"] is not None for s in status["streams"])
    assert {p["stream"]: p["asked"] for p in status["per_employee"]} == {"data_utama": 52, "rw_jabatan": 52}
    assert status["verification_backlog"] == {}  # every document checked
    delivered = {(o["destination"], o["status"]): o["rows"] for o in status["outbox"]}
    assert delivered[("payroll", "delivered")] == 4 and not any(o["status"] == "pending" for o in status["outbox"])
    assert status["open_quarantine"] and status["payroll_rejected"][0]["lines"] >= 1


@pytest.mark.parametrize("args", [
    ["results", "-t", "Metro", "-p", "2026-03"], ["quarantine", "-t", "nosuchcity"],
    ["outbox", "list", "-t", "nosuchcity"], ["audit", "verify", "-t", "nosuchcity"],
    ["sync", "-t", "nosuchcity", "-p", "2026-03"], ["cycle", "-t", "metro", "-p", "2026-13"],
    ["org", "-t", "nosuchcity"], ["explain", "-t", "nosuchcity", "-p", "2026-03", "--nip", "1"]])
def test_an_unknown_tenant_or_a_bad_period_is_exit_2_and_one_message(args: list[str], tmp_path: Path) -> None:
    out = runner.invoke(app, args, env={"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"})
    assert out.exit_code == 2, out.output
    assert "Traceback" not in out.output
    assert ("unknown tenant" in out.output and "dki, metro, pekalongan" in out.output) or "2026-13" in out.output


def test_a_step_without_its_endpoints_is_one_line_and_exit_2(tmp_path: Path) -> None:
    out = runner.invoke(app, ["sync", "-t", "metro", "-p", "2026-03"],
                        env={"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"})
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1 and "GATEWAY_" in out.output


def test_version() -> None:
    out = runner.invoke(app, ["--version"])
    assert out.exit_code == 0 and out.output.startswith("tpp-gateway ")


def test_run_mock_once_computes_the_bundled_month(tmp_path: Path) -> None:
    out = runner.invoke(app, ["run", "--mock", "--once"],
                        env={"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"})
    assert out.exit_code == 0, out.output
    assert "computed metro/2026-03" in out.output
