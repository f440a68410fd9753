"""DKI Jakarta rules, one test per rule, with the arithmetic worked by hand.

A point is worth Rp 9,000; the 2015 monthly maxima are whole numbers of points: pelayanan 4,005,000 = 445 points,
operasional 5,805,000 = 645, administrasi 7,650,000 = 850, teknis 9,855,000 = 1,095; kepala dinas 29,925,000.
Every position factor ships as 1, so one standard job is 1 point.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain import WIB, ResultStatus
from gateway.mappings import DkiScheme, DkiSettings, get_scheme, unit_report
from gateway.mappings.dki import MAXIMA_2015
from gateway.settings import DEFAULTS_FILE
from tests._period import OPD, PeriodBuilder, make_nip

DEFAULTS = DkiSettings()
BIDANG, SEKSI = "D" * 32, "E" * 32
KADIS, KABID, KASI = make_nip(201), make_nip(202), make_nip(203)
PELAYANAN, OPERASIONAL = make_nip(204), make_nip(205)
SUPERVISOR_OF = {KABID: KADIS, KASI: KABID, PELAYANAN: KASI, OPERASIONAL: KASI}
JAN, FEB, MAR = date(2026, 1, 5), date(2026, 2, 3), date(2026, 3, 4)


def org(period: str = "2026-Q1") -> PeriodBuilder:
    """Dinas Contoh (kepala dinas, eselon II.b) > Bidang (kepala bidang, III.b) > Seksi (kepala seksi, IV.a, and
    two staff: one pelayanan, one operasional)."""
    b = PeriodBuilder(period=period, employees=[])
    b.units[0] = b.units[0].model_copy(update={"head_nip": KADIS})
    b.unit(BIDANG, "Bidang Contoh", head=KABID)
    b.unit(SEKSI, "Seksi Contoh", parent=BIDANG, level="seksi", head=KASI)
    b.employee(KADIS, OPD, kelas=14, position="Kepala Dinas", eselon="II.b", group="kepala_dinas")
    b.employee(KABID, BIDANG, supervisor=KADIS, kelas=12, position="Kepala Bidang", eselon="III.b", group="teknis")
    b.employee(KASI, SEKSI, supervisor=KABID, kelas=9, position="Kepala Seksi", eselon="IV.a", group="administrasi")
    b.employee(PELAYANAN, SEKSI, supervisor=KASI, group="pelayanan")
    b.employee(OPERASIONAL, SEKSI, supervisor=KASI, group="operasional")
    return b


def jobs(b: PeriodBuilder, nip: str, n: int, day: date = JAN, *, kind: str = "dokumen",
         approver: str | None = None, approved: bool = True, entered_at: datetime | None = None) -> list[str]:
    """n activities entered at 16:00 WIB on `day` and approved by the direct supervisor; DKI needs no evidence."""
    who = approver or SUPERVISOR_OF.get(nip)
    return [b.activity("-", day, nip=nip, approver=who, approved=approved, evidence=0, kind=kind,
                       entered_at=entered_at) for _ in range(n)]


def compute(b: PeriodBuilder, settings: DkiSettings = DEFAULTS):  # type: ignore[no-untyped-def]
    return DkiScheme().compute(b.build("dki"), settings)


def result(b: PeriodBuilder, nip: str = PELAYANAN, settings: DkiSettings = DEFAULTS):  # type: ignore[no-untyped-def]
    return next(r for r in compute(b, settings).results if r.nip == nip)


def refusals(r) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {line.refs[0]: line.code for line in r.lines if line.code.startswith("refused:")}


def month_rupiah(r) -> list[str | None]:  # type: ignore[no-untyped-def]
    return [line.rupiah for line in r.lines if line.code in ("month", "sundulan", "sundulan-no-employees")]


def with_factors(**factors: str) -> dict[str, str]:
    return {group: factors.get(group, "1") for group in MAXIMA_2015}


# staff: points ---------------------------------------------------------------------------------------------------
def test_points_times_point_value_month_by_month_paid_for_the_quarter() -> None:
    b = org()
    jobs(b, PELAYANAN, 3, JAN)
    jobs(b, PELAYANAN, 2, FEB)
    # January 3 x 9,000 = 27,000; February 2 x 9,000 = 18,000; March 0 -> one line for the quarter: 45,000
    r = result(b)
    assert (r.period, r.amount, r.ceiling, r.status) == ("2026-Q1", 45_000, 3 * 4_005_000, ResultStatus.PARTIAL)
    assert month_rupiah(r) == ["27000", "18000", "0"]


def test_base_points_and_position_factors_are_settings() -> None:
    b = org("2026-01")
    jobs(b, KABID, 1, kind="rapat")
    jobs(b, KABID, 1, kind="laporan")
    tuned = DkiSettings.model_validate({"base_points": {"rapat": "2"}, "position_factors": with_factors(teknis="1.5")})
    # (2 + 1 default) x factor 1.5 = 4.5 points x 9,000 = 40,500; with the shipped settings 2 x 9,000
    assert result(b, KABID, tuned).amount == 40_500
    assert result(b, KABID).amount == 18_000


def test_input_window_is_15_00_to_08_00_wib_with_15_00_in_and_08_00_out() -> None:
    b = org("2026-01")

    def at(hour: int, minute: int = 0, second: int = 0, day: int = 5) -> datetime:
        return datetime(2026, 1, day, hour, minute, second, tzinfo=WIB)

    (opening,) = jobs(b, PELAYANAN, 1, entered_at=at(15))
    (before,) = jobs(b, PELAYANAN, 1, entered_at=at(14, 59, 59))
    (last,) = jobs(b, PELAYANAN, 1, entered_at=at(7, 59, 59, day=6))
    (closing,) = jobs(b, PELAYANAN, 1, entered_at=at(8, day=6))
    (midnight,) = jobs(b, PELAYANAN, 1, entered_at=at(0, day=6))
    (in_utc,) = jobs(b, PELAYANAN, 1, entered_at=datetime(2026, 1, 5, 8, 30, tzinfo=UTC))  # 15:30 WIB
    r = result(b)
    assert refusals(r) == {before: "refused:outside-window", closing: "refused:outside-window"}
    assert {opening, last, midnight, in_utc} <= set(r.lines[0].refs)
    assert r.amount == 36_000  # 4 counted x 9,000


def test_only_the_direct_supervisors_approval_counts() -> None:
    b = org("2026-01")
    jobs(b, PELAYANAN, 1)
    (wrong,) = jobs(b, PELAYANAN, 1, approver=KABID)  # the supervisor's supervisor
    (rejected,) = jobs(b, PELAYANAN, 1, approved=False)
    (unapproved,) = jobs(b, PELAYANAN, 1)
    b.approvals = [a for a in b.approvals if a.activity_id != unapproved]
    r = result(b)
    assert refusals(r) == {wrong: "refused:wrong-approver", rejected: "refused:rejected",
                           unapproved: "refused:not-approved"}
    assert r.amount == 9_000


def test_each_month_is_capped_at_the_monthly_maximum_on_its_own() -> None:
    b = org()
    jobs(b, PELAYANAN, 446, JAN)  # 446 x 9,000 = 4,014,000, over the maximum 4,005,000
    jobs(b, PELAYANAN, 10, FEB)  # 90,000
    # 4,005,000 + 90,000 = 4,095,000 (capping the quarter instead would pay 456 x 9,000 = 4,104,000)
    r = result(b)
    assert r.amount == 4_095_000
    assert month_rupiah(r) == ["4005000", "90000", "0"]
    assert "capped at Rp 4.005.000" in r.lines[0].text


def test_quarter_is_rounded_down_once_on_the_sum_of_its_months() -> None:
    b = org()
    for day in (JAN, FEB, MAR):
        jobs(b, KABID, 1, day)
    odd = DkiSettings.model_validate({"position_factors": with_factors(teknis="1.2345")})
    # each month 1.2345 points x 9,000 = 11,110.5; the quarter 33,331.5 -> 33,331 (per month: 3 x 11,110 = 33,330)
    r = result(b, KABID, odd)
    assert r.amount == 33_331
    assert month_rupiah(r) == ["22221/2"] * 3 and r.lines[-1].rupiah == "-1/2"


def test_a_month_period_pays_that_month_alone() -> None:
    b = org("2026-02")
    jobs(b, PELAYANAN, 3, JAN)  # outside the period: neither counted nor refused
    jobs(b, PELAYANAN, 2, FEB)
    r = result(b)
    assert (r.period, r.amount, r.ceiling) == ("2026-02", 18_000, 4_005_000)
    assert len(r.input_ids) == 1 + 2 * 2  # the NIP, 2 activities and their approvals


# eselon II: sundulan --------------------------------------------------------------------------------------------
def sundulan_month() -> PeriodBuilder:
    b = org("2026-01")
    jobs(b, PELAYANAN, 89)  # 89 / 445 = 1/5
    jobs(b, OPERASIONAL, 43)  # 43 / 645 = 1/15
    jobs(b, KASI, 85)  # 85 / 850 = 1/10
    jobs(b, KABID, 73)  # 73 / 1,095 = 1/15
    return b


def test_eselon_ii_head_gets_the_maximum_times_the_mean_attainment_of_the_subtree() -> None:
    b = sundulan_month()
    (own,) = jobs(b, KADIS, 1, approver=KADIS)  # a head's own entries do not count
    b.unit("F" * 32, "Dinas Lain", parent=None, level="opd")
    outsider = b.employee(make_nip(299), "F" * 32, supervisor=KADIS, group="pelayanan")
    jobs(b, outsider, 445, approver=KADIS)  # attainment 1, but in another OPD: not in the mean
    # mean (1/5 + 1/15 + 1/10 + 1/15) / 4 = (6 + 2 + 3 + 2) / 30 / 4 = 13/120
    # 29,925,000 x 13/120 = 3,241,875
    r = result(b, KADIS)
    assert r.amount == 3_241_875
    sundulan = next(line for line in r.lines if line.code == "sundulan")
    assert "10,83% of 4 employees" in sundulan.text  # 13/120, shown to two decimals
    assert set(sundulan.refs) == {KABID, KASI, PELAYANAN, OPERASIONAL}
    assert refusals(r) == {own: "refused:sundulan-head"}


def test_eselon_iii_and_iv_earn_by_their_own_points() -> None:
    got = {r.nip: r.amount for r in compute(sundulan_month()).results}
    assert got[KABID] == 657_000  # III.b is not II: 73 x 9,000
    assert got[KASI] == 765_000  # 85 x 9,000


def test_head_with_no_employees_in_the_subtree_gets_zero_with_that_reason() -> None:
    b = org()
    kaban = b.employee(make_nip(210), b.unit("B" * 32, "Badan Baru", parent=None, level="opd"),
                       eselon="II.a", group="kepala_badan")
    r = result(b, kaban)
    assert (r.amount, r.status) == (0, ResultStatus.NOTHING)
    lines = [line for line in r.lines if line.code == "sundulan-no-employees"]
    assert len(lines) == 3 and all("no employees in the subtree of Badan Baru" in line.text for line in lines)


def test_heads_of_deeper_units_count_with_their_own_sundulan() -> None:
    b = org("2026-01")
    setda, biro = b.unit("A1" * 16, "Sekretariat Daerah", parent=None, level="opd"), "A2" * 16
    b.unit(biro, "Biro Umum", parent=setda)
    asisten = b.employee(make_nip(220), setda, eselon="II.a", group="kepala_badan")
    karo = b.employee(make_nip(221), biro, supervisor=asisten, eselon="II.b", group="kepala_biro")
    staff = b.employee(make_nip(222), biro, supervisor=karo, group="pelayanan")
    b.employee(make_nip(223), setda, supervisor=asisten, group="pelayanan")  # no jobs: 0
    jobs(b, staff, 89, approver=karo)  # 1/5
    got = {r.nip: r.amount for r in compute(b).results}
    assert got[karo] == 5_580_000  # 27,900,000 x 1/5
    # mean of karo 1/5, the biro's staff 1/5 and the setda's staff 0 = 2/15 -> 31,455,000 x 2/15 = 4,194,000
    assert got[asisten] == 4_194_000


def test_another_eselon_ii_of_the_heads_own_unit_is_left_out_of_the_mean() -> None:
    b = sundulan_month()
    wakil = b.employee(make_nip(240), OPD, kelas=14, eselon="II.b", group="kepala_dinas")
    got = {r.nip: r for r in compute(b).results}
    # each one's mean would depend on the other's: both get 29,925,000 x 13/120 = 3,241,875
    assert got[KADIS].amount == got[wakil].amount == 3_241_875
    assert "1 other eselon II employees of the same unit left out" in got[KADIS].lines[0].text


def test_employee_without_a_known_position_group_is_quarantined() -> None:
    b = org()
    b.employee(make_nip(230), SEKSI, supervisor=KASI, group="astronot")
    outcome = compute(b)
    (problem,) = outcome.problems
    assert (problem.nip, problem.rule) == (make_nip(230), "unknown-position-group")
    assert make_nip(230) not in {r.nip for r in outcome.results}


def test_a_nip_with_two_different_records_is_quarantined_not_paid_twice() -> None:
    b = sundulan_month()
    b.employee(PELAYANAN, BIDANG, supervisor=KABID, group="teknis")  # the same NIP elsewhere
    outcome = compute(b)
    assert [(p.nip, p.rule) for p in outcome.problems] == [(PELAYANAN, "duplicate-id")]
    assert PELAYANAN not in {r.nip for r in outcome.results}
    # KADIS: mean of 1/15, 1/10, 1/15 = 7/90, and one quarantined left out: 29,925,000 x 7/90 = 2,327,500
    kadis = next(r for r in outcome.results if r.nip == KADIS)
    assert kadis.amount == 2_327_500 and "1 quarantined employees left out" in kadis.lines[0].text


# unit report -----------------------------------------------------------------------------------------------------
def report_scenario() -> PeriodBuilder:
    b = org()
    jobs(b, PELAYANAN, 89, JAN)  # 1/5
    jobs(b, OPERASIONAL, 43, JAN)  # 1/15
    jobs(b, KABID, 1, FEB, kind="proyek")  # 600 points: 5,400,000 / 9,855,000 = 40/73
    return b


PROYEK = {"base_points": {"proyek": "600"}}


def test_unit_report_gives_points_headcount_and_mean_attainment_per_unit_and_month() -> None:
    report = unit_report(report_scenario().build("dki"), DkiSettings.model_validate(PROYEK))
    rows = {(row.unit_id, row.month): (row.total_points, row.headcount, row.mean_attainment) for row in report.rows}
    # Seksi: kepala seksi 0, pelayanan 1/5, operasional 1/15 -> (0 + 3/15 + 1/15) / 3 = 4/45
    assert rows[(SEKSI, "2026-01")] == (132, 3, Fraction(4, 45))
    assert rows[(SEKSI, "2026-02")] == (0, 3, 0)
    assert rows[(BIDANG, "2026-02")] == (600, 1, Fraction(40, 73))
    assert rows[(OPD, "2026-01")] == (0, 0, None)  # only the eselon II head, whose attainment is the others'
    assert len(report.rows) == 3 * 3


def test_unit_below_the_closure_threshold_all_quarter_is_a_candidate() -> None:
    data = report_scenario().build("dki")
    report = unit_report(data, DkiSettings.model_validate(PROYEK))
    # Seksi: 4/45, 0, 0 all below 0.5; Bidang reaches 40/73 (0.548) in February
    assert [(c.unit_id, c.attainments) for c in report.candidates] == [(SEKSI, (Fraction(4, 45), 0, 0))]
    stricter = unit_report(data, DkiSettings.model_validate({**PROYEK, "closure_threshold": "0.6"}))
    assert [c.unit_id for c in stricter.candidates] == [BIDANG, SEKSI]


def test_a_month_report_names_no_closure_candidate() -> None:
    b = report_scenario()
    b.period = "2026-01"
    report = DkiScheme().unit_report(b.build("dki"), DkiSettings.model_validate(PROYEK))
    assert report.candidates == () and len(report.rows) == 3


# wiring -------------------------------------------------------------------------------------------------------------
def test_scheme_is_registered_and_shipped_defaults_match_the_settings_model() -> None:
    assert isinstance(get_scheme("dki"), DkiScheme)
    tenant = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))["tenants"]["dki"]
    assert (tenant["scheme"], tenant["payment"]) == ("dki", "quarterly")
    assert DkiSettings.model_validate(tenant["settings"]) == DEFAULTS
    assert (DEFAULTS.window_start, DEFAULTS.window_end) == (time(15), time(8))
    assert DEFAULTS.monthly_maximum["kepala_badan"] == 31_455_000


def test_every_position_group_needs_a_factor() -> None:
    with pytest.raises(ValueError, match="no factor for the groups"):
        DkiSettings.model_validate({"position_factors": {"teknis": "1"}})


# Properties of the money ------------------------------------------------------------------------------------------
# Per month: (standard jobs, big jobs of 100 points) for the pelayanan staff member, whose factor 1.2345 makes
# fractional rupiah; 5 big jobs (617.25 points) pass the 445-point maximum. KADIS is paid by sundulan over them.
PROPERTY_SETTINGS = DkiSettings.model_validate({"base_points": {"besar": "100"},
                                                "position_factors": with_factors(pelayanan="1.2345")})
month_jobs = st.tuples(st.integers(0, 3), st.integers(0, 5))
quarter_jobs = st.lists(month_jobs, min_size=3, max_size=3)


def scenario(quarter: list[tuple[int, int]]) -> PeriodBuilder:
    b = org()
    jobs(b, OPERASIONAL, 100, FEB)
    for day, (small, big) in zip((JAN, FEB, MAR), quarter, strict=True):
        jobs(b, PELAYANAN, small, day)
        jobs(b, PELAYANAN, big, day, kind="besar")
    return b


def paid(quarter: list[tuple[int, int]]) -> dict[str, int]:
    return {r.nip: r.amount for r in compute(scenario(quarter), PROPERTY_SETTINGS).results}


@settings(max_examples=40, deadline=None)
@given(quarter=quarter_jobs)
def test_amount_between_zero_and_the_maximum_and_lines_sum_exactly(quarter) -> None:  # type: ignore[no-untyped-def]
    for r in compute(scenario(quarter), PROPERTY_SETTINGS).results:
        assert 0 <= r.amount <= r.ceiling
        assert sum(Fraction(line.rupiah) for line in r.lines if line.rupiah is not None) == r.amount


@settings(max_examples=40, deadline=None)
@given(quarter=quarter_jobs, month=st.integers(0, 2), big=st.booleans())
def test_more_verified_work_never_pays_less(quarter, month, big) -> None:  # type: ignore[no-untyped-def]
    more = [(s + (not big), g + big) if m == month else (s, g) for m, (s, g) in enumerate(quarter)]
    before, after = paid(quarter), paid(more)
    assert after[PELAYANAN] >= before[PELAYANAN]
    assert after[KADIS] >= before[KADIS]  # the head's sundulan follows


@settings(max_examples=20, deadline=None)
@given(quarter=quarter_jobs)
def test_same_input_same_output(quarter) -> None:  # type: ignore[no-untyped-def]
    b = scenario(quarter)
    assert compute(b, PROPERTY_SETTINGS).results == compute(b, PROPERTY_SETTINGS).results
