"""Approvals are judged against the direct supervisor on the activity's day, from SIASN's position history.

The bundled Metro month with a change of head planted: on 16 March a new head (B) takes the post of a Kepala
Seksi (S), who moves to another unit; e-Kinerja, a listing of now, names B as the staff's supervisor. Through the
HTTP-faithful mocks, a whole cycle: B's approval of work done before the 16th does not count and S's does; after
the 16th the other way round; the disagreement with e-Kinerja is listed for the operator; and SIASN is asked about
each employee once, again only when their e-Kinerja record changes.
"""

from __future__ import annotations

from datetime import date

import pytest

from gateway.bootstrap import build_mock_pipeline
from gateway.domain import Employee, Position
from gateway.domain.org import OrgChart
from gateway.settings import Settings
from gateway.store import repository as repo
from mocks import MockWorld, Scenario
from mocks.scenario import ScenarioEmployee, ScenarioPosition
from tests.conftest import FakeClock

METRO = Scenario.bundled("metro")
CHANGE = date(2026, 3, 16)
B_NIP = "198204152008031002"


def _planted() -> tuple[Scenario, dict[str, str]]:
    """The month with the change of head planted, and the ids the test looks at."""
    emps = {e.nip: e for e in METRO.employees}
    acts = sorted(METRO.activities, key=lambda a: (a.date, a.id))
    approver = {a.activity_id: a for a in METRO.approvals}
    staff = next(e for e in METRO.employees
                 if not e.eselon and (s := emps.get(e.supervisor_nip or "")) and s.eselon and s.unit_id == e.unit_id
                 and sum(1 for a in acts if a.nip == e.nip and a.date < CHANGE and a.id in approver) >= 2
                 and sum(1 for a in acts if a.nip == e.nip and a.date >= CHANGE and a.id in approver) >= 2)
    head = emps[staff.supervisor_nip or ""]
    elsewhere = next(u.id for u in METRO.units if u.id not in (head.unit_id, METRO.units[0].id) and u.parent_id)
    before = [a.id for a in acts if a.nip == staff.nip and a.date < CHANGE and a.id in approver][:2]
    after = [a.id for a in acts if a.nip == staff.nip and a.date >= CHANGE and a.id in approver][:2]
    ids = {"staff": staff.nip, "head": head.nip, "before_by_new": before[0], "before_by_old": before[1],
           "after_by_old": after[0], "after_by_new": after[1]}
    by = {ids["before_by_new"]: B_NIP, ids["before_by_old"]: head.nip, ids["after_by_old"]: head.nip,
          ids["after_by_new"]: B_NIP}
    new_head = ScenarioEmployee(nip=B_NIP, name="Budi Santoso", unit_id=head.unit_id,
                                supervisor_nip=head.supervisor_nip, kelas_jabatan=head.kelas_jabatan,
                                position=head.position, eselon=head.eselon)
    employees = [e.model_copy(update={"supervisor_nip": B_NIP}) if e.supervisor_nip == head.nip and
                 e.unit_id == head.unit_id else
                 e.model_copy(update={"unit_id": elsewhere, "eselon": None, "position": "Analis Kebijakan"})
                 if e.nip == head.nip else e for e in METRO.employees] + [new_head]
    approvals = [a.model_copy(update={"approver_nip": by[a.activity_id]}) if a.activity_id in by else a
                 for a in METRO.approvals]
    positions = [
        ScenarioPosition(nip=head.nip, unit_id=head.unit_id, position=head.position, eselon=head.eselon,
                         start=date(2019, 1, 2)),
        ScenarioPosition(nip=head.nip, unit_id=elsewhere, position="Analis Kebijakan", start=CHANGE),
        ScenarioPosition(nip=B_NIP, unit_id=elsewhere, position="Analis Kebijakan", start=date(2008, 3, 1)),
        ScenarioPosition(nip=B_NIP, unit_id=head.unit_id, position=head.position, eselon=head.eselon, start=CHANGE),
    ]
    planted = METRO.model_copy(update={"employees": employees, "approvals": approvals, "positions": positions})
    return planted, ids


def _cycle(db_url: str, world: MockWorld, clock: FakeClock, **settings: object):  # type: ignore[no-untyped-def]
    pipeline = build_mock_pipeline(Settings(database_url=db_url, **settings), world, clock=clock)
    return pipeline, pipeline.cycle("metro", "2026-03")


def _wrong_approver(result, activity_id: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether the activity was refused for its approver (whatever else it was refused for)."""
    return any(activity_id in line.refs and (line.code == "refused:wrong-approver" or "[wrong-approver]" in line.text)
               for line in result.lines)


def test_an_approval_counts_from_who_held_the_post_on_the_activity_day(db_url: str, clock: FakeClock) -> None:
    scenario, ids = _planted()
    world = MockWorld(scenario)
    pipeline, report = _cycle(db_url, world, clock)
    with pipeline.engine.connect() as conn:
        result = next(r for r in repo.load_results(conn, "metro", "2026-03") if r.nip == ids["staff"])
        notices = [q for q in repo.list_quarantine(conn, "metro", "2026-03") if q["rule"] == "supervisor-on-the-day"]
        positions = repo.staged(conn, "metro", "position")
    assert _wrong_approver(result, ids["before_by_new"])  # B took the post later
    assert not _wrong_approver(result, ids["before_by_old"])  # S held it that day
    assert _wrong_approver(result, ids["after_by_old"])  # S had moved on
    assert not _wrong_approver(result, ids["after_by_new"])
    refusal = next(line.text for line in result.lines if ids["before_by_new"] in line.refs)
    assert ids["head"] in refusal and "who is not the direct supervisor on" in refusal
    # e-Kinerja names B for the whole month; SIASN's history has S before the 16th: listed, the history won.
    staff_notices = [q for q in notices if q["record_id"] == f"{ids['staff']}/2026-03"]
    assert len(staff_notices) == 1 and ids["head"] in staff_notices[0]["message"]
    assert {p.nip for p in positions} >= {ids["head"], B_NIP, ids["staff"]}
    assert report.sync.staged["position"].new == len(positions)


def test_gateway_org_shows_the_head_on_each_day(db_url: str, clock: FakeClock) -> None:
    import json

    from typer.testing import CliRunner

    from gateway.cli import app

    scenario, ids = _planted()
    _cycle(db_url, MockWorld(scenario), clock)
    unit = next(e.unit_id for e in scenario.employees if e.nip == B_NIP)
    shown = {}
    for day in ("2026-03-10", "2026-03-20"):
        out = CliRunner().invoke(app, ["org", "-t", "metro", "--on", day, "--json"],
                                 env={"GATEWAY_DATABASE_URL": db_url})
        assert out.exit_code == 0, out.output
        shown[day] = next(u for u in json.loads(out.output)["units"] if u["unit_id"] == unit)
    assert shown["2026-03-10"]["head_nip"] == ids["head"] and shown["2026-03-20"]["head_nip"] == B_NIP
    bad = CliRunner().invoke(app, ["org", "-t", "metro", "--on", "10-03-2026"], env={"GATEWAY_DATABASE_URL": db_url})
    assert bad.exit_code == 2 and "is not a day" in bad.output


def test_without_the_history_e_kinerjas_supervisor_judges(db_url: str, clock: FakeClock) -> None:
    """Switched off (no "siasn" source): B, whom e-Kinerja names, judges the whole month, as before."""
    scenario, ids = _planted()
    settings = Settings(database_url=db_url)
    tenants = {name: t.model_copy(update={"sources": [s for s in t.sources if s != "siasn"]})
               for name, t in settings.tenants.items()}
    pipeline, _ = _cycle(db_url, MockWorld(scenario), clock, tenants=tenants)
    with pipeline.engine.connect() as conn:
        result = next(r for r in repo.load_results(conn, "metro", "2026-03") if r.nip == ids["staff"])
        assert repo.staged(conn, "metro", "position") == []
    assert not _wrong_approver(result, ids["before_by_new"])
    assert _wrong_approver(result, ids["before_by_old"])


def _asked(world: MockWorld, resource: str) -> list[str]:
    """The NIPs SIASN was asked about for `resource` (rw-jabatan, data-utama), in order."""
    return [str(c.request.url).rsplit("/", 1)[-1] for c in world.router.routes["siasn.pns"].calls
            if f"/pns/{resource}/" in str(c.request.url)]


def test_siasn_is_asked_about_new_and_changed_employees_only(db_url: str, clock: FakeClock) -> None:
    scenario, ids = _planted()
    world = MockWorld(scenario)
    _cycle(db_url, world, clock)
    everyone = sorted(e.nip for e in scenario.employees)
    assert sorted(_asked(world, "rw-jabatan")) == sorted(_asked(world, "data-utama")) == everyone  # each once
    clock.advance(hours=1)
    _cycle(db_url, world, clock)
    assert len(_asked(world, "rw-jabatan")) == len(everyone)  # nobody new or changed: SIASN not asked
    # One employee's e-Kinerja record changes: only they are asked again, by each per-employee stream.
    world.bkn.load(scenario.model_copy(update={"employees": [
        e.model_copy(update={"position": "Analis Data"}) if e.nip == ids["staff"] else e
        for e in scenario.employees]}))
    clock.advance(hours=1)
    _cycle(db_url, world, clock)
    assert _asked(world, "rw-jabatan")[len(everyone):] == _asked(world, "data-utama")[len(everyone):] == [
        ids["staff"]]


def test_the_slow_refresh_asks_everyone_again_after_the_refresh_days(db_url: str, clock: FakeClock) -> None:
    scenario, _ids = _planted()
    world = MockWorld(scenario)
    _cycle(db_url, world, clock, siasn_lookups_per_sync=20)
    assert len(_asked(world, "rw-jabatan")) == 20  # at most the budget per sync
    for _ in range(2):
        clock.advance(hours=1)
        _cycle(db_url, world, clock, siasn_lookups_per_sync=20)
    assert sorted(_asked(world, "rw-jabatan")) == sorted(e.nip for e in scenario.employees)  # 53, each once
    clock.advance(days=31)
    _cycle(db_url, world, clock, siasn_lookups_per_sync=20)
    again = _asked(world, "rw-jabatan")[len(scenario.employees):]
    assert again == _asked(world, "rw-jabatan")[:20]  # the oldest asked, again, in the order they were first


def _pos(nip: str, unit: str, start: date, *, head: bool = False, **kw: object) -> Position:
    return Position(id=f"{nip}:{start}:{kw.get('acting', False)}", nip=nip, unit_id=unit, start=start,
                    post="Kepala" if head else "Staf", kind="struktural" if head else "pelaksana", **kw)


A, B, E, P = "197001012000011001", "198001012005011002", "199001012015011003", "196501011990011004"


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 3, 2), A), (date(2026, 3, 15), A), (date(2026, 3, 16), B), (date(2026, 3, 31), B)])
def test_the_org_chart_on_a_day(day: date, expected: str) -> None:
    chart = OrgChart([_pos(A, "U", date(2015, 1, 1), head=True), _pos(A, "V", CHANGE),
                      _pos(B, "V", date(2010, 1, 1)), _pos(B, "U", CHANGE, head=True), _pos(E, "U", date(2016, 1, 1))])
    staff = Employee(nip=E, name="E", unit_id="U", supervisor_nip=B, kelas_jabatan=7)
    assert chart.supervisor_on(staff, day, date(2026, 3, 31)).nip == expected
    assert chart.heads(day)["U"] == expected


def test_an_employee_who_moved_mid_month_is_judged_by_the_head_of_the_unit_they_were_in() -> None:
    chart = OrgChart([_pos(A, "U", date(2015, 1, 1), head=True), _pos(B, "V", date(2010, 1, 1), head=True),
                      _pos(E, "U", date(2016, 1, 1)), _pos(E, "V", CHANGE)])
    moved = Employee(nip=E, name="E", unit_id="V", supervisor_nip=B, kelas_jabatan=7)
    assert chart.supervisor_on(moved, date(2026, 3, 5), date(2026, 3, 31)).nip == A
    assert chart.supervisor_on(moved, date(2026, 3, 20), date(2026, 3, 31)).nip == B


def test_an_acting_head_heads_the_unit_for_the_assignment_only() -> None:
    chart = OrgChart([_pos(A, "U", date(2015, 1, 1), head=True), _pos(A, "X", date(2026, 3, 1)),
                      _pos(P, "W", date(2012, 1, 1), head=True),
                      _pos(P, "U", date(2026, 3, 2), head=True, acting=True, end=date(2026, 3, 20)),
                      _pos(B, "U", date(2026, 3, 21), head=True), _pos(E, "U", date(2016, 1, 1))])
    staff = Employee(nip=E, name="E", unit_id="U", supervisor_nip=B, kelas_jabatan=7)
    assert chart.position_of(P, date(2026, 3, 10)).unit_id == "W"  # acting is beside their own post
    assert chart.supervisor_on(staff, date(2026, 3, 10), date(2026, 3, 31)).nip == P
    assert chart.supervisor_on(staff, date(2026, 3, 25), date(2026, 3, 31)).nip == B


def test_nobody_on_record_in_the_post_that_day_leaves_e_kinerjas_supervisor() -> None:
    chart = OrgChart([_pos(B, "U", CHANGE, head=True), _pos(E, "U", date(2016, 1, 1))])
    staff = Employee(nip=E, name="E", unit_id="U", supervisor_nip=B, kelas_jabatan=7)
    found = chart.supervisor_on(staff, date(2026, 3, 5), date(2026, 3, 31))
    assert (found.nip, found.source) == (B, "ekinerja")


def test_siasn_failing_stops_its_lookups_for_the_tick_and_nothing_else(db_url: str, clock: FakeClock) -> None:
    """SIASN answers 503 after 10 employees: the month is still computed and paid; what was asked is kept; the
    next tick asks the rest."""
    from mocks.faults import Fault

    scenario, _ids = _planted()
    world = MockWorld(scenario)
    world.faults.set("siasn.pns", Fault(kind="error", after=10))
    pipeline = build_mock_pipeline(Settings(database_url=db_url), world, clock=clock, sleep=lambda _s: None)
    report = pipeline.cycle("metro", "2026-03")
    assert report.sync.lookups_stopped and "503" in report.sync.lookups_stopped
    first = clock()
    with pipeline.engine.connect() as conn:
        assert len(repo.load_results(conn, "metro", "2026-03")) >= 50
        asked = {nip for nip, _d in repo.lookups_due(conn, "metro", "rw_jabatan", refresh_before=clock(),
                                                     limit=1000)}
    assert len(scenario.employees) - len(asked) == 10  # the ten answered are stored, the rest are still due
    world.faults.clear()
    clock.advance(hours=1)
    pipeline.cycle("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        assert repo.lookups_due(conn, "metro", "rw_jabatan", refresh_before=first, limit=1000) == []


def test_an_answer_replaces_the_employees_history(db_url: str, clock: FakeClock) -> None:
    """SIASN's answer is the employee's whole history: a row it no longer sends is gone from the store; a row it
    refuses (bad date) keeps what the store held and is quarantined."""
    scenario, ids = _planted()
    world = MockWorld(scenario)
    pipeline, _ = _cycle(db_url, world, clock)
    with pipeline.engine.connect() as conn:
        assert len([p for p in repo.staged(conn, "metro", "position") if p.nip == ids["head"]]) == 2
    # The move is taken back in SIASN; e-Kinerja's record of the head changes too, so the head is asked again.
    fewer = scenario.model_copy(update={
        "positions": [p for p in scenario.positions if not (p.nip == ids["head"] and p.start == CHANGE)],
        "employees": [e.model_copy(update={"name": e.name + " S.E."}) if e.nip == ids["head"] else e
                      for e in scenario.employees]})
    world.siasn.load(fewer)
    world.bkn.load(fewer)
    clock.advance(hours=1)
    _cycle(db_url, world, clock)
    with pipeline.engine.connect() as conn:
        kept = [p for p in repo.staged(conn, "metro", "position") if p.nip == ids["head"]]
    assert [p.start for p in kept] == [date(2019, 1, 2)]
    # Now SIASN sends a row the boundary refuses: the stored history stays, the row is quarantined.
    world.siasn.jabatan[ids["head"]].append({**world.siasn.jabatan[ids["head"]][0], "id": "X" * 32,
                                              "tmtJabatan": "31-02-2026"})
    world.bkn.load(scenario)
    clock.advance(hours=1)
    _cycle(db_url, world, clock)
    with pipeline.engine.connect() as conn:
        still = [p for p in repo.staged(conn, "metro", "position") if p.nip == ids["head"]]
        refused = [q for q in repo.list_quarantine(conn, "metro") if q["record_kind"] == "rw_jabatan"]
    assert [p.start for p in still] == [date(2019, 1, 2)]
    assert refused and refused[0]["record_id"] == "X" * 32
