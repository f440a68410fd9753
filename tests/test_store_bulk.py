"""The store's bulk paths (issue 5): staging, the trusted reader, the period in parts, and computing in parts.

Each is held to what it replaces: `load_period` to validating every payload (the previous reader, kept here as the
reference), `iter_period` to `load_period` (the parts hold exactly the whole), `compute_in_parts` to `compute`.
Generated scenarios with every kind of bad data feed them; they run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, select

from bench._staging import stage_generated
from gateway.domain import Activity, BankAccount, Employee, EvidenceCheck, Period, PeriodData, Position, Unit
from gateway.errors import UnknownKind
from gateway.mappings import DkiScheme, MetroScheme, PekalonganScheme, compute_in_parts, get_scheme, plan_parts
from gateway.mappings.dki import _is_head, _subtree
from gateway.store import repository as repo
from gateway.store.tables import evidence_checks, records

NOW = datetime(2026, 4, 2, 1, 0, tzinfo=UTC)
FIELDS = ("units", "employees", "indicators", "activities", "evidence", "approvals", "checks", "attendance",
          "programmes", "positions")


def reference_load(engine: Engine, tenant: str, period: str) -> PeriodData:
    """The reader as it was: the JSON column decoded by SQLAlchemy, every payload validated."""
    months = Period.parse(period).months()
    with engine.connect() as conn:
        def kind(name: str, by_period: bool = True) -> tuple[Any, ...]:
            query = select(records.c.payload).where(records.c.tenant == tenant, records.c.kind == name)
            if by_period:
                query = query.where(records.c.period.in_(months))
            return tuple(repo.KINDS[name].model_validate(p) for (p,) in conn.execute(query.order_by(records.c.id)))

        checks = tuple(EvidenceCheck(evidence_id=r.evidence_id, actual_sha256=r.actual_sha256, tte=r.tte,
                                     tte_description=r.tte_description)
                       for r in conn.execute(select(evidence_checks).where(
                           evidence_checks.c.tenant == tenant, evidence_checks.c.period.in_(months))))
        return PeriodData(tenant=tenant, period=period, units=kind("unit", False), employees=kind("employee", False),
                          indicators=kind("indicator"), activities=kind("activity"), evidence=kind("evidence"),
                          approvals=kind("approval"), checks=checks, attendance=kind("attendance"),
                          programmes=kind("programme"), positions=kind("position", False))


def same_records(ours: tuple[BaseModel, ...], theirs: tuple[BaseModel, ...]) -> None:
    assert ours == theirs
    for a, b in zip(ours, theirs, strict=True):
        assert repr(a) == repr(b)  # types too: Decimal, date, pydantic's TzInfo, tuples, enums
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__
        assert a.model_dump() == b.model_dump()


SCENARIOS = [("metro", 150, "2026-03"), ("dki", 150, "2026-Q1"), ("pekalongan", 120, "2026-03")]


@pytest.fixture(params=SCENARIOS, ids=[s[0] for s in SCENARIOS])
def staged(request: pytest.FixtureRequest, engine: Engine) -> tuple[Engine, str, str]:
    tenant, employees, period = request.param
    stage_generated(engine, tenant, employees, period, seed=3, bad_share=0.05, chunk=700, now=lambda: NOW)
    with engine.begin() as conn:  # a position history: dates, an eselon, an acting assignment with its end
        people = repo.staged(conn, tenant, "employee")[:40]
        repo.stage(conn, tenant, "position", [Position(
            id=f"J{n:04d}", nip=e.nip, unit_id=e.unit_id, post=e.position, kind="struktural" if e.eselon else
            "pelaksana", eselon=e.eselon, start=date(2020, 1, 1 + n % 28), acting=n % 7 == 0,
            end=date(2026, 3, 20) if n % 7 == 0 else None) for n, e in enumerate(people)], None, NOW)
    return engine, tenant, period


def test_load_period_rebuilds_exactly_what_validation_gives(staged: tuple[Engine, str, str]) -> None:
    engine, tenant, period = staged
    expected = reference_load(engine, tenant, period)
    with engine.connect() as conn:
        ours = repo.load_period(conn, tenant, period)
        assert repo.staged(conn, tenant, "activity", period) == list(expected.activities)
    assert ours.model_copy(update={"checks": ()}) == expected.model_copy(update={"checks": ()})
    assert ours.__pydantic_fields_set__ == expected.__pydantic_fields_set__
    for name in FIELDS:
        if name == "checks":  # no order was ever promised for checks
            same_records(tuple(sorted(ours.checks, key=lambda c: c.evidence_id)),
                         tuple(sorted(expected.checks, key=lambda c: c.evidence_id)))
        else:
            same_records(getattr(ours, name), getattr(expected, name))
    assert ours.activities and (tenant != "metro" or ours.checks)


def test_kinds_leave_the_others_empty(staged: tuple[Engine, str, str]) -> None:
    engine, tenant, period = staged
    with engine.connect() as conn:
        whole = repo.load_period(conn, tenant, period)
        some = repo.load_period(conn, tenant, period, kinds={"unit", "activity"})
        with pytest.raises(UnknownKind, match="unknown kinds"):
            repo.load_period(conn, tenant, period, kinds={"activities"})
    assert some.units == whole.units and some.activities == whole.activities
    assert some.employees == some.approvals == some.checks == ()


def test_parts_hold_exactly_the_whole(staged: tuple[Engine, str, str]) -> None:
    engine, tenant, period = staged
    with engine.connect() as conn:
        whole = repo.load_period(conn, tenant, period)
        nips = sorted({e.nip for e in whole.employees})
        groups = [nips[i::3] for i in range(3)]  # any groups: interleaved on purpose
        parts = list(repo.iter_period(conn, tenant, period, groups))
    assert len(parts) == 3
    for part, group in zip(parts, groups, strict=True):
        assert part.units == whole.units and part.programmes == whole.programmes
        assert part.positions == whole.positions and whole.positions  # a supervisor's history beside their staff's
        assert {e.nip for e in part.employees} == set(group)
        if part is not parts[0]:  # records of no group's NIP, and orphans, go with the first part
            assert {a.nip for a in part.activities} <= set(group)
            own = {a.id for a in part.activities}
            assert all(r.activity_id in own for r in (*part.evidence, *part.approvals))
    for name in FIELDS:
        if name in ("units", "programmes", "positions"):
            continue
        position = {key(r): i for i, r in enumerate(getattr(whole, name))}
        together = [key(r) for part in parts for r in getattr(part, name)]
        assert sorted(together) == sorted(position), name  # the same records, each once
        for part in parts:
            order = [position[key(r)] for r in getattr(part, name)]
            assert name == "checks" or order == sorted(order), name  # each part in the whole's order
        assert all(r == whole_r for part in parts for r in getattr(part, name)
                   for whole_r in [getattr(whole, name)[position[key(r)]]])


def key(record: BaseModel) -> tuple[str, ...]:
    return tuple(str(getattr(record, f, "")) for f in ("id", "evidence_id", "nip", "period"))


@pytest.mark.parametrize("scheme", [MetroScheme(), DkiScheme()], ids=["metro", "dki"])
def test_computing_in_parts_gives_the_same_outcome(engine: Engine, scheme: Any) -> None:
    # DKI: enough employees for several OPDs (the first, the Sekretariat Daerah, takes a few hundred)
    tenant, employees, period, most = ("metro", 150, "2026-03", 40) if scheme.name == "metro" else (
        "dki", 900, "2026-03", 150)
    stage_generated(engine, tenant, employees, period, seed=5, bad_share=0.05, now=lambda: NOW)
    config = scheme.settings_model()
    with engine.connect() as conn:
        whole = scheme.compute(repo.load_period(conn, tenant, period), config)
        groups = plan_parts(scheme, repo.staged(conn, tenant, "unit"), repo.staged(conn, tenant, "employee"),
                            config, most)
        assert groups is not None and len(groups) > 2
        in_parts = compute_in_parts(scheme, repo.iter_period(conn, tenant, period, groups, kinds=scheme.inputs),
                                    config)
        at_once = compute_in_parts(scheme, repo.iter_period(conn, tenant, period, None, kinds=scheme.inputs),
                                   config)
    assert whole.results and whole.problems
    assert in_parts.results == whole.results and in_parts.problems == whole.problems
    assert at_once.results == whole.results and at_once.problems == whole.problems


def test_a_scheme_without_parts_is_computed_whole(staged: tuple[Engine, str, str]) -> None:
    engine, tenant, period = staged
    scheme = get_scheme(tenant)
    config = scheme.settings_model()
    with engine.connect() as conn:
        units, employees = repo.staged(conn, tenant, "unit"), repo.staged(conn, tenant, "employee")
        assert plan_parts(scheme, units, employees, config, None) is None
        assert plan_parts(scheme, units, employees, config, 10_000) is None  # small enough
        if isinstance(scheme, PekalonganScheme):
            assert plan_parts(scheme, units, employees, config, 10) is None  # joint liability: never split
            with pytest.raises(ValueError, match="cannot compute a period in 2 parts"):
                compute_in_parts(scheme, [repo.load_period(conn, tenant, period)] * 2, config)


def test_dki_parts_keep_each_sundulan_subtree_together(engine: Engine) -> None:
    stage_generated(engine, "dki", 900, "2026-03", seed=2, bad_share=0.05, now=lambda: NOW)
    scheme = DkiScheme()
    config = scheme.settings_model()
    with engine.connect() as conn:
        units, employees = repo.staged(conn, "dki", "unit"), repo.staged(conn, "dki", "employee")
    groups = plan_parts(scheme, units, employees, config, 150)
    assert groups is not None and len(groups) > 2
    part_of = {nip: i for i, group in enumerate(groups) for nip in group}
    assert sorted(part_of) == sorted({e.nip for e in employees})  # every NIP in exactly one group
    children: dict[str, list[str]] = {}
    for unit in units:
        children.setdefault(unit.parent_id or "", []).append(unit.id)
    heads = [e for e in employees if _is_head(e, config)]
    assert heads
    for head in heads:
        below = _subtree(children, head.unit_id)
        assert {part_of[e.nip] for e in employees if e.unit_id in below} == {part_of[head.nip]}


# the trusted reader -------------------------------------------------------------------------------------------------
def test_payloads_in_another_form_are_validated_in_full() -> None:
    rebuild = repo._rebuild("activity")
    good = {"id": "A-1", "nip": "198503122010011004", "indicator_id": "I-1", "day": "2026-03-02",
            "quantity": "1.50", "kind": "dokumen", "description": "", "entered_at": "2026-03-02T15:30:00+07:00"}
    assert rebuild(good) == Activity.model_validate(good)
    older = {k: v for k, v in good.items() if k != "description"}  # a field added since: its default
    assert rebuild(older) == Activity.model_validate(older)
    for bad in ({**good, "extra": 1}, {**good, "entered_at": "2026-03-02T15:30:00"}, {**good, "day": None},
                {**good, "quantity": "many"}):
        with pytest.raises(ValidationError):
            rebuild(bad)
    # What was validated on the way in is trusted: constraints are not checked again (stage never wrote these)
    assert rebuild({**good, "quantity": "-1"}).quantity == -1
    number = {**good, "quantity": 2}  # a number, not text as stage writes it: validation decides
    assert rebuild(number) == Activity.model_validate(number)


def test_every_kind_of_field_has_a_reader_or_fails_loudly() -> None:
    class Odd(BaseModel):
        model_config = {"frozen": True}
        ratio: float

    with pytest.raises(TypeError, match="has no trusted reader"):
        repo._Rebuild(Odd)


# staging --------------------------------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_canonical_json_is_byte_for_byte_the_standard_librarys(payload: dict[str, Any]) -> None:
    assert repo._canonical(payload) == json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def test_stage_counts_hashes_and_reads_back(engine: Engine) -> None:
    def unit(i: int, name: str = "Dinas") -> Unit:
        return Unit(id=f"U{i:03d}", name=f"{name} {i} ✓ \x7f", parent_id=None if i == 0 else "U000")

    with engine.begin() as conn:
        assert repo.stage(conn, "t", "unit", [unit(i) for i in range(6)], None, NOW) == repo.StageCount(new=6)
    again = [unit(0), unit(1, "Badan"), unit(2), unit(9)]
    with engine.begin() as conn:
        assert repo.stage(conn, "t", "unit", again, None, NOW) == repo.StageCount(new=1, changed=1, unchanged=2)
        # the same id twice in one call: counted against what was staged before the call, as always
        twice = repo.stage(conn, "t", "unit", [unit(3, "Biro"), unit(3, "Biro"), unit(4)], None, NOW)
        assert twice == repo.StageCount(new=0, changed=2, unchanged=1)
    with engine.connect() as conn:
        rows = conn.execute(select(records.c.id, records.c.payload, records.c.content_hash, records.c.staged_at)
                            .where(records.c.tenant == "t").order_by(records.c.id)).all()
        assert [r.id for r in rows] == ["U000", "U001", "U002", "U003", "U004", "U005", "U009"]
        for row in rows:
            assert row.content_hash == repo.content_hash(row.payload)
            assert row.staged_at == NOW
        assert repo.staged(conn, "t", "unit")[1] == unit(1, "Badan")
        assert repo.staged(conn, "t", "unit")[3] == unit(3, "Biro")


def test_checks_are_saved_and_read_back(engine: Engine) -> None:
    checks = [EvidenceCheck(evidence_id=f"E{i}", actual_sha256=None if i % 3 else "a" * 64,
                            tte=("VALID", "INVALID", "UNCHECKED")[i % 3], tte_description=f"d{i % 2}")
              for i in range(7)]
    with engine.begin() as conn:
        repo.save_checks(conn, "t", "2026-03", checks, NOW)
        repo.save_checks(conn, "t", "2026-03", checks[:2], NOW)
    with engine.connect() as conn:
        loaded = sorted(repo.load_checks(conn, "t", "2026-Q1"), key=lambda c: c.evidence_id)
    same_records(tuple(loaded), tuple(sorted(checks, key=lambda c: c.evidence_id)))


def test_optional_personal_fields_and_bank_accounts_round_trip(engine: Engine) -> None:
    full = Employee(nip="198507152010012002", name="Dewi", unit_id="U1", kelas_jabatan=9, nik="3375015507850001",
                    birth_date=date(1985, 7, 15), golongan="III/c")
    bare = Employee(nip="198001012005011001", name="Agus", unit_id="U1", kelas_jabatan=7)
    account = BankAccount(nip=full.nip, bank_code="002", bank_name="BANK BRI", account_number="0001234567",
                          account_name="DEWI")
    with engine.begin() as conn:
        repo.stage(conn, "t", "employee", [full, bare], None, NOW)
        repo.stage(conn, "t", "bank_account", [account], None, NOW)
    with engine.connect() as conn:
        staged = {e.nip: e for e in repo.staged(conn, "t", "employee")}
        period = repo.load_period(conn, "t", "2026-03", kinds=["employee"]).employees
        accounts = repo.load_bank_accounts(conn, "t")
        payloads = dict(conn.execute(select(records.c.id, records.c.payload).where(
            records.c.tenant == "t", records.c.kind == "employee")).all())
    # As validation of the stored payload gives them (every field set).
    full, bare = (Employee.model_validate(e.model_dump(mode="json")) for e in (full, bare))
    same_records((staged[full.nip], staged[bare.nip]), (full, bare))
    same_records(tuple(sorted(period, key=lambda e: e.nip)), (bare, full))
    same_records((accounts[full.nip],), (account,))
    assert accounts[full.nip].account_number == "0001234567"  # text: the leading zeros stay
    assert payloads[bare.nip]["birth_date"] is None and payloads[full.nip]["birth_date"] == "1985-07-15"
    # Read by the trusted builder (every field's key present), not by validating again.
    rebuild = repo._rebuild("employee")
    assert rebuild._build(payloads[full.nip])["birth_date"] == date(1985, 7, 15)
    # A payload staged before these fields existed still reads, with them unset.
    older = {k: v for k, v in payloads[bare.nip].items() if k not in ("nik", "birth_date", "golongan")}
    assert rebuild(older) == bare


def test_bank_accounts_are_no_scheme_input() -> None:
    assert "bank_account" in repo.KINDS and "bank_account" not in repo.INPUTS
    with pytest.raises(UnknownKind, match="unknown kinds"):
        repo._wanted(["bank_account"])
