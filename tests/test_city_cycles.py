"""Whole cycles on the bundled Pekalongan (March 2026) and DKI (2026-Q1, paid quarterly) scenarios, through the
pipeline (SQLite and PostgreSQL) and the CLI, with amounts computed by hand.

The scenarios are built by mocks/pekalongan_scenario.py and mocks/dki_scenario.py; employees are named by their case
there. Ceilings are the shipped placeholders (kelas 6 Rp 2,700,000; 7 Rp 3,000,000; 8 Rp 3,400,000; 12 Rp 6,200,000;
14 Rp 8,900,000; 15 Rp 10,800,000); DKI's point value Rp 9,000, position factors 1, base points 1, monthly maxima from
the 2015 table.
"""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from math import floor
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.bootstrap import build_mock_pipeline
from gateway.cli import app
from gateway.domain import ResultStatus
from gateway.settings import Settings
from gateway.store import repository as repo
from gateway.store.tables import outbox, records
from mocks import MockWorld, Scenario, dki_scenario, pekalongan_scenario
from tests.conftest import FakeClock

runner = CliRunner()
PEKALONGAN = Scenario.bundled("pekalongan")
DKI = Scenario.bundled("dki")
P = pekalongan_scenario.cases()
D = dki_scenario.cases()


def no_sleep(_seconds: float) -> None:
    raise AssertionError("the cycle on healthy mocks should never wait")


def _cycle(db_url: str, scenario: Scenario, clock: FakeClock, world: MockWorld | None = None):  # type: ignore[no-untyped-def]
    world = world or MockWorld(scenario)
    pipeline = build_mock_pipeline(Settings(database_url=db_url), world, clock=clock, sleep=no_sleep)
    report = pipeline.cycle(scenario.tenant, scenario.period)
    with pipeline.engine.connect() as conn:
        results = {r.nip: r for r in repo.load_results(conn, scenario.tenant, scenario.period)}
        quarantined = repo.list_quarantine(conn, scenario.tenant, scenario.period)
    return pipeline, world, report, results, quarantined


def _codes(results) -> Counter[str]:  # type: ignore[no-untyped-def]
    return Counter(line.code for r in results.values() for line in r.lines)


def _booked(world: MockWorld) -> Counter[str]:
    booked: Counter[str] = Counter()
    for booking in world.payroll.ledger:
        booked[booking.nip] += booking.amount
    return booked


def test_bundled_city_scenarios_are_what_the_builders_make() -> None:
    assert pekalongan_scenario.build() == PEKALONGAN
    assert dki_scenario.build() == DKI
    assert (PEKALONGAN.tenant, PEKALONGAN.period, DKI.tenant, DKI.period) == ("pekalongan", "2026-03", "dki", "2026-Q1")
    assert 28 <= len(PEKALONGAN.employees) <= 32 and 26 <= len(DKI.employees) <= 32
    assert {a.date.month for a in DKI.activities} == {1, 2, 3}
    size = max(Path(p).stat().st_size for p in (pekalongan_scenario.SCENARIOS / "dki-2026-Q1.json",
                                                 pekalongan_scenario.SCENARIOS / "pekalongan-2026-03.json"))
    assert size < 1_500_000
    groups = {e.position_group for e in DKI.employees}
    assert groups >= {"pelayanan", "operasional", "administrasi", "teknis", "lurah", "camat", "kepala_biro",
                      "kepala_dinas", "kepala_badan"}
    window = [a.entered_at.astimezone(dki_scenario.WIB).time() for a in DKI.activities]
    inside = sum(1 for t in window if t.hour >= 15 or t.hour < 8)
    assert inside / len(window) > 0.99


# Pekalongan ---------------------------------------------------------------------------------------------------------
PEKALONGAN_AMOUNTS = {
    # The Sekda: no KPI plan -> K = 0; late once 40 min -> 1%, D = 0.99; the Setda has no sekretariat and met its
    # programme, C = 0.  10,800,000 x (0.6 x 0 + 0.4 x 0.99) x (1 - 0) = 10,800,000 x 0.396
    "sekda": 4_276_800,
    # Kadis DPUPR: K = 0.6 x 3/4 + 0.4 x 2/2 = 0.85; late once 20 min -> 0.5%, D = 0.995; Bina Marga and Sumber Daya
    # Air each missed a programme -> C = 2 x 5% = 10%.
    # 8,900,000 x (0.6 x 0.85 + 0.4 x 0.995) x (1 - 0.10) = 8,900,000 x 0.908 x 0.9 = 8,900,000 x 0.8172
    "dpu_kadis": 7_273_080,
    # Sekretaris DPUPR (heads the "Sekretariat ..." unit): K = 1, D = 1, C = 2 x 5%.  6,200,000 x 1 x 0.9
    "dpu_sekretaris": 5_580_000,
    # Kepala Bidang Bina Marga: K = 1, D = 1, one missed programme of his bidang.  6,200,000 x 0.95
    "bina_marga_kabid": 5_890_000,
    # Sekretaris of Diskominfo and acting head of the Bidang Aplikasi Informatika, which missed one programme: loses
    # 5% once though holding both roles; early leave 45 min -> 1%, D = 0.99; K = 1.
    # 6,200,000 x (0.6 x 1 + 0.4 x 0.99) x (1 - 0.05) = 6,200,000 x 0.996 x 0.95 = 6,200,000 x 0.9462
    "acting_head": 5_866_440,
    # Kadis Diskominfo: the same missed programme, as head of the OPD.  8,900,000 x 1 x 0.95
    "kominfo_kadis": 8_455_000,
    # Kadis DLH: five programmes of the Bidang Pengelolaan Sampah missed -> 25%, capped at 20%.  8,900,000 x 0.8
    "dlh_kadis": 7_120_000,
    # Field work: 2 of 4 surveys count (photos without coordinates, in Batang, taken the day before, and none at all
    # are refused), 2 of 2 reports: K = 0.6 x 2/4 + 0.4 x 2/2 = 0.7; D = 1.  3,000,000 x (0.6 x 0.7 + 0.4 x 1)
    "lapangan": 2_460_000,
    # Meetings: 2 of 3 count (the third has no notulen nor tindak lanjut), 2 of 2 releases:
    # K = 0.5 x 2/3 + 0.5 x 2/2 = 5/6.  3,000,000 x (0.6 x 5/6 + 0.4 x 1) = 3,000,000 x 0.9
    "rapat": 2_700_000,
    # Every step: late 30 (0.5%), 31 and 60 (1% each), 61 and 90 (1.25% each), 91 (1.5%); early leave 15 (0.5%);
    # one missing record (1.5%); one day absent (3%): 11.5%, D = 0.885; K = 1.
    # 3,400,000 x (0.6 x 1 + 0.4 x 0.885) = 3,400,000 x 0.954
    "deduction_steps": 3_243_600,
    # 35 days absent x 3% = 105% -> D floored at 0; K = 0.5 x 1/2 + 0.5 x 1/2 = 0.5.
    # 2,700,000 x (0.6 x 0.5 + 0.4 x 0) = 2,700,000 x 0.3
    "d_floor": 810_000,
    # K = 0.7 x 2/3 + 0.3 x 3/7 = 25/42; D = 1.  3,400,000 x (0.6 x 25/42 + 0.4) = 3,400,000 x 53/70
    # = 2,574,285.71..., rounded down once
    "rounding": 2_574_285,
}


def test_pekalongan_cycle_pays_the_hand_computed_amounts(db_url: str, clock: FakeClock) -> None:
    _, world, report, results, quarantined = _cycle(db_url, PEKALONGAN, clock)
    for case, amount in PEKALONGAN_AMOUNTS.items():
        assert results[P[case]].amount == amount, case
    assert results[P["dlh_kadis"]].metrics["C"] == "1/5"
    assert results[P["tte_not_required"]].metrics["K"] == "3/4"  # foreign and unsigned TTE count at Pekalongan
    acting = [line for line in results[P["acting_head"]].lines if line.code == "joint-liability"]
    assert len(acting) == 1 and "once, though holding two roles" in acting[0].text
    assert {q["rule"] for q in quarantined} == {"no-attendance-summary", "weights-sum-100", "unknown-unit",
                                                "programme-unit"}
    held = {q["record_id"].split("/")[0] for q in quarantined}
    assert held >= {P["no_attendance"], P["bad_weights"], P["unknown_unit"]}
    codes = _codes(results)
    for code in ("refused:missing-evidence", "refused:no-geotagged-photo", "refused:late-evidence",
                 "refused:hash-mismatch", "refused:wrong-approver", "refused:not-approved", "refused:rejected",
                 "refused:no-evidence", "refused:unknown-indicator", "no-plan", "deduction:late",
                 "deduction:early-leave", "deduction:no-record", "deduction:absence", "deduction-floor",
                 "joint-liability", "joint-liability-cap"):
        assert codes[code] >= 1, code
    assert codes["refused:no-geotagged-photo"] == 4 and codes["joint-liability-cap"] == 3
    assert report.verify.checked == len(PEKALONGAN.evidence)
    assert all(isinstance(r.amount, int) and 0 <= r.amount <= r.ceiling for r in results.values())
    assert _booked(world) == {nip: r.amount for nip, r in results.items() if r.amount > 0}
    assert set(world.payroll.booked().values()) == {1}


# DKI ----------------------------------------------------------------------------------------------------------------
DKI_AMOUNTS = {
    # Service level (maximum Rp 4,005,000 = 445 points x Rp 9,000). January: 40 counted, among them one entered at
    # 15:00:00, one at 07:59:59 the next morning and one of 30 January entered on 2 February (January's); the
    # entries at 08:00:00 and 10:30 are refused. February 40; March 445, exactly the maximum.
    # 40 x 9,000 + 40 x 9,000 + 445 x 9,000 = 360,000 + 360,000 + 4,005,000
    "window": 4_725_000,
    # 45 x 9,000 + min(460 x 9,000 = 4,140,000, 4,005,000) + 60 x 9,000 = 405,000 + 4,005,000 + 540,000
    "over_max": 4_950_000,
    # Operational level: 30 counted a month (one approved by the kepala dinas, one never approved, one rejected,
    # all in February, refused).  90 x 9,000
    "approvals": 810_000,
    # Kepala Badan (maximum Rp 31,455,000), sundulan over the Bidang Pajak Daerah: the kepala bidang (camat group,
    # 2,220 points) 37 a month = 1/60; the counter staff 445, 89, 89 of 445 = 1, 1/5, 1/5.
    # Means: (1/60 + 1)/2 = 61/120, (1/60 + 1/5)/2 = 13/120, 13/120.
    # 31,455,000 x (61 + 13 + 13)/120 = 31,455,000 x 87/120
    "kaban": 22_804_875,
    # Kepala Biro Organisasi (maximum Rp 27,900,000), sundulan over the Bagian Kelembagaan: the kepala bagian 1/60;
    # the operator (operational, 645 points) 43, 43, 645 = 1/15, 1/15, 1.
    # Means: (1/60 + 1/15)/2 = 1/24, 1/24, (1/60 + 1)/2 = 61/120.  27,900,000 x (5 + 5 + 61)/120 = 27,900,000 x 71/120
    "kabiro_organisasi": 16_507_500,
    # Kepala Biro Pemerintahan: nobody in the biro -> 0 each month.
    "kabiro_pemerintahan": 0,
    # On leave all quarter: no activity.
    "on_leave": 0,
}


def test_dki_quarter_pays_the_hand_computed_amounts_once_per_employee(db_url: str, clock: FakeClock) -> None:
    pipeline, world, report, results, quarantined = _cycle(db_url, DKI, clock)
    for case, amount in DKI_AMOUNTS.items():
        assert results[D[case]].amount == amount, case
    assert results[D["over_max"]].metrics["attainment:2026-02"] == "1"
    assert results[D["window"]].metrics["points:2026-03"] == "445"
    assert results[D["kaban"]].metrics["attainment:2026-01"] == "61/120"
    assert results[D["kabiro_pemerintahan"]].status is ResultStatus.NOTHING
    assert [line.code for line in results[D["kabiro_pemerintahan"]].lines].count("sundulan-no-employees") == 3
    window = [line for line in results[D["window"]].lines if line.code == "refused:outside-window"]
    assert len(window) == 2 and any("T08:00:00+07:00" in line.text for line in window)
    kadis = results[D["kadis"]]
    assert "1 quarantined employees left out" in next(line.text for line in kadis.lines if line.code == "sundulan")

    # The wali kota's sundulan is not a round number: the quarter's exact sum, rounded down once.
    maxima = {"pelayanan": 445, "camat": 2220, "lurah": 1465}  # points at Rp 9,000
    members = {"camat": ("camat", (20, 20, 20)), "petugas_kecamatan": ("pelayanan", (45, 445, 45)),
               "lurah": ("lurah", (20, 20, 20)), "petugas_kelurahan": ("pelayanan", (45, 45, 445))}
    means = [sum(min(Fraction(counts[m], maxima[group]), Fraction(1)) for group, counts in members.values()) / 4
             for m in range(3)]
    assert results[D["walikota"]].amount == floor(31_455_000 * sum(means)) == 19_442_941

    codes = _codes(results)
    for code in ("month", "refused:outside-window", "refused:wrong-approver", "refused:not-approved",
                 "refused:rejected", "refused:sundulan-head", "sundulan", "sundulan-no-employees"):
        assert codes[code] >= 1, code
    assert Counter(q["rule"] for q in quarantined) == {"unknown-position-group": 2, "unknown-unit": 1,
                                                       "wire-format": 1}
    assert {q["period"] for q in quarantined} == {"2026-Q1", "2026-02"}  # the bad activity came with February

    # Pulled and verified month by month; computed and paid under the quarter's label; the candidate for merging or
    # closure on the event feed.
    with pipeline.engine.connect() as conn:
        events = [e for (payload,) in conn.execute(select(outbox.c.payload).where(
            outbox.c.tenant == "dki", outbox.c.destination == "feed")) for e in payload["events"]]
        periods = {p for (p,) in conn.execute(select(records.c.period).where(
            records.c.tenant == "dki", records.c.kind == "activity").distinct())}
        assert repo.load_results(conn, "dki", "2026-01") == []
    assert periods == {"2026-01", "2026-02", "2026-03"}
    closure = [e for e in events if e["type"] == "id.go.tpp.unit.closure-candidate"]
    assert [e["subject"] for e in closure] == [dki_scenario.closure_candidate()]
    assert closure[0]["data"]["period"] == "2026-Q1" and len(closure[0]["data"]["mean_attainment"]) == 3
    assert report.verify.checked == len(DKI.evidence)
    assert {r.period for r in results.values()} == {"2026-Q1"}
    assert {b.request.period for b in world.payroll.batches.values()} == {"2026-Q1"}
    lines = Counter(b.nip for b in world.payroll.ledger)
    assert set(lines.values()) == {1}  # one payroll line per employee for the quarter
    assert _booked(world) == {nip: r.amount for nip, r in results.items() if r.amount > 0}
    assert D["on_leave"] not in lines and len(lines) == 23

    # A second cycle changes nothing and sends payroll nothing again.
    submissions = world.payroll.submissions
    clock.advance(hours=1)
    _, _, again, results_again, _ = _cycle(db_url, DKI, clock, world)
    assert results_again == results and again.compute.batches == [] and again.relay.claimed == 0
    assert world.payroll.submissions == submissions and len(world.payroll.ledger) == 23


def test_dki_unit_report_flags_the_one_unit_below_half_all_quarter(db_url: str, clock: FakeClock) -> None:
    from gateway.mappings.dki import DkiSettings, unit_report

    pipeline, *_ = _cycle(db_url, DKI, clock)
    with pipeline.engine.connect() as conn:
        data = repo.load_period(conn, "dki", "2026-Q1")
    report = unit_report(data, DkiSettings.model_validate(Settings().tenants["dki"].settings))
    candidate = dki_scenario.closure_candidate()
    assert [c.unit_id for c in report.candidates] == [candidate]
    assert all(m < Fraction(1, 2) for m in report.candidates[0].attainments)
    measured = {row.unit_id for row in report.rows if row.headcount}
    assert len(measured) == 7  # every other measured unit has a month at half or above
    for unit in measured - {candidate}:
        assert max(row.mean_attainment for row in report.rows if row.unit_id == unit) >= Fraction(1, 2)


# CLI ----------------------------------------------------------------------------------------------------------------
def _cli(db: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env={"GATEWAY_DATABASE_URL": f"sqlite:///{db}"})


def test_cli_demo_pekalongan(tmp_path: Path) -> None:
    shown = _cli(tmp_path / "g.db", "demo", "--tenant", "pekalongan")
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "pekalongan 2026-03" in text and "paid monthly" in text
    assert "results computed │ 28" in text and "quarantined records │ 4" in text
    assert "payroll batches acknowledged │ 4 of 4" in text and "dead letters │ 0" in text


@pytest.fixture(scope="module")
def dki_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("dki") / "g.db"
    shown = _cli(db, "demo", "--tenant", "dki")
    return db, shown.output if shown.exit_code == 0 else f"exit {shown.exit_code}: {shown.output}"


def test_cli_demo_dki_summarises_the_quarter(dki_demo: tuple[Path, str]) -> None:
    _, output = dki_demo
    text = " ".join(output.split())
    assert "dki 2026-Q1 (paid quarterly)" in text, output
    assert "results computed │ 25" in text and "paid nothing │ 2" in text and "quarantined records │ 4" in text
    assert "payroll batches acknowledged │ 4 of 4" in text and "payroll lines sent │ 23" in text


def test_cli_report_dki_flags_the_closure_candidate(dki_demo: tuple[Path, str]) -> None:
    db, _ = dki_demo
    public = _cli(db, "report", "-t", "dki", "-p", "2026-Q1", "-f", "json")
    assert public.exit_code == 0, public.output
    assert json.loads(public.output)["candidates"] == []  # merge/closure candidates only for --audience internal
    shown = _cli(db, "report", "-t", "dki", "-p", "2026-Q1", "-f", "json", "--audience", "internal")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert [c["unit"] for c in data["candidates"]] == ["Bidang Pengelolaan Informasi Administrasi Kependudukan"]
    assert len(data["candidates"][0]["attainments"]) == 3
    assert [m["month"] for m in data["units"]] == ["2026-01", "2026-02", "2026-03"]
    for month in data["units"]:  # the small units folded: every shown one has 5 or more members
        assert all(u["headcount"] >= 5 for u in month["rows"])
        assert month["total"]["headcount"] == sum(u["headcount"] for u in month["rows"]) + (
            month["other"]["headcount"] if month["other"] else 0)


def test_cli_outbox_list_shows_payroll_verdict_and_feed_rows(dki_demo: tuple[Path, str]) -> None:
    db, _ = dki_demo
    shown = _cli(db, "outbox", "list", "-t", "dki")
    assert shown.exit_code == 0, shown.output
    rows = json.loads(_cli(db, "outbox", "list", "-t", "dki", "--json").output)
    assert Counter(r["destination"] for r in rows)["payroll"] == 4
    assert {r["destination"] for r in rows} == {"payroll", "spbe", "feed"}
