"""The scenario generator: deterministic, valid, streamed, and carrying each kind of bad data when asked to."""

from __future__ import annotations

import hashlib
import inspect
import io
import re
import tracemalloc
from collections import Counter
from datetime import datetime, time
from functools import cache
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from typer.testing import CliRunner

from gateway.bootstrap import build_mock_pipeline
from gateway.cli import app
from gateway.domain import WIB, WorkingDayCalendar
from gateway.domain.models import NIP
from gateway.settings import Settings
from gateway.store import repository as repo
from mocks import MockWorld
from mocks._calendar import PUBLIC, add_working_days
from mocks.generator import (
    APPLIES_TO,
    BAD_KINDS,
    POSITION_GROUPS,
    TENANTS,
    ScenarioWriter,
    generate,
    iter_records,
)
from mocks.scenario import Scenario, document_bytes

CALENDAR = WorkingDayCalendar()
PEKALONGAN_AREA = ((-6.9289, -6.8450), (109.6319, 109.7053))  # the tenant's `area` setting


@cache
def made(tenant: str, employees: int, period: str, seed: int = 1, bad_share: float = 0.0) -> bytes:
    out = io.BytesIO()
    generate(tenant, employees, period, seed, bad_share, out)
    return out.getvalue()


@cache
def scenario(tenant: str, employees: int, period: str, seed: int = 1, bad_share: float = 0.0) -> Scenario:
    return Scenario.model_validate_json(made(tenant, employees, period, seed, bad_share))


class Look:
    """What a scenario holds, indexed, and a detector for each kind of bad data."""

    def __init__(self, s: Scenario) -> None:
        self.s = s
        self.units = {u.id: u for u in s.units}
        self.employees = {e.nip: e for e in s.employees}
        self.activities = {a.id: a for a in s.activities}
        self.docs = document_bytes(s)

    def late_evidence(self) -> int:
        return sum(ev.uploaded_at > CALENDAR.deadline(self.activities[ev.activity_id].date, 3)
                   for ev in self.s.evidence)

    def bad_signature(self) -> int:
        return sum(ev.signature.status in ("foreign", "none") for ev in self.s.evidence)

    def altered_document(self) -> int:
        return sum(hashlib.sha256(self.docs[ev.id]).hexdigest() != ev.sha256 for ev in self.s.evidence)

    def wrong_approver(self) -> int:
        return sum(ap.approver_nip != self.employees[self.activities[ap.activity_id].nip].supervisor_nip
                   for ap in self.s.approvals)

    def outside_window(self) -> int:
        return sum(time(8) <= a.entered_at.astimezone(WIB).time() < time(15) for a in self.s.activities)

    def photo_no_coordinates(self) -> int:
        return sum(ev.kind == "foto" and ev.latitude is None for ev in self.s.evidence)

    def photo_outside_area(self) -> int:
        (lat0, lat1), (lon0, lon1) = PEKALONGAN_AREA
        return sum(ev.kind == "foto" and ev.latitude is not None
                   and not (lat0 <= ev.latitude <= lat1 and lon0 <= ev.longitude <= lon1)  # type: ignore[operator]
                   for ev in self.s.evidence)

    def bad_weights(self) -> int:
        return sum(sum(i.weight for i in p.indicators) != 100 for p in self.s.plans)

    def duplicate_id(self) -> int:
        seen: dict[str, str] = {}
        dups = 0
        for a in self.s.activities:
            body = a.model_dump_json()
            dups += a.id in seen and seen[a.id] != body
            seen.setdefault(a.id, body)
        return dups

    def supervisor_cycle(self) -> int:
        cycles = 0
        for start in self.employees:
            seen, nip = set(), start
            while nip in self.employees and nip not in seen:
                seen.add(nip)
                nip = self.employees[nip].supervisor_nip  # type: ignore[assignment]
            cycles += nip == start
        return cycles

    def unknown_unit(self) -> int:
        return sum(e.unit_id not in self.units for e in self.s.employees)


def applicable(tenant: str) -> list[str]:
    return [k for k in BAD_KINDS if tenant in APPLIES_TO.get(k, TENANTS)]


# determinism and format -----------------------------------------------------------------------------------------
def test_same_arguments_give_the_same_bytes_and_another_seed_other_bytes() -> None:
    first = made("metro", 60, "2026-03", 7, 0.05)
    again = io.BytesIO()
    generate("metro", 60, "2026-03", 7, 0.05, again)
    assert again.getvalue() == first
    assert made("metro", 60, "2026-03", 8, 0.05) != first


@pytest.mark.parametrize("tenant", TENANTS)
def test_output_loads_with_scenario_load(tenant: str, tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with path.open("wb") as fh:
        stats = generate(tenant, 60, "2026-03", 1, 0.05, fh)
    loaded = Scenario.load(path)
    assert (loaded.tenant, loaded.period, loaded.format_version) == (tenant, "2026-03", 1)
    assert len(loaded.employees) == 60 and len(loaded.documents) == 4  # the templates
    assert stats.bytes_written == path.stat().st_size
    assert stats.records["activity"] == len(loaded.activities) > 0
    assert stats.records["evidence"] == len(loaded.evidence)


def test_text_output_is_the_same_as_binary() -> None:
    text = io.StringIO()
    generate("pekalongan", 30, "2026-02", 1, 0.0, text)
    assert text.getvalue().encode() == made("pekalongan", 30, "2026-02")


@pytest.mark.parametrize("tenant", TENANTS)
def test_nips_are_valid_and_unique(tenant: str) -> None:
    s = scenario(tenant, 200, "2026-03")
    check = TypeAdapter(NIP).validate_python
    for e in s.employees:
        check(e.nip)
        born, appointed = int(e.nip[:4]), int(e.nip[8:12])
        assert appointed >= born + 20, e.nip
    assert len({e.nip for e in s.employees}) == len(s.employees)


@pytest.mark.parametrize("tenant", TENANTS)
def test_org_tree_has_a_head_for_every_unit_and_supervisors_along_it(tenant: str) -> None:
    s = scenario(tenant, 200, "2026-03")
    look = Look(s)
    root = s.units[0]
    assert root.parent_id is None and all(u.parent_id in look.units for u in s.units[1:])
    assert all(re.fullmatch(r"[0-9A-F]{32}", u.id) for u in s.units)
    depth = {root.id: 0}
    for u in s.units[1:]:
        depth[u.id] = depth[u.parent_id] + 1  # type: ignore[index]
        assert u.head_nip in look.employees, u.name
    assert len({u.id for u in s.units}) == len(s.units)
    heads = {u.head_nip: u for u in s.units[1:]}
    eselon_by_depth = {1: "II", 2: "III", 3: "IV"}
    tops = [e for e in s.employees if e.supervisor_nip is None]
    assert len(tops) == 1 and tops[0].nip == s.units[1].head_nip  # the Sekretaris Daerah
    for e in s.employees:
        unit = look.units[e.unit_id]
        if e.nip in heads:
            assert e.eselon is not None and e.eselon.split(".")[0] == eselon_by_depth[depth[unit.id]]
            parent = look.units[unit.parent_id]  # type: ignore[index]
            expected = parent.head_nip if parent.head_nip else tops[0].nip
        else:
            assert e.eselon is None
            expected = unit.head_nip
        if e is not tops[0]:
            assert e.supervisor_nip == expected, e.nip
        if tenant == "dki":
            assert e.position_group in POSITION_GROUPS
        else:
            assert e.position_group is None
        assert 1 <= e.kelas_jabatan <= 17
    assert look.supervisor_cycle() == 0


def test_dki_scales_to_hundreds_of_units_and_opds_with_a_mix_of_position_groups() -> None:
    units = employees = 0
    groups: Counter[str] = Counter()
    for kind, record in iter_records("dki", 6000, "2026-03", 1, 0.0):
        if kind == "unit":
            units += 1
        elif kind == "employee":
            employees += 1
            groups[record["position_group"]] += 1
        elif kind == "plan":
            break
    assert employees == 6000 and units > 500
    assert set(groups) == set(POSITION_GROUPS)


# content --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tenant", TENANTS)
def test_clean_scenario_has_no_bad_data(tenant: str) -> None:
    s = scenario(tenant, 200, "2026-03")
    look = Look(s)
    for kind in applicable(tenant):
        assert getattr(look, kind)() == 0, kind
    assert all(ev.signature.status == "valid" for ev in s.evidence)
    plans = {i.id for p in s.plans for i in p.indicators}
    assert all(a.indicator_id in plans and CALENDAR.is_working_day(a.date) for a in s.activities)
    assert all(ap.decided_at > look.activities[ap.activity_id].entered_at for ap in s.approvals)
    assert all(ev.uploaded_at >= look.activities[ev.activity_id].entered_at for ev in s.evidence)
    assert {ap.activity_id for ap in s.approvals} == set(look.activities)


def test_plans_cascade_from_the_supervisors_rhk() -> None:
    s = scenario("metro", 60, "2026-03")
    rhk = {p.nip: p.rhk for p in s.plans}
    for e in s.employees:
        if e.supervisor_nip:
            plan = next(p for p in s.plans if p.nip == e.nip)
            assert all(rhk[e.supervisor_nip] in i.name for i in plan.indicators)


def test_pekalongan_evidence_fits_the_activity_kind_and_programmes_and_attendance_are_there() -> None:
    s = scenario("pekalongan", 200, "2026-03")
    kinds: dict[str, set[str]] = {}
    for ev in s.evidence:
        kinds.setdefault(ev.activity_id, set()).add(ev.kind)
    by_kind = Counter(a.kind for a in s.activities)
    assert set(by_kind) == {"rapat", "lapangan", "dokumen"}
    for a in s.activities:
        if a.kind == "rapat":
            assert {"undangan", "dokumentasi"} <= kinds[a.id] and kinds[a.id] & {"notulen", "tindak_lanjut"}
        elif a.kind == "lapangan":
            assert kinds[a.id] == {"foto"}
    look = Look(s)
    photos = [ev for ev in s.evidence if ev.kind == "foto"]
    assert photos and all(ev.captured_at and ev.captured_at.astimezone(WIB).date()
                          == look.activities[ev.activity_id].date for ev in photos)
    assert {a.nip for a in s.attendance} == {e.nip for e in s.employees}
    assert s.programmes and any(p.realisation < p.target for p in s.programmes)
    assert any(p.realisation >= p.target for p in s.programmes)


def test_dki_has_about_21_activities_per_employee_month_inside_the_input_window() -> None:
    s = scenario("dki", 200, "2026-03")
    per_nip = Counter(a.nip for a in s.activities)
    assert 19 <= sum(per_nip.values()) / len(per_nip) <= 23
    eselon_ii = {e.nip for e in s.employees if (e.eselon or "").startswith("II.")}
    assert eselon_ii and not eselon_ii & set(per_nip)  # sundulan: eselon II heads enter nothing
    for a in s.activities:
        entered = a.entered_at.astimezone(WIB)
        assert entered.time() >= time(15) or entered.time() < time(8)


def test_a_quarter_produces_three_months() -> None:
    s = scenario("pekalongan", 40, "2026-Q1")
    months = ("2026-01", "2026-02", "2026-03")
    assert s.period == "2026-Q1"
    assert Counter(p.period for p in s.plans) == dict.fromkeys(months, 40)
    assert {a.date.strftime("%Y-%m") for a in s.activities} == set(months)
    assert Counter(a.period for a in s.attendance) == dict.fromkeys(months, 40)
    assert {p.period for p in s.programmes} == set(months)


# bad data -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tenant", TENANTS)
def test_each_kind_of_bad_data_appears_at_a_high_share(tenant: str) -> None:
    out = io.BytesIO()
    stats = generate(tenant, 200, "2026-03", 3, 0.5, out)
    look = Look(Scenario.model_validate_json(out.getvalue()))
    for kind in applicable(tenant):
        assert stats.injected[kind] > 0, kind
        assert getattr(look, kind)() > 0, kind
    assert set(+stats.injected) <= set(applicable(tenant))


def test_one_kind_can_be_set_on_its_own() -> None:
    out = io.BytesIO()
    stats = generate("metro", 60, "2026-03", 1, 0.0, out, bad={"late_evidence": 1.0})
    look = Look(Scenario.model_validate_json(out.getvalue()))
    assert look.late_evidence() == len(look.s.evidence) == stats.injected["late_evidence"]
    assert set(+stats.injected) == {"late_evidence"}
    # late across holidays: Nyepi, Idul Fitri and their cuti bersama (18-24 March 2026) sit in the SLA window
    across = [ev for ev in look.s.evidence
              if (CALENDAR.deadline(look.activities[ev.activity_id].date, 3).date()
                  - look.activities[ev.activity_id].date).days > 5]
    assert across


def test_some_evidence_is_in_time_only_because_cuti_bersama_are_not_working_days() -> None:
    s = scenario("metro", 60, "2026-03")
    look = Look(s)
    saved = [ev for ev in s.evidence
             if ev.uploaded_at > datetime.combine(add_working_days(look.activities[ev.activity_id].date, 3, PUBLIC),
                                                  time(23, 59, 59), tzinfo=WIB)]
    assert saved and look.late_evidence() == 0
    assert any(ev.uploaded_at.astimezone(WIB).time() == time(23, 59, 59) for ev in s.evidence)


def test_unknown_kind_or_share_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown bad-data kind"):
        generate("metro", 5, "2026-03", out=io.BytesIO(), bad={"typo": 0.1})
    with pytest.raises(ValueError, match="between 0 and 1"):
        generate("metro", 5, "2026-03", bad_share=1.5, out=io.BytesIO())


# streaming ------------------------------------------------------------------------------------------------------
class _Counting(io.RawIOBase):
    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[no-untyped-def]
        self.size += len(data)
        return len(data)


def test_records_are_streamed_not_held() -> None:
    records = iter_records("dki", 100, "2026-03")
    assert inspect.isgenerator(records)
    assert next(records)[0] == "scenario"
    generate("dki", 20, "2026-03", 1, 0.05, _Counting())  # warm up: the signed pool and imports, made once
    peaks = {}
    for n in (200, 800):
        sink = _Counting()
        tracemalloc.start()
        generate("dki", n, "2026-03", 1, 0.05, sink)
        peaks[n] = (tracemalloc.get_traced_memory()[1], sink.size)
        tracemalloc.stop()
    (small_peak, small_size), (big_peak, big_size) = peaks[200], peaks[800]
    # four times the employees: about four times the output, but memory grows only with the org chart (about
    # 1.3 kB an employee); the rest is a fixed few MB of write buffers
    assert big_size > 3.5 * small_size
    assert big_peak - small_peak < (big_size - small_size) / 10
    assert big_peak < 64 * 2**20  # a fixed few MB of buffers plus the org chart, not the output


def test_writer_refuses_records_out_of_section_order() -> None:
    writer = ScenarioWriter(io.BytesIO().write)
    with pytest.raises(ValueError, match="first"):
        writer.add("unit", {"id": "A"})
    writer.add("scenario", {"tenant": "metro"})
    writer.add("employee", {"nip": "1"})
    with pytest.raises(ValueError, match="after their section was closed"):
        writer.add("unit", {"id": "A"})


# CLI and the whole cycle ----------------------------------------------------------------------------------------
def test_cli_writes_what_the_api_writes(tmp_path: Path) -> None:
    out = tmp_path / "metro.json"
    result = CliRunner().invoke(app, ["mock", "generate", "--tenant", "metro", "--employees", "60", "--period",
                                      "2026-03", "--seed", "1", "--bad-share", "0", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == made("metro", 60, "2026-03")
    result = CliRunner().invoke(app, ["mock", "generate", "-t", "metro", "-n", "5", "-p", "2026-03",
                                      "--bad", "late_evidence=0.5", "--bad", "typo=1"])
    assert result.exit_code == 2


def test_generated_metro_month_runs_through_the_whole_cycle(tmp_path: Path) -> None:
    s = scenario("metro", 60, "2026-03")
    pipeline = build_mock_pipeline(Settings(database_url=f"sqlite:///{tmp_path}/g.db"), MockWorld(s))
    pipeline.cycle("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        results = repo.load_results(conn, "metro", "2026-03")
        quarantined = repo.list_quarantine(conn, "metro", "2026-03")
    assert {r.nip for r in results} == {e.nip for e in s.employees} and not quarantined
    refused = [line for r in results for line in r.lines if line.code.startswith("refused:")]
    assert not refused
    assert sum(r.amount > 0 for r in results) == len(results) - 1  # all but the Sekda, who enters nothing
