"""What-if (issue 18): the period under changed scheme settings, computed by the compute stage's own path, writing
nothing; the same numbers, per OPD, as a real computation under those settings."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.bootstrap import build_mock_pipeline
from gateway.cli import app
from gateway.pipeline import Pipeline
from gateway.settings import Settings
from gateway.store import repository as repo
from gateway.store.tables import audit_log, metadata
from gateway.whatif import WhatIf, what_if
from mocks import MockWorld, Scenario
from tests.conftest import FakeClock

CASES = {"metro": ("2026-03", ["min_score=50"], {"min_score": "50"}),
         "dki": ("2026-Q1", ["point_value_rupiah=12000"], {"point_value_rupiah": 12000})}


def _cycled(db: Path, tenant: str, period: str, changed: dict[str, Any] | None = None) -> Pipeline:
    settings = Settings(database_url=f"sqlite:///{db}")
    if changed:
        config = settings.tenants[tenant]
        config = config.model_copy(update={"settings": {**config.settings, **changed}})
        settings = settings.model_copy(update={"tenants": {**settings.tenants, tenant: config}})
    pipeline = build_mock_pipeline(settings, MockWorld(Scenario.bundled(tenant)), clock=FakeClock())
    pipeline.cycle(tenant, period)
    return pipeline


@pytest.fixture(scope="module", params=sorted(CASES))
def stores(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Pipeline,
                                                                                               Pipeline]:
    """The bundled period cycled twice: under the tenant's settings, and under the changed ones (a second store)."""
    tenant = request.param
    period, _, changed = CASES[tenant]
    root = tmp_path_factory.mktemp(f"whatif-{tenant}")
    return tenant, _cycled(root / "today.db", tenant, period), _cycled(root / "changed.db", tenant, period, changed)


def _per_opd(pipeline: Pipeline, tenant: str, period: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    with pipeline.engine.connect() as conn:
        for r in repo.load_results(conn, tenant, period):
            out[r.opd_id] += r.amount
    return dict(out)


def _run(pipeline: Pipeline, tenant: str, changes: list[str]) -> WhatIf:
    return what_if(pipeline.engine, tenant, pipeline.settings.tenants[tenant], CASES[tenant][0], changes)


def _snapshot(pipeline: Pipeline) -> dict[str, Any]:
    """Every table's row count and the audit log's head: what a write of any kind would change."""
    with pipeline.engine.connect() as conn:
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in metadata.sorted_tables}
        head = conn.execute(select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)).first()
    return {"counts": counts, "audit_head": tuple(head) if head else None}


def test_no_change_shows_zero_difference_everywhere(stores) -> None:  # type: ignore[no-untyped-def]
    tenant, today, _ = stores
    found = _run(today, tenant, [])
    assert found.opds and found.total.today > 0
    assert found.total.today == sum(_per_opd(today, tenant, CASES[tenant][0]).values())
    for row in [*found.opds, found.total]:
        assert row.difference == 0 and row.today == row.changed
        assert row.gain == row.lose == 0 and row.stay > 0


def test_a_change_equals_a_real_computation_under_it_per_opd(stores) -> None:  # type: ignore[no-untyped-def]
    tenant, today, changed = stores
    period, changes, _ = CASES[tenant]
    found = _run(today, tenant, changes)
    real_today, real_changed = _per_opd(today, tenant, period), _per_opd(changed, tenant, period)
    assert real_today != real_changed  # the change moves money: the comparison below means something
    assert {o.opd_id: o.today for o in found.opds} == real_today
    assert {o.opd_id: o.changed for o in found.opds if o.changed or o.opd_id in real_changed} == real_changed
    assert found.total.difference == sum(real_changed.values()) - sum(real_today.values())
    # Gain, lose and stay count employees, against each employee's real result under the change.
    with today.engine.connect() as a, changed.engine.connect() as b:
        before = {r.nip: r.amount for r in repo.load_results(a, tenant, period)}
        after = {r.nip: r.amount for r in repo.load_results(b, tenant, period)}
    nips = before.keys() | after.keys()
    assert found.total.gain == sum(after.get(n, 0) > before.get(n, 0) for n in nips)
    assert found.total.lose == sum(after.get(n, 0) < before.get(n, 0) for n in nips)
    assert found.total.stay == sum(after.get(n, 0) == before.get(n, 0) for n in nips)
    with today.engine.connect() as conn:
        names = {u.id: u.name for u in repo.staged(conn, tenant, "unit")}
    assert all(o.opd == names[o.opd_id] for o in found.opds)


def test_whatif_writes_nothing_and_sends_nothing(stores) -> None:  # type: ignore[no-untyped-def]
    tenant, today, _ = stores
    before = _snapshot(today)
    _run(today, tenant, CASES[tenant][1])
    assert _snapshot(today) == before


def test_the_cli_shows_the_same_numbers_as_json_and_html(stores, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tenant, today, _ = stores
    period, changes, _ = CASES[tenant]
    env = {"GATEWAY_DATABASE_URL": today.settings.database_url}
    args = ["whatif", "-t", tenant, "-p", period, *[a for c in changes for a in ("--set", c)]]
    out = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == _run(today, tenant, changes).as_json()
    page = CliRunner().invoke(app, [*args, "-f", "html", "--out", str(tmp_path / "w.html")], env=env)
    assert page.exit_code == 0 and "<table>" in (tmp_path / "w.html").read_text()
    table = CliRunner().invoke(app, args, env=env)
    assert table.exit_code == 0 and "total" in table.output


@pytest.mark.parametrize(("change", "said"), [
    ("no_such_setting=1", "no_such_setting: Extra inputs are not permitted"),
    ("justtext", "expected KEY=VALUE"),
    ("a..b=1", "expected KEY=VALUE"),
])
def test_a_bad_key_or_value_is_one_line_and_exit_2(stores, change: str, said: str) -> None:  # type: ignore[no-untyped-def]
    tenant, today, _ = stores
    bad = {"metro": "min_score=abc", "dki": "point_value_rupiah=-5"}[tenant]
    for text, expected in ((change, said), (bad, "refuses the changed settings")):
        out = CliRunner().invoke(app, ["whatif", "-t", tenant, "-p", CASES[tenant][0], "--set", text],
                                 env={"GATEWAY_DATABASE_URL": today.settings.database_url})
        assert out.exit_code == 2 and "Traceback" not in out.output
        assert len(out.output.strip().splitlines()) == 1 and expected in out.output
