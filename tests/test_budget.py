"""The budget ceiling (pagu, issue 18): the year's forecast against each OPD's pagu; the warning fires when, and
only when, the forecast crosses the ceiling; status, the internal report, the feed and reconcile show it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.bootstrap import build_mock_pipeline
from gateway.cli import app
from gateway.connectors.wire.payroll import REJECT_BUDGET
from gateway.domain import Period
from gateway.domain.budget import assess, forecast, year_periods
from gateway.feed.events import BUDGET_WARNING
from gateway.outbox import operations
from gateway.pipeline import Pipeline
from gateway.settings import Settings
from gateway.store import repository as repo
from gateway.store.tables import outbox
from mocks import MockWorld, Scenario
from tests.conftest import FakeClock

# --- the pure forecast ---------------------------------------------------------------------------------------------


def test_a_hand_worked_year() -> None:
    # March of a monthly year: January and February paid 10 each, March computed at 10, nothing paid after it:
    # 20 + 10 (March) + 9 x 10 (April-December) = 120.
    covered = {("A", "2026-01"): 10, ("A", "2026-02"): 10, ("A", "2026-03"): 10, ("B", "2025-12"): 999}
    [line] = assess("2026-03", "monthly", {"A": 120}, {"A": 10}, covered)
    assert (line.spent_before, line.spent, line.this_period, len(line.later), line.forecast) == (20, 30, 10, 9, 120)
    assert line.remaining == 100 and not line.warning  # exactly at the ceiling is not above it
    [line] = assess("2026-03", "monthly", {"A": 120}, {"A": 11}, covered)
    assert line.forecast == 20 + 11 * 10 == 130 and line.warning
    # An OPD with a pagu and nothing computed forecasts what it has spent; one without a pagu is not watched.
    [b] = assess("2026-03", "monthly", {"B": 5}, {"A": 11}, covered)
    assert b.forecast == 0 and not b.warning


def test_a_quarterly_year_has_four_periods_and_later_payments_count_as_paid() -> None:
    assert year_periods(Period.parse("2026-Q2"), "quarterly") == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    # Q2 recomputed after Q3 was paid 7: Q1 5 + Q2 4 + Q3 7 (as paid) + Q4 4 (at Q2's rate) = 20.
    [line] = assess("2026-Q2", "quarterly", {"U": 19}, {"U": 4}, {("U", "2026-Q1"): 5, ("U", "2026-Q3"): 7})
    assert line.forecast == 20 and line.warning
    with pytest.raises(ValueError, match="not a monthly payment period"):
        assess("2026-Q1", "monthly", {"U": 1}, {}, {})


MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]


@given(month=st.integers(1, 12), pagu=st.integers(0, 10**12), this=st.integers(0, 10**10),
       paid=st.lists(st.one_of(st.none(), st.integers(0, 10**10)), min_size=12, max_size=12))
def test_the_warning_fires_when_and_only_when_the_forecast_crosses_the_pagu(
        month: int, pagu: int, this: int, paid: list[int | None]) -> None:
    covered = {("X", p): amount for p, amount in zip(MONTHS, paid, strict=True) if amount is not None}
    [line] = assess(MONTHS[month - 1], "monthly", {"X": pagu}, {"X": this}, covered)
    earlier = sum(a or 0 for a in paid[:month - 1])
    later = sum(this if not a else a for a in paid[month:])
    expected = earlier + this + later
    assert line.forecast == expected == forecast(earlier, this, [a or None for a in paid[month:]])
    assert line.warning is (expected > pagu)
    assert line.warning is (this + later > line.remaining)  # the same rule, against what is left of the pagu


@given(pagu=st.integers(0, 10**9), spent=st.integers(0, 10**9), left=st.integers(0, 11))
def test_the_smallest_amount_that_warns_is_exactly_past_the_ceiling(pagu: int, spent: int, left: int) -> None:
    """Raising this period's amount one rupiah at a time: the warning turns on at the first forecast above the
    pagu and stays on (monotone)."""
    def warns(amount: int) -> bool:
        return forecast(spent, amount, [None] * left) > pagu

    threshold = max(0, (pagu - spent) // (left + 1) + 1) if spent <= pagu else 0
    assert warns(threshold)
    assert threshold == 0 or not warns(threshold - 1)
    assert warns(threshold + 1)


# --- through the store, the feed, status, the report and reconcile --------------------------------------------------


def _pipeline(db: Path, pagu: dict[str, int], world: MockWorld | None = None) -> Pipeline:
    settings = Settings(database_url=f"sqlite:///{db}")
    config = settings.tenants["metro"].model_copy(update={"pagu": pagu})
    settings = settings.model_copy(update={"tenants": {**settings.tenants, "metro": config}})
    return build_mock_pipeline(settings, world or MockWorld(Scenario.bundled("metro")), clock=FakeClock())


def _march_by_opd(tmp_path: Path) -> dict[str, int]:
    pipeline = _pipeline(tmp_path / "plain.db", {})
    pipeline.cycle("metro", "2026-03")
    out: dict[str, int] = {}
    with pipeline.engine.connect() as conn:
        for r in repo.load_results(conn, "metro", "2026-03"):
            out[r.opd_id] = out.get(r.opd_id, 0) + r.amount
    return out


def _warnings(pipeline: Pipeline) -> list[dict[str, Any]]:
    with pipeline.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.payload).where(outbox.c.tenant == "metro",
                                                           outbox.c.destination == "feed")).all()
    return [e for (p,) in rows for e in p.get("events", []) if e["type"] == BUDGET_WARNING]


@pytest.fixture(scope="module")
def march(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("budget")
    amounts = _march_by_opd(root)
    over, under, rejected = sorted(amounts)[:3]
    # March to December at March's rate is 10 x March: `over` one rupiah short of it, `under` exactly at it, and
    # `rejected` below March itself (the payroll mock, keyed on the same pagu, refuses lines past it).
    pagu = {over: 10 * amounts[over] - 1, under: 10 * amounts[under], rejected: amounts[rejected] // 2}
    pipeline = _pipeline(root / "pagu.db", pagu)
    pipeline.cycle("metro", "2026-03")
    return {"pipeline": pipeline, "amounts": amounts, "pagu": pagu, "over": over, "under": under,
            "rejected": rejected, "db": root / "pagu.db"}


def test_a_forecast_above_the_pagu_is_a_warning_on_the_feed_and_only_then(march: dict[str, Any]) -> None:
    warned = {e["data"]["opd_id"]: e["data"] for e in _warnings(march["pipeline"])}
    assert set(warned) == {march["over"], march["rejected"]}  # `under` is at the ceiling: no warning
    data = warned[march["over"]]
    assert data["forecast"] == 10 * march["amounts"][march["over"]] == data["pagu"] + 1
    assert (data["spent_before"], data["periods_left"], data["remaining"]) == (0, 9, data["pagu"])
    march["pipeline"].compute("metro", "2026-03")  # the same forecast again is the same event, not a second one
    assert len(_warnings(march["pipeline"])) == 2


def test_the_payroll_mocks_budget_rejection_is_reconciled_against_the_forecast(march: dict[str, Any]) -> None:
    pipeline = march["pipeline"]
    report = operations.reconcile(pipeline.engine, "metro", "2026-03", pipeline.destinations["payroll"],
                                  now=FakeClock()(), config=pipeline.settings.tenants["metro"])
    notes = {n.opd_id: n for n in report.budget}
    assert set(notes) == {march["over"], march["rejected"]}
    refused = notes[march["rejected"]]
    assert refused.kind == "budget-rejected" and refused.rejected_lines > 0 and refused.warned
    assert f"of OPD {march['rejected']} for its budget ceiling" in refused.detail and "had warned" in refused.detail
    with pipeline.engine.connect() as conn:
        from gateway.outbox import ledger

        lines = [ln for ln in ledger.rejected_lines(conn, "metro", "2026-03") if ln["reason"] == REJECT_BUDGET]
    assert refused.rejected_amount == sum(ln["amount"] for ln in lines) > 0
    assert {ln["opd_id"] for ln in lines} == {march["rejected"]}
    assert notes[march["over"]].kind == "budget-warning" and notes[march["over"]].rejected_lines == 0


def test_a_budget_rejection_without_a_pagu_says_the_gateway_had_not_warned(tmp_path: Path) -> None:
    amounts = _march_by_opd(tmp_path)
    opd = sorted(amounts)[0]
    world = MockWorld(Scenario.bundled("metro"))
    world.payroll.budget_per_opd = {opd: 1}  # payroll's own ceiling; the gateway knows no pagu
    pipeline = _pipeline(tmp_path / "nopagu.db", {}, world)
    pipeline.cycle("metro", "2026-03")
    assert _warnings(pipeline) == []
    report = operations.reconcile(pipeline.engine, "metro", "2026-03", pipeline.destinations["payroll"],
                                  now=FakeClock()(), config=pipeline.settings.tenants["metro"])
    [note] = report.budget
    assert note.opd_id == opd and not note.warned and "no pagu is set" in note.detail


def test_status_and_the_internal_report_show_spent_this_period_and_the_forecast(march: dict[str, Any],
                                                                               tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[tenants.metro.pagu]\n" + "".join(f'"{k}" = {v}\n' for k, v in march["pagu"].items()))
    env = {"GATEWAY_CONFIG_FILE": str(config), "GATEWAY_DATABASE_URL": f"sqlite:///{march['db']}"}
    out = CliRunner().invoke(app, ["status", "-t", "metro", "--json"], env=env)
    assert out.exit_code == 0, out.output
    [st_] = json.loads(out.output)
    rows = {b["opd_id"]: b for b in st_["pagu"]["opds"]}
    assert st_["pagu"]["period"] == "2026-03" and set(rows) == set(march["pagu"])
    over = rows[march["over"]]
    assert over["this_period"] == march["amounts"][march["over"]] == over["spent"]  # March is all that is paid
    assert over["forecast"] == 10 * over["this_period"] and over["warning"]
    assert not rows[march["under"]]["warning"] and rows[march["under"]]["opd"] != march["under"]  # named
    table = CliRunner().invoke(app, ["status", "-t", "metro"], env=env)
    assert table.exit_code == 0 and "ABOVE THE PAGU" in table.output
    page = CliRunner().invoke(app, ["report", "-t", "metro", "-p", "2026-03", "--kind", "integrity", "-f", "html"],
                              env=env)
    assert page.exit_code == 0 and "Budget ceiling (pagu)" in page.output and "above the pagu" in page.output
    recon = CliRunner().invoke(app, ["reconcile", "-t", "metro", "-p", "2026-03"], env=env)
    assert "budget: payroll rejected" in " ".join(recon.output.split())
