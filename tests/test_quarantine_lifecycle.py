"""Quarantine with a lifecycle: every reason of a record kept and shown; an entry resolves itself when its record
comes back clean; an operator retries or discards one, audited; `gateway quarantine` shows open entries, `--all`
the rest."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.bootstrap import build_mock_pipeline
from gateway.cli import app
from gateway.settings import Settings
from gateway.store import repository as repo
from gateway.store.tables import audit_log
from mocks import MockWorld, Scenario
from tests.conftest import FakeClock

METRO = Scenario.bundled("metro")


def _break(world: MockWorld, **fields: object) -> dict[str, object]:
    """Give the first activity of the month bad values (and a newer updatedAt, as an upstream edit would)."""
    row = world.bkn.streams["aktivitas"][0]
    original = dict(row)
    row.update(fields)
    world.bkn.invalidate()
    return original


def _restore(world: MockWorld, original: dict[str, object], stamp: str) -> None:
    row = next(r for r in world.bkn.streams["aktivitas"] if r["id"] == original["id"])
    row.clear()
    row.update(original, updatedAt=stamp)  # corrected upstream: it comes back after the cursor
    world.bkn.streams["aktivitas"].sort(key=lambda r: (str(r["updatedAt"]), str(r["id"])))
    world.bkn.invalidate()


@pytest.fixture
def setup(tmp_path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    world = MockWorld(METRO)
    pipeline = build_mock_pipeline(Settings(database_url=url), world, clock=clock, sleep=lambda _s: None)
    return world, pipeline


def _entries(pipeline, **kwargs):  # type: ignore[no-untyped-def]
    with pipeline.engine.connect() as conn:
        return [q for q in repo.list_quarantine(conn, "metro", **kwargs) if q["record_kind"] == "aktivitas"]


def test_three_errors_are_shown_and_a_clean_copy_resolves_the_entry(setup, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    world, pipeline = setup
    original = _break(world, jumlah="lots", indikatorId="", dibuatPada="yesterday")
    pipeline.sync("metro", "2026-03")
    (entry,) = _entries(pipeline)
    shown = CliRunner().invoke(app, ["quarantine", "-t", "metro", "--json"])
    assert shown.exit_code == 0, shown.output
    (listed,) = [q for q in json.loads(shown.output) if q["id"] == entry["id"]]
    for field in ("jumlah", "indikatorId", "dibuatPada"):  # all three reasons, not the first
        assert field in listed["message"]

    clock.advance(hours=1)
    _restore(world, original, "2026-04-02T09:00:00+07:00")
    report = pipeline.sync("metro", "2026-03")
    assert report.resolved == 1 and _entries(pipeline) == []
    (closed,) = _entries(pipeline, include_resolved=True)
    assert closed["resolution"] == "clean" and closed["resolved_at"] is not None
    table = CliRunner().invoke(app, ["quarantine", "-t", "metro", "--all"], env={"COLUMNS": "200"})
    assert "clean by gateway" in table.output


def test_retry_reads_the_listing_again_and_discard_stays_closed_both_audited(setup, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    world, pipeline = setup
    _break(world, jumlah="lots")
    pipeline.sync("metro", "2026-03")
    (entry,) = _entries(pipeline)
    cli = CliRunner()
    assert cli.invoke(app, ["quarantine", "retry", "-t", "metro", str(entry["id"]), "--reason", " "]).exit_code == 2
    assert cli.invoke(app, ["quarantine", "retry", "-t", "metro", "999999", "--reason", "x"]).exit_code == 2
    out = cli.invoke(app, ["quarantine", "retry", "-t", "metro", str(entry["id"]), "--reason", "BKN fixed it"])
    assert out.exit_code == 0, out.output
    assert "reads aktivitas 2026-03 again from the start" in out.output
    with pipeline.engine.connect() as conn:
        assert repo.get_cursor(conn, "metro", "ekinerja.aktivitas.2026-03") is None
    clock.advance(hours=1)
    again = pipeline.sync("metro", "2026-03")  # still bad upstream: read again, quarantined again
    assert again.staged["activity"].unchanged > 0
    (reopened,) = _entries(pipeline)
    assert reopened["id"] == entry["id"] and reopened["resolved_at"] is None

    out = cli.invoke(app, ["quarantine", "discard", "-t", "metro", str(entry["id"]), "--reason", "test record"])
    assert out.exit_code == 0, out.output
    clock.advance(hours=1)
    cli.invoke(app, ["quarantine", "retry", "-t", "metro", str(entry["id"]), "--reason", "x"])  # not open: exit 2
    with pipeline.engine.begin() as conn:
        repo.clear_cursor(conn, "metro", "ekinerja.aktivitas.2026-03")
    pipeline.sync("metro", "2026-03")
    assert _entries(pipeline) == []  # discarded stays closed when the same record fails again
    with pipeline.engine.connect() as conn:
        actions = [(a["action"], a["details"]["reason"]) for a in conn.execute(
            select(audit_log).where(audit_log.c.action.like("quarantine.%")).order_by(audit_log.c.id)).mappings()]
    assert actions == [("quarantine.retry", "BKN fixed it"), ("quarantine.discarded", "test record")]


def test_an_entry_a_computation_made_closes_when_a_later_one_no_longer_finds_it(setup, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    world, pipeline = setup
    rows = {r["nipBaru"]: r for r in world.bkn.streams["pegawai"]}
    first, second = sorted(rows)[:2]
    before = {nip: rows[nip]["atasanNip"] for nip in (first, second)}
    rows[first]["atasanNip"], rows[second]["atasanNip"] = second, first  # a supervisor cycle
    world.bkn.invalidate()
    pipeline.sync("metro", "2026-03")
    pipeline.compute("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        looped = [q for q in repo.list_quarantine(conn, "metro", "2026-03") if q["rule"] == "supervisor-cycle"]
    assert {q["record_id"] for q in looped} == {first, second}

    for nip in (first, second):  # corrected upstream
        rows[nip]["atasanNip"], rows[nip]["updatedAt"] = before[nip], "2026-04-02T09:00:00+07:00"
    world.bkn.streams["pegawai"].sort(key=lambda r: (str(r["updatedAt"]), str(r["nipBaru"])))
    world.bkn.invalidate()
    clock.advance(hours=1)
    pipeline.sync("metro", "2026-03")
    report = pipeline.compute("metro", "2026-03")
    assert report.resolved == 2
    with pipeline.engine.connect() as conn:
        assert not [q for q in repo.list_quarantine(conn, "metro", "2026-03") if q["rule"] == "supervisor-cycle"]
        closed = [q for q in repo.list_quarantine(conn, "metro", "2026-03", include_resolved=True)
                  if q["rule"] == "supervisor-cycle"]
    assert {q["resolution"] for q in closed} == {"clean"}
