"""The whole cycle on the bundled Metro scenario: through the pipeline (SQLite and PostgreSQL) and the CLI."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.bootstrap import build_mock_pipeline
from gateway.cli import app
from gateway.settings import Settings
from gateway.store import repository as repo
from mocks import MockWorld, Scenario
from mocks.metro_scenario import build
from tests.conftest import FakeClock

runner = CliRunner()
METRO = Scenario.bundled("metro")


def no_sleep(_seconds: float) -> None:
    raise AssertionError("the cycle on healthy mocks should never wait")


def run_cycle(db_url: str, world: MockWorld, clock: FakeClock):  # type: ignore[no-untyped-def]
    pipeline = build_mock_pipeline(Settings(database_url=db_url), world, clock=clock, sleep=no_sleep)
    return pipeline, pipeline.cycle("metro", "2026-03")


def test_bundled_scenario_is_what_the_builder_makes() -> None:
    assert build() == METRO
    assert len({u.id for u in METRO.units if u.parent_id == METRO.units[0].id}) >= 3
    assert len(METRO.employees) >= 50


def test_cycle_twice_books_every_payroll_line_once(db_url: str, clock: FakeClock) -> None:
    world = MockWorld(METRO)
    pipeline, first = run_cycle(db_url, world, clock)
    with pipeline.engine.connect() as conn:
        results = repo.load_results(conn, "metro", "2026-03")
    clock.advance(hours=1)
    _, second = run_cycle(db_url, world, clock)
    with pipeline.engine.connect() as conn:
        again = repo.load_results(conn, "metro", "2026-03")
    assert again == results
    from sqlalchemy import func

    from gateway.store.tables import outbox
    with pipeline.engine.connect() as conn:
        sent = dict(conn.execute(select(outbox.c.destination, func.count()).where(outbox.c.status == "delivered")
                                 .group_by(outbox.c.destination)).all())
    # 4 payroll batches (one per OPD), 3 SPBE verdict batches and the audit head after compute, and the feed:
    # results, integrity signals, the month's quarantine, payroll's answers (those written by the first relay's
    # own record transactions go out on the second cycle's relay)
    assert sent["payroll"] == 4 and sent["spbe"] == 3 + 1 and sent["feed"] >= 4
    assert first.relay.delivered + second.relay.delivered == sum(sent.values())
    assert second.compute.batches == [] and second.relay.claimed == second.relay.delivered  # only feed rows
    assert len(world.spbe.records) == len(METRO.evidence)  # every evidence verdict in the audit trail, once
    assert set(world.payroll.booked().values()) == {1}
    booked = Counter()
    for b in world.payroll.ledger:
        booked[b.nip] += b.amount
    no_account = {e.nip for e in METRO.employees if not e.bank_account}
    expected = {r.nip: r.amount for r in results if r.amount > 0 and r.nip not in no_account}
    assert dict(booked) == expected


def test_cycle_exercises_every_metro_rule(db_url: str, clock: FakeClock) -> None:
    pipeline, report = run_cycle(db_url, MockWorld(METRO), clock)
    with pipeline.engine.connect() as conn:
        results = repo.load_results(conn, "metro", "2026-03")
        quarantined = repo.list_quarantine(conn, "metro", "2026-03")
    codes = Counter(line.code for r in results for line in r.lines)
    for code in ("refused:late-evidence", "refused:tte-invalid", "refused:hash-mismatch",
                 "refused:wrong-approver", "refused:not-approved", "refused:rejected", "refused:no-evidence",
                 "no-plan"):
        assert codes[code] >= 1, code
    assert any("(capped)" in line.text for r in results for line in r.lines)
    assert {q["rule"] for q in quarantined} == {"weights-sum-100", "unknown-unit"}
    assert report.verify.checked == len(METRO.evidence)
    assert all(isinstance(r.amount, int) and 0 <= r.amount <= r.ceiling for r in results)


def test_a_failed_compute_leaves_neither_results_nor_outbox_rows(db_url: str, clock: FakeClock,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = build_mock_pipeline(Settings(database_url=db_url), MockWorld(METRO), clock=clock, sleep=no_sleep)
    pipeline.sync("metro", "2026-03")
    pipeline.verify("metro", "2026-03")

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("outbox write failed")

    monkeypatch.setattr("gateway.stages.compute.enqueue_payroll", broken)
    with pytest.raises(RuntimeError):
        pipeline.compute("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        assert repo.load_results(conn, "metro", "2026-03") == []


def _cli(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env={"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"})


def test_cli_demo_twice_gives_identical_results(tmp_path: Path) -> None:
    first = _cli(tmp_path, "demo")
    assert first.exit_code == 0, first.output
    assert "payroll batches acknowledged" in first.output and "4 of 4" in first.output
    before = _cli(tmp_path, "results", "-t", "metro", "-p", "2026-03", "--json").output
    second = _cli(tmp_path, "demo")
    assert second.exit_code == 0, second.output
    after = _cli(tmp_path, "results", "-t", "metro", "-p", "2026-03", "--json").output
    assert json.loads(before) == json.loads(after)
    items = json.loads(after)
    assert len(items) == 50 and all(type(r["amount"]) is int for r in items)


def test_cli_explain_shows_the_arithmetic_and_the_refusals(tmp_path: Path) -> None:
    assert _cli(tmp_path, "demo").exit_code == 0
    items = json.loads(_cli(tmp_path, "results", "-t", "metro", "-p", "2026-03", "--json").output)
    late = next(r for r in items if any(line["code"] == "refused:late-evidence" for line in r["lines"]))
    shown = _cli(tmp_path, "explain", "-t", "metro", "-p", "2026-03", "--nip", late["nip"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "refused:late-evidence" in text and "after the deadline" in text and "achievement" in text


def test_cli_explain_unknown_nip_exits_2(tmp_path: Path) -> None:
    assert _cli(tmp_path, "demo").exit_code == 0
    assert _cli(tmp_path, "explain", "-t", "metro", "-p", "2026-03", "--nip", "199901012020011999").exit_code == 2


def test_cli_refuses_a_bad_period(tmp_path: Path) -> None:
    shown = _cli(tmp_path, "results", "-t", "metro", "-p", "2026-13")
    assert shown.exit_code == 2


def test_quarantine_is_not_duplicated_by_repeated_syncs(db_url: str, clock: FakeClock) -> None:
    scenario = METRO.model_copy(update={"units": [*METRO.units, METRO.units[1].model_copy(
        update={"id": "E" * 32, "parent_id": "D" * 32})]})  # a unit whose parent does not exist
    pipeline, _ = run_cycle(db_url, MockWorld(scenario), clock)
    pipeline.sync("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        rules = Counter(q["rule"] for q in repo.list_quarantine(conn, "metro", "2026-03"))
    assert rules == {"weights-sum-100": 1, "unknown-unit": 1, "unit-tree": 1}


def test_cli_outbox_retry_is_audited(tmp_path: Path) -> None:
    assert _cli(tmp_path, "demo").exit_code == 0
    missing = _cli(tmp_path, "outbox", "retry", "-t", "metro", "1", "--reason", "bank fixed")
    assert missing.exit_code == 2  # row 1 was delivered, not dead
    from sqlalchemy import create_engine, update

    from gateway.store.tables import outbox
    engine = create_engine(f"sqlite:///{tmp_path / 'g.db'}")
    with engine.begin() as conn:  # payroll refused this batch for good
        conn.execute(update(outbox).where(outbox.c.id == 1).values(status="dead", last_error="422"))
    assert _cli(tmp_path, "outbox", "retry", "-t", "metro", "1", "--reason", "bank fixed").exit_code == 0
    with engine.connect() as conn:
        assert conn.execute(select(outbox.c.status).where(outbox.c.id == 1)).scalar_one() == "pending"
    verified = _cli(tmp_path, "audit", "verify", "-t", "metro")
    assert verified.exit_code == 0 and "51 entries, chain intact" in verified.output  # 50 results + the retry


def test_cli_report_formats(tmp_path: Path) -> None:
    assert _cli(tmp_path, "report", "-t", "metro", "-p", "2026-03", "-f", "json").exit_code == 2  # nothing yet
    assert _cli(tmp_path, "demo").exit_code == 0
    shown = _cli(tmp_path, "report", "-t", "metro", "-p", "2026-03", "-f", "json")
    assert shown.exit_code == 0 and len(json.loads(shown.output)["opds"]) == 4
    assert _cli(tmp_path, "report", "-t", "metro", "-p", "2026-03", "-f", "pdf").exit_code == 2


def test_records_changing_during_a_sync_are_staged_in_their_new_form(db_url: str, clock: FakeClock) -> None:
    from mocks.faults import Fault

    world = MockWorld(METRO)
    world.faults.set("ekinerja.aktivitas", Fault(kind="records-change", records=3, after=2, times=1))
    pipeline = build_mock_pipeline(Settings(database_url=db_url, page_size=50), world, clock=clock, sleep=no_sleep)
    pipeline.sync("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        staged = repo.staged(conn, "metro", "activity", "2026-03")
        rules = {q["rule"] for q in repo.list_quarantine(conn, "metro", "2026-03")}
    assert len(staged) == len(METRO.activities)
    assert sum(a.description.endswith(" (diubah)") for a in staged) == 3  # the newer copies won
    assert "duplicate-id" not in rules


def test_the_same_id_with_other_content_and_no_newer_stamp_is_quarantined(db_url: str, clock: FakeClock) -> None:
    world = MockWorld(METRO)
    rows = world.bkn.streams["aktivitas"]
    twin = dict(rows[0], jumlah="9")  # same id, same updatedAt, other content
    rows.insert(1, twin)
    world.bkn.invalidate()
    pipeline = build_mock_pipeline(Settings(database_url=db_url), world, clock=clock, sleep=no_sleep)
    pipeline.sync("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        held = [q for q in repo.list_quarantine(conn, "metro", "2026-03") if q["rule"] == "duplicate-id"]
        staged = {a.id: a for a in repo.staged(conn, "metro", "activity", "2026-03")}
    assert [q["record_id"] for q in held] == [rows[0]["id"]]
    assert str(staged[rows[0]["id"]].quantity) == rows[0]["jumlah"]  # the first copy was kept


def test_cli_shows_what_was_computed_but_not_paid_and_why(tmp_path: Path) -> None:
    demo = _cli(tmp_path, "demo")
    text = " ".join(demo.output.split())
    # The bundled month has one employee payroll refuses for a missing bank account (Rp 3,400,000).
    assert "payroll lines rejected │ 1" in text and "computed but not paid │ 1 (Rp 3.400.000)" in text, demo.output
    rows = json.loads(_cli(tmp_path, "outbox", "list", "-t", "metro", "-p", "2026-03", "--json").output)
    rejected = [r["rejected_lines"] for r in rows if r["rejected_lines"]]
    assert rejected == [{"missing bank account": 1}]
    listed = _cli(tmp_path, "outbox", "list", "-t", "metro", "-p", "2026-03")
    assert "1 payroll lines rejected" in " ".join(listed.output.split())


def test_cli_reconcile_reject_enters_a_finance_office_refusal(tmp_path: Path) -> None:
    assert _cli(tmp_path, "demo").exit_code == 0
    items = json.loads(_cli(tmp_path, "results", "-t", "metro", "-p", "2026-03", "--json").output)
    paid = next(r for r in items if r["amount"] > 0 and r["status"] == "full")
    missing_reason = _cli(tmp_path, "reconcile", "-t", "metro", "-p", "2026-03", "--reject", paid["nip"])
    assert missing_reason.exit_code == 2 and "--reason is required" in missing_reason.output
    shown = runner.invoke(app, ["reconcile", "-t", "metro", "-p", "2026-03", "--reject", paid["nip"], "--reason",
                                "rekening ditutup", "--json"], env={
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}", "GATEWAY_HTTP_MAX_ATTEMPTS": "1",
        "GATEWAY_PAYROLL_BASE_URL": "http://127.0.0.1:9/api/v1"})  # payroll unreachable: answered from the ledger
    assert shown.exit_code == 1  # a difference now: the refused employee
    report = json.loads(shown.stdout)
    refused = [d for d in report["differences"] if d["nip"] == paid["nip"]]
    assert [d["kind"] for d in refused] == ["rejected"] and "rekening ditutup" in refused[0]["detail"]
    never_paid = _cli(tmp_path, "reconcile", "-t", "metro", "-p", "2026-03", "--reject", "199901012020011999",
                      "--reason", "x")
    assert never_paid.exit_code == 2 and "no acknowledged payroll line" in never_paid.output
