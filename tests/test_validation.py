"""Org-data checks before any scheme runs."""

from __future__ import annotations

from gateway.domain import Employee
from gateway.domain.validation import supervisor_cycles

A, B, C, D, E = (f"19800101200501100{i}" for i in range(1, 6))


def emp(nip: str, supervisor: str | None) -> Employee:
    return Employee(nip=nip, name=nip, unit_id="U", supervisor_nip=supervisor, kelas_jabatan=7)


def test_a_loop_of_supervisors_quarantines_each_member_once() -> None:
    # A -> B -> C -> A is a loop; D reports into it (not in it); E has no supervisor.
    problems = supervisor_cycles([emp(A, B), emp(B, C), emp(C, A), emp(D, A), emp(E, None)])
    assert sorted(p.record_id for p in problems) == [A, B, C]
    assert {p.rule for p in problems} == {"supervisor-cycle"}
    assert " -> " in problems[0].message


def test_self_supervision_is_a_loop() -> None:
    assert [p.record_id for p in supervisor_cycles([emp(A, A), emp(B, A)])] == [A]


def test_a_proper_tree_has_no_problem() -> None:
    assert supervisor_cycles([emp(A, None), emp(B, A), emp(C, B), emp(D, "199901012020011999")]) == []


def test_a_generated_cycle_is_quarantined_by_the_pipeline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io

    from gateway.bootstrap import build_mock_pipeline
    from gateway.settings import Settings
    from gateway.store import repository as repo
    from mocks import MockWorld, Scenario
    from mocks.generator import generate
    from tests.conftest import FakeClock

    out = io.BytesIO()
    generate("metro", 60, "2026-03", 7, 0.0, out, bad={"supervisor_cycle": 0.5})
    scenario = Scenario.model_validate_json(out.getvalue())
    pipeline = build_mock_pipeline(Settings(database_url=f"sqlite:///{tmp_path}/v.db"), MockWorld(scenario),
                                   clock=FakeClock())
    pipeline.cycle("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        looped = {q["record_id"] for q in repo.list_quarantine(conn, "metro", "2026-03")
                  if q["rule"] == "supervisor-cycle"}
        paid = {r.nip for r in repo.load_results(conn, "metro", "2026-03")}
    assert looped and looped.isdisjoint(paid)
    assert looped == {p.record_id for p in supervisor_cycles(
        [emp(e.nip, e.supervisor_nip) for e in scenario.employees])}
