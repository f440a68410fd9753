"""An outage holds, never underpays: evidence BKN could not serve holds its employee back from payroll until a
later check concludes; then the amounts are those of a run that never met the outage."""

from __future__ import annotations

from gateway.bootstrap import build_mock_pipeline
from gateway.settings import Settings
from gateway.store import holds
from gateway.store import repository as repo
from mocks import Fault, MockWorld, Scenario
from tests.conftest import FakeClock

METRO = Scenario.bundled("metro")


def _amounts(pipeline) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with pipeline.engine.connect() as conn:
        return {r.nip: r.amount for r in repo.load_results(conn, "metro", "2026-03")}


def test_an_outage_holds_employees_and_the_next_tick_pays_what_a_healthy_run_pays(db_url: str,
                                                                                 clock: FakeClock) -> None:
    healthy = build_mock_pipeline(Settings(database_url="sqlite://"), MockWorld(METRO), clock=clock,
                                  sleep=lambda _s: None)
    healthy.cycle("metro", "2026-03")
    expected = _amounts(healthy)

    world = MockWorld(METRO)
    world.faults.set("ekinerja.dokumen", Fault(kind="error", rate=1.0))
    pipeline = build_mock_pipeline(Settings(database_url=db_url), world, clock=clock, sleep=lambda _s: None)
    first = pipeline.cycle("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        held = holds.load(conn, "metro", "2026-03")
    assert first.compute.held == len(held) > 0
    assert all(h["reason"].startswith("verification pending: evidence ") for h in held)
    held_nips = {h["nip"] for h in held}
    assert held_nips.isdisjoint(_amounts(pipeline))  # no result computed as refused
    assert not any(b.nip in held_nips for b in world.payroll.ledger)  # and nothing sent for them

    world.faults.clear()
    clock.advance(hours=1)
    second = pipeline.cycle("metro", "2026-03")
    assert second.compute.held == 0
    assert _amounts(pipeline) == expected
    with pipeline.engine.connect() as conn:
        assert holds.load(conn, "metro", "2026-03") == []
    paid: dict[str, int] = {}
    for b in world.payroll.ledger:
        paid[b.nip] = paid.get(b.nip, 0) + b.amount
    no_account = {e.nip for e in METRO.employees if not e.bank_account}
    assert paid == {n: a for n, a in expected.items() if a > 0 and n not in no_account}


def test_a_released_period_counts_unchecked_evidence_as_refused_and_says_so(clock: FakeClock) -> None:
    world = MockWorld(METRO)
    world.faults.set("ekinerja.dokumen", Fault(kind="error", rate=1.0))
    pipeline = build_mock_pipeline(Settings(database_url="sqlite://"), world, clock=clock, sleep=lambda _s: None)
    first = pipeline.cycle("metro", "2026-03")
    assert first.compute.held > 0
    with pipeline.engine.begin() as conn:
        assert holds.release(conn, "metro", "2026-03", "operator:test", "payday", clock())
        assert not holds.release(conn, "metro", "2026-03", "operator:test", "again", clock())
    released = pipeline.compute("metro", "2026-03")
    assert released.held == 0
    with pipeline.engine.connect() as conn:
        results = repo.load_results(conn, "metro", "2026-03")
    marked = [r for r in results if any(line.code == "released" for line in r.lines)]
    assert len(marked) == first.compute.held
    assert all("counts as refused" in line.text and "payday" in line.text
               for r in marked for line in r.lines if line.code == "released")


def test_a_hold_after_payment_keeps_the_result_and_sends_nothing(db_url: str, clock: FakeClock) -> None:
    from gateway.domain import EvidenceCheck, TteConclusion

    world = MockWorld(METRO)
    pipeline = build_mock_pipeline(Settings(database_url=db_url), world, clock=clock, sleep=lambda _s: None)
    pipeline.cycle("metro", "2026-03")
    paid_before = len(world.payroll.ledger)
    before = _amounts(pipeline)
    nip = next(n for n, a in before.items() if a > 0)
    with pipeline.engine.begin() as conn:  # one of the employee's checks now reads as an outage
        data = repo.load_period(conn, "metro", "2026-03")
        activity = {a.id for a in data.activities if a.nip == nip}
        evidence = next(e.id for e in data.evidence if e.activity_id in activity)
        repo.save_checks(conn, "metro", "2026-03", [EvidenceCheck(
            evidence_id=evidence, actual_sha256=None, tte=TteConclusion.UNAVAILABLE,
            tte_description="document not fetched: 503")], clock())
    clock.advance(hours=1)
    report = pipeline.compute("metro", "2026-03")
    pipeline.relay()
    assert report.held == 1
    assert _amounts(pipeline) == before  # the stored result stays current: not withdrawn, not lowered
    with pipeline.engine.connect() as conn:
        assert repo.load_withdrawn(conn, "metro", "2026-03") == []
        assert [h["nip"] for h in holds.load(conn, "metro", "2026-03")] == [nip]
    assert len(world.payroll.ledger) == paid_before  # no recovery, no adjustment


def test_release_by_cli_is_audited_pays_refused_now_and_the_arrears_after_a_valid_check(
        tmp_path, clock: FakeClock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select
    from typer.testing import CliRunner

    from gateway.cli import app
    from gateway.store.tables import audit_log

    healthy = build_mock_pipeline(Settings(database_url="sqlite://"), MockWorld(METRO), clock=clock,
                                  sleep=lambda _s: None)
    healthy.cycle("metro", "2026-03")
    expected = _amounts(healthy)

    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    world = MockWorld(METRO)
    world.faults.set("ekinerja.dokumen", Fault(kind="error", rate=1.0))
    pipeline = build_mock_pipeline(Settings(database_url=url), world, clock=clock, sleep=lambda _s: None)
    held = pipeline.cycle("metro", "2026-03").compute.held
    assert held > 0
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    cli = CliRunner()
    shown = cli.invoke(app, ["results", "-t", "metro", "-p", "2026-03"])
    assert shown.exit_code == 0 and f"{held} employee(s) held" in shown.output
    with pipeline.engine.connect() as conn:
        one = holds.load(conn, "metro", "2026-03")[0]["nip"]
    explained = cli.invoke(app, ["explain", "-t", "metro", "-p", "2026-03", "--nip", one])
    assert explained.exit_code == 0 and "verification pending: evidence" in explained.output
    assert cli.invoke(app, ["release", "-t", "metro", "-p", "2026-03", "--reason", " "]).exit_code == 2
    assert cli.invoke(app, ["release", "-t", "nosuchcity", "-p", "2026-03", "--reason", "x"]).exit_code == 2
    assert cli.invoke(app, ["release", "-t", "metro", "-p", "2026-04", "--reason", "x"]).exit_code == 2  # none held

    out = cli.invoke(app, ["release", "-t", "metro", "-p", "2026-03", "--reason", "payday is tomorrow"])
    assert out.exit_code == 0, out.output
    assert f"{held} held employee(s)" in out.output and "0 still held" in out.output
    with pipeline.engine.connect() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "period.released")).mappings().one()
        assert holds.load(conn, "metro", "2026-03") == []
        refused = {r.nip: r.amount for r in repo.load_results(conn, "metro", "2026-03")
                   if any(line.code == "released" for line in r.lines)}
    assert entry["actor"].startswith("operator:") and entry["details"]["reason"] == "payday is tomorrow"
    assert len(entry["details"]["held"]) == held == len(refused)
    assert any(refused[n] < expected[n] for n in refused)  # refused evidence lowered some amounts
    again = cli.invoke(app, ["release", "-t", "metro", "-p", "2026-03", "--reason", "again"])
    assert again.exit_code == 0 and "nothing changed" in again.output

    world.faults.clear()  # BKN is back: the checks conclude valid and the arrears go out as adjustments
    clock.advance(hours=1)
    pipeline.cycle("metro", "2026-03")
    assert _amounts(pipeline) == expected
    paid: dict[str, int] = {}
    for b in world.payroll.ledger:
        paid[b.nip] = paid.get(b.nip, 0) + b.amount
    no_account = {e.nip for e in METRO.employees if not e.bank_account}
    assert paid == {n: a for n, a in expected.items() if a > 0 and n not in no_account}


def test_a_scheme_that_reads_no_verdicts_is_not_held_by_a_bsre_outage(clock: FakeClock) -> None:
    dki = Scenario.bundled("dki")
    healthy = build_mock_pipeline(Settings(database_url="sqlite://"), MockWorld(dki), clock=FakeClock(),
                                  sleep=lambda _s: None)
    healthy.cycle(dki.tenant, dki.period)
    with healthy.engine.connect() as conn:
        expected = {r.nip: r.amount for r in repo.load_results(conn, dki.tenant, dki.period)}
    world = MockWorld(dki)
    world.faults.set("tte.verify", Fault(kind="error", rate=1.0))
    world.faults.set("ekinerja.dokumen", Fault(kind="error", rate=1.0))
    pipeline = build_mock_pipeline(Settings(database_url="sqlite://"), world, clock=clock, sleep=lambda _s: None)
    assert not pipeline.reads_evidence(dki.tenant) and pipeline.reads_evidence("metro")
    report = pipeline.cycle(dki.tenant, dki.period)
    assert report.compute.held == 0 and report.verify.unavailable > 0  # verified after payroll, and failing
    with pipeline.engine.connect() as conn:
        assert {r.nip: r.amount for r in repo.load_results(conn, dki.tenant, dki.period)} == expected
    assert report.relay.delivered > 0
