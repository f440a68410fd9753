"""The audit log: every changed result is recorded, operator actions too, and tampering is detected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select, update

from gateway.bootstrap import build_mock_pipeline
from gateway.settings import Settings
from gateway.store import audit, make_engine
from gateway.store.tables import audit_log
from mocks import MockWorld, Scenario
from tests.conftest import FakeClock

METRO = Scenario.bundled("metro")


def entries(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit_log)).scalar_one()


def test_each_result_is_audited_once_and_the_chain_verifies(db_url: str, clock: FakeClock) -> None:
    pipeline = build_mock_pipeline(Settings(database_url=db_url), MockWorld(METRO), clock=clock)
    report = pipeline.cycle("metro", "2026-03")
    assert entries(pipeline.engine) == report.compute.results == 50
    pipeline.compute("metro", "2026-03")  # nothing changed: nothing new to record
    assert entries(pipeline.engine) == 50
    with pipeline.engine.connect() as conn:
        check = audit.verify(conn, "metro")
        assert (check.ok, check.entries) == (True, 50)
        assert audit.verify(conn, "dki").entries == 0  # chains are per tenant


def test_a_changed_entry_breaks_the_chain_where_it_was_changed(engine: Engine, clock: FakeClock) -> None:
    with engine.begin() as conn:
        audit.append(conn, "metro", "gateway", "result.computed",
                      [(f"nip{i}", {"amount": i * 1000}) for i in range(5)], clock())
        third = conn.execute(select(audit_log.c.id).order_by(audit_log.c.id).offset(2).limit(1)).scalar_one()
        conn.execute(update(audit_log).where(audit_log.c.id == third).values(details={"amount": 999_999}))
    with engine.connect() as conn:
        check = audit.verify(conn, "metro")
    assert (check.ok, check.first_bad_id) == (False, third)
    assert "changed" in check.reason


def test_a_removed_entry_breaks_the_chain(engine: Engine, clock: FakeClock) -> None:
    with engine.begin() as conn:
        audit.append(conn, "metro", "gateway", "result.computed", [(f"nip{i}", {}) for i in range(3)], clock())
        second = conn.execute(select(audit_log.c.id).order_by(audit_log.c.id).offset(1).limit(1)).scalar_one()
        conn.execute(delete(audit_log).where(audit_log.c.id == second))
    with engine.connect() as conn:
        check = audit.verify(conn, "metro")
    assert check.ok is False and check.first_bad_id == second + 1


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A stored value the column type cannot read only exists where the database does not check types: SQLite."""
    eng = make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    yield eng
    eng.dispose()


def _corrupt(engine: Engine, clock: FakeClock, column: str, value: str) -> int:
    from sqlalchemy import column as col
    from sqlalchemy import table

    raw = table("audit_log", col("id"), col(column))  # untyped: the value goes in as it is
    with engine.begin() as conn:
        audit.append(conn, "metro", "gateway", "result.computed", [(f"nip{i}", {"i": i}) for i in range(4)], clock())
        third = conn.execute(select(audit_log.c.id).order_by(audit_log.c.id).offset(2).limit(1)).scalar_one()
        conn.execute(update(raw).where(raw.c.id == third).values({column: value}))
    return third


def test_a_malformed_time_is_named_not_a_traceback(sqlite_engine: Engine, clock: FakeClock) -> None:
    third = _corrupt(sqlite_engine, clock, "at", "not a time")
    with sqlite_engine.connect() as conn:
        check = audit.verify(conn, "metro")
    assert (check.ok, check.first_bad_id, check.entries) == (False, third, 3)
    assert "cannot be read" in check.reason


def test_malformed_details_are_named_by_the_cli(sqlite_engine: Engine, clock: FakeClock, monkeypatch) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    third = _corrupt(sqlite_engine, clock, "details", "{not json")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", str(sqlite_engine.url))
    out = CliRunner().invoke(app, ["audit", "verify", "-t", "metro"])
    assert out.exit_code == 1 and isinstance(out.exception, SystemExit)
    assert f"broken at entry {third}" in out.output and "details malformed" in out.output


def _cli(args: list[str], url: str, monkeypatch) -> Any:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from gateway.cli import app

    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    return CliRunner().invoke(app, args, env={"COLUMNS": "400"})


def test_the_newest_entries_removed_are_detected_only_against_an_anchored_head(sqlite_engine: Engine,
                                                                              clock: FakeClock, monkeypatch) -> None:
    """Why the head is anchored outside the table: a chain cut at its end is still a valid chain."""
    with sqlite_engine.begin() as conn:
        audit.append(conn, "metro", "gateway", "result.computed", [(f"nip{i}", {"i": i}) for i in range(6)], clock())
        anchored = audit.head(conn, "metro")
    assert anchored.entries == 6
    with sqlite_engine.begin() as conn:
        last_two = conn.execute(select(audit_log.c.id).order_by(audit_log.c.id.desc()).limit(2)).scalars().all()
        conn.execute(delete(audit_log).where(audit_log.c.id.in_(last_two)))
    url = str(sqlite_engine.url)
    unanchored = _cli(["audit", "verify", "-t", "metro"], url, monkeypatch)
    assert unanchored.exit_code == 0 and "4 entries, chain intact" in unanchored.output  # not detectable alone
    out = _cli(["audit", "verify", "-t", "metro", "--head", anchored.hash], url, monkeypatch)
    assert out.exit_code == 1 and len(out.output.strip().splitlines()) == 1
    assert f"the anchored head {anchored.hash} is not in the chain, which ends after 4 entries" in out.output
    assert "newest entries were removed" in out.output
    with sqlite_engine.connect() as conn:
        assert audit.verify(conn, "metro", head=anchored.hash).ok is False


def test_entries_written_after_the_anchor_are_fine(engine: Engine, clock: FakeClock) -> None:
    with engine.begin() as conn:
        assert audit.head(conn, "metro") == audit.ChainHead(0, audit.GENESIS)
        assert audit.verify(conn, "metro", head=audit.GENESIS).ok  # an anchor of the empty chain
        audit.append(conn, "metro", "gateway", "result.computed", [("a", {}), ("b", {})], clock())
        anchored = audit.head(conn, "metro")
        audit.append(conn, "metro", "operator:x", "outbox.retry", [("7", {"reason": "r"})], clock())
    with engine.connect() as conn:
        check = audit.verify(conn, "metro", head=anchored.hash)
        assert (check.ok, check.entries, check.anchored_at) == (True, 3, 2)
        assert audit.verify(conn, "dki", head=anchored.hash).ok is False  # another tenant's head


@pytest.mark.parametrize("head", ["abc", "G" * 64, "0" * 63, "A" * 64])
def test_a_head_of_the_wrong_format_is_exit_2(sqlite_engine: Engine, monkeypatch, head: str) -> None:
    out = _cli(["audit", "verify", "-t", "metro", "--head", head], str(sqlite_engine.url), monkeypatch)
    assert out.exit_code == 2 and "is not an audit head: 64 lowercase hex digits" in out.output
    assert "Traceback" not in out.output


def test_the_head_goes_to_spbe_with_the_verdicts_and_into_status(db_url: str, clock: FakeClock) -> None:
    from gateway.store.status import tenant_status

    world = MockWorld(METRO)
    pipeline = build_mock_pipeline(Settings(database_url=db_url), world, clock=clock)
    pipeline.cycle("metro", "2026-03")
    pipeline.relay()
    sent = world.spbe.audit_heads["metro"]
    with pipeline.engine.connect() as conn:
        assert sent.entries > 0 and audit.verify(conn, "metro", head=sent.hash).ok
        assert tenant_status(conn, "metro", clock())["audit_head"] == audit.head(conn, "metro").as_json()
