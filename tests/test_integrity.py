"""Evidence integrity signals (issue 18) on generated scenarios: each planted pattern is found, with the records
it planted named; a clean scenario gives none. The signals come from the stored records (after a sync)."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import datetime, time
from pathlib import Path

import pytest

from gateway.bootstrap import build_mock_pipeline
from gateway.mappings.integrity import Signal
from gateway.reports_integrity import as_csv, as_html, load_signals
from gateway.settings import Settings
from mocks import MockWorld, Scenario
from mocks.generator import generate
from tests.conftest import FakeClock


def _signals(tmp_path: Path, tenant: str, plant: dict[str, float], seed: int = 5) -> tuple[Scenario, list[Signal]]:
    out = io.BytesIO()
    generate(tenant, 80, "2026-03", seed, 0.0, out, plant=plant)
    scenario = Scenario.model_validate_json(out.getvalue())
    settings = Settings(database_url=f"sqlite:///{tmp_path}/i.db")
    pipeline = build_mock_pipeline(settings, MockWorld(scenario), clock=FakeClock())
    pipeline.sync(tenant, "2026-03")
    with pipeline.engine.connect() as conn:
        found = load_signals(conn, tenant, settings.tenants[tenant], "2026-03")
    return scenario, found


def _owner(scenario: Scenario) -> dict[str, str]:
    return {a.id: a.nip for a in scenario.activities}


@pytest.mark.parametrize("tenant", ["metro", "pekalongan"])
def test_a_clean_scenario_has_no_signal(tmp_path: Path, tenant: str) -> None:
    scenario, found = _signals(tmp_path, tenant, {})
    assert len({e.sha256 for e in scenario.evidence}) == len(scenario.evidence)  # a document of its own each
    assert found == []


def test_a_shared_document_is_found_with_its_items(tmp_path: Path) -> None:
    scenario, found = _signals(tmp_path, "metro", {"shared_document": 0.05})
    owner = _owner(scenario)
    groups: dict[str, list[str]] = defaultdict(list)
    for e in scenario.evidence:
        groups[e.sha256].append(e.id)
    planted = {sha: sorted(ids) for sha, ids in groups.items() if len(ids) > 1}
    assert planted
    got = {s.subject: list(s.records) for s in found if s.rule == "shared_document"}
    assert got == planted
    by_id = {e.id: e for e in scenario.evidence}
    for s in found:
        assert s.rule == "shared_document"
        assert set(s.nips) == {owner[by_id[i].activity_id] for i in s.records} and len(s.nips) > 1
    assert "shared_document" in as_csv("metro", "2026-03", found) and "<svg" in as_html("metro", "2026-03", found)


def test_a_shared_photo_is_found_with_its_items(tmp_path: Path) -> None:
    scenario, found = _signals(tmp_path, "pekalongan", {"shared_photo": 0.2})
    groups: dict[tuple[object, ...], list[str]] = defaultdict(list)
    for e in scenario.evidence:
        if e.captured_at is not None and e.latitude is not None:
            groups[(e.captured_at, e.latitude, e.longitude)].append(e.id)
    planted = sorted(sorted(ids) for ids in groups.values() if len(ids) > 1)
    assert planted
    assert sorted(sorted(s.records) for s in found if s.rule == "shared_photo") == planted
    assert {s.rule for s in found} == {"shared_photo"}


def test_rapid_approvals_are_found(tmp_path: Path) -> None:
    scenario, found = _signals(tmp_path, "metro", {"rapid_approval": 0.5})
    planted = {a.id: a for a in scenario.approvals if a.decided_at.time() < time(16, 10)
               and a.decided_at.time() >= time(16, 0)}
    assert found and {s.rule for s in found} == {"rapid_approval"}
    for s in found:
        assert set(s.records) <= set(planted)  # only approvals the generator batched
        assert {planted[i].approver_nip for i in s.records} == {s.subject}
    # every approver with a batch of at least 5 within seconds is named
    by_day: dict[tuple[str, object], int] = defaultdict(int)
    for a in planted.values():
        by_day[(a.approver_nip, a.decided_at.date())] += 1
    assert {s.subject for s in found} == {nip for (nip, _), n in by_day.items() if n >= 5}


def test_burst_entry_is_found(tmp_path: Path) -> None:
    scenario, found = _signals(tmp_path, "metro", {"burst_entry": 0.2})
    entered: dict[str, list[datetime]] = defaultdict(list)
    for a in scenario.activities:
        entered[a.nip].append(a.entered_at)
    last = max(a.date for a in scenario.activities)
    backfilled = {nip for nip, ts in entered.items() if len(ts) >= 8
                  and all(t.date() == last and time(16) <= t.time() < time(17) for t in ts)}
    assert backfilled
    bursts = [s for s in found if s.rule == "burst_entry"]
    assert {s.subject for s in bursts} == backfilled
    acts = {a.id: a.nip for a in scenario.activities}
    assert all(acts[i] == s.subject for s in bursts for i in s.records)


def test_evidence_at_the_sla_edge_is_found(tmp_path: Path) -> None:
    scenario, found = _signals(tmp_path, "metro", {"sla_edge": 0.2})
    owner = _owner(scenario)
    edgy: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for e in scenario.evidence:
        total[owner[e.activity_id]] += 1
        t = e.uploaded_at.time()
        edgy[owner[e.activity_id]] += t >= time(23, 50)
    planted = {nip for nip, n in edgy.items() if n == total[nip] and n >= 5}
    assert planted
    assert {s.subject for s in found if s.rule == "sla_edge"} == planted
    assert {s.rule for s in found} == {"sla_edge"}


def test_variants_are_distinct_deterministic_and_judged_like_the_pool() -> None:
    from asn1crypto import x509

    from mocks.signing import trust_roots, variant
    from mocks.tte import check_pdf

    roots = [x509.Certificate.load(r) for r in trust_roots()]
    expected = {"valid": "VALID", "foreign": "INVALID", "unsigned": "NO_SIGNATURE", "altered": "INVALID"}
    for kind, verdict in expected.items():
        a, b = variant(kind, "EV-0000001-1"), variant(kind, "EV-0000002-1")  # type: ignore[arg-type]
        assert a.pdf != b.pdf and a.sha256 != b.sha256
        assert variant(kind, "EV-0000001-1") == a  # type: ignore[arg-type]
        assert check_pdf(a.pdf, roots).conclusion == verdict
        assert (a.sha256 == a.signed_sha256) is (kind != "altered")
    with pytest.raises(ValueError, match="variant key"):
        variant("valid", "bad key (with spaces)")


def test_dki_computes_without_reading_the_month_for_signals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DKI's month is ~1.4 M activities, computed in parts to stay under 1 GiB: its compute never reads the whole
    month for the signals (`integrity.on_compute = false`); Metro's does."""
    import gateway.stages.compute as compute_stage

    asked: list[str] = []

    def counting(conn, tenant, config, period):  # type: ignore[no-untyped-def]
        asked.append(tenant)
        return load_signals(conn, tenant, config, period)

    monkeypatch.setattr(compute_stage, "load_signals", counting)
    for tenant, period in (("dki", "2026-Q1"), ("metro", "2026-03")):
        settings = Settings(database_url=f"sqlite:///{tmp_path}/{tenant}.db")
        build_mock_pipeline(settings, MockWorld(Scenario.bundled(tenant)), clock=FakeClock()).cycle(tenant, period)
    assert asked == ["metro"]
