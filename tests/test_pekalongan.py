"""Kota Pekalongan rules, one test per rule, with the arithmetic worked by hand.

Allowance = floor(ceiling x (0.6 K + 0.4 D) x (1 - C)). Shipped ceilings: kelas 7 Rp 3,000,000 (the staff member),
kelas 12 Rp 6,200,000 (sekretaris, kepala bidang), kelas 14 Rp 8,900,000 (kepala dinas). With no plan, K = 0 and a
clean attendance summary gives D = 1, so the staff member gets 0.4 x 3,000,000 = Rp 1,200,000.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain import WIB, ResultStatus, TteConclusion
from gateway.mappings import PekalonganScheme, PekalonganSettings, get_scheme
from gateway.settings import DEFAULTS_FILE
from tests._period import HEAD, OPD, OTHER, STAFF, SUPERVISOR, PeriodBuilder, make_nip

DEFAULTS = PekalonganSettings()
SEK, KABID1, KABID2 = make_nip(101), make_nip(102), make_nip(103)
SEKRETARIAT, BIDANG1, BIDANG2 = "C" * 32, "D" * 32, "E" * 32
DAY = date(2026, 3, 3)  # a Tuesday
INSIDE = ("-6.8883", "109.6753")  # the city centre


def org(*, acting_head_of_bidang2: bool = False) -> PeriodBuilder:
    """The default OPD (headed by HEAD) with a Sekretariat (SEK) and two bidang (KABID1, KABID2)."""
    b = PeriodBuilder()
    b.units[0] = b.units[0].model_copy(update={"head_nip": HEAD})
    b.unit(SEKRETARIAT, "Sekretariat Dinas", head=SEK)
    b.unit(BIDANG1, "Bidang Satu", head=KABID1)
    b.unit(BIDANG2, "Bidang Dua", head=SEK if acting_head_of_bidang2 else KABID2)
    b.employee(SEK, SEKRETARIAT, supervisor=HEAD, kelas=12, position="Sekretaris Dinas", eselon="III.a")
    b.employee(KABID1, BIDANG1, supervisor=HEAD, kelas=12, position="Kepala Bidang Satu", eselon="III.b")
    b.employee(KABID2, BIDANG2, supervisor=HEAD, kelas=12, position="Kepala Bidang Dua", eselon="III.b")
    return b


def compute(b: PeriodBuilder, settings: PekalonganSettings = DEFAULTS):  # type: ignore[no-untyped-def]
    """Compute, giving everyone without one a clean attendance summary (D = 1)."""
    summarised = {a.nip for a in b.attendance}
    for emp in b.employees:
        if emp.nip not in summarised:
            b.attend(emp.nip)
    return PekalonganScheme().compute(b.build("pekalongan"), settings)


def result(b: PeriodBuilder, nip: str = STAFF, settings: PekalonganSettings = DEFAULTS):  # type: ignore[no-untyped-def]
    return next(r for r in compute(b, settings).results if r.nip == nip)


def amounts(b: PeriodBuilder, settings: PekalonganSettings = DEFAULTS) -> dict[str, int]:
    return {r.nip: r.amount for r in compute(b, settings).results}


def refusals(r) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {line.refs[0]: line.code for line in r.lines if line.code.startswith("refused:")}


def one_indicator(target: int = 1) -> PeriodBuilder:
    b = org()
    b.indicator("K1", 100, target)
    return b


# K: performance ------------------------------------------------------------------------------------------------
def test_allowance_is_ceiling_times_weighted_k_and_d_rounded_down_once() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 100, 7)
    b.activity("K1", DAY)
    b.attend(STAFF, late=[10, 45])
    # K = 1/7; D = 1 - 0.5% - 1% = 0.985
    # 3,000,000 x (0.6 x 1/7 + 0.4 x 0.985) = 257,142.857... + 1,182,000 = 1,439,142.857... -> 1,439,142
    r = result(b)
    assert (r.amount, r.status) == (1_439_142, ResultStatus.PARTIAL)
    assert sum(Fraction(line.rupiah) for line in r.lines if line.rupiah is not None) == r.amount


def test_full_k_and_d_pay_the_ceiling() -> None:
    b = one_indicator()
    b.activity("K1", DAY)
    r = result(b)
    assert (r.amount, r.status, r.score) == (3_000_000, ResultStatus.FULL, "100")


def test_tte_is_not_required() -> None:
    b = one_indicator()
    b.activity("K1", DAY, tte=TteConclusion.NO_SIGNATURE)
    assert result(b).amount == 3_000_000  # K = 1: counted without a signature


def test_metro_checks_still_apply_supervisor_hash_and_sla() -> None:
    b = one_indicator(target=4)
    b.activity("K1", DAY)
    wrong = b.activity("K1", DAY, approver=OTHER)
    altered = b.activity("K1", DAY, altered=True)
    late = b.activity("K1", DAY, uploaded_at=datetime(2026, 3, 9, 0, 0, tzinfo=WIB))  # deadline Fri 6 March
    r = result(b)
    assert refusals(r) == {wrong: "refused:wrong-approver", altered: "refused:hash-mismatch",
                           late: "refused:late-evidence"}
    # K = 1/4 -> 3,000,000 x (0.6 / 4 + 0.4) = 450,000 + 1,200,000
    assert r.amount == 1_650_000


@pytest.mark.parametrize(("kinds", "counted"), [
    (["undangan", "dokumentasi", "notulen"], True),
    (["undangan", "dokumentasi", "tindak_lanjut"], True),
    (["undangan", "dokumentasi", "notulen", "foto"], True),
    (["undangan", "dokumentasi"], False),
    (["undangan", "notulen"], False),
    (["dokumentasi", "notulen", "tindak_lanjut"], False),
    (["dokumen"], False),
])
def test_rapat_needs_invitation_documentation_and_minutes_or_action_list(kinds: list[str], counted: bool) -> None:
    b = one_indicator()
    act = b.activity("K1", DAY, kind="rapat", evidence_kinds=kinds)
    r = result(b)
    # counted: K = 1 -> 3,000,000; refused: K = 0 -> 0.4 x 3,000,000 = 1,200,000
    assert r.amount == (3_000_000 if counted else 1_200_000)
    assert refusals(r) == ({} if counted else {act: "refused:missing-evidence"})


def lapangan(b: PeriodBuilder, *, at: tuple[str, str] | None = INSIDE,
             taken: datetime | None = datetime(2026, 3, 3, 10, 0, tzinfo=WIB)) -> str:
    act = b.activity("K1", DAY, kind="lapangan", evidence=0)
    b.add_evidence(act, "foto", latitude=at and at[0], longitude=at and at[1], captured_at=taken)
    return act


@pytest.mark.parametrize(("at", "taken", "counted"), [
    (INSIDE, datetime(2026, 3, 3, 10, 0, tzinfo=WIB), True),
    (("-6.9289", "109.6319"), datetime(2026, 3, 3, 10, 0, tzinfo=WIB), True),  # the area's corner is inside
    (INSIDE, datetime(2026, 3, 2, 23, 30, tzinfo=UTC), True),  # 06:30 WIB on the 3rd
    (INSIDE, datetime(2026, 3, 2, 23, 59, 59, tzinfo=WIB), False),  # the day before, in WIB
    (INSIDE, None, False),  # no capture time
    (None, datetime(2026, 3, 3, 10, 0, tzinfo=WIB), False),  # no coordinates
    (("-6.2088", "106.8456"), datetime(2026, 3, 3, 10, 0, tzinfo=WIB), False),  # Jakarta
    (("-6.9290", "109.6753"), datetime(2026, 3, 3, 10, 0, tzinfo=WIB), False),  # just south of the area
])
def test_lapangan_needs_a_photo_with_coordinates_in_the_area_taken_on_the_day(
        at: tuple[str, str] | None, taken: datetime | None, counted: bool) -> None:
    b = one_indicator()
    act = lapangan(b, at=at, taken=taken)
    r = result(b)
    assert r.amount == (3_000_000 if counted else 1_200_000)
    assert refusals(r) == ({} if counted else {act: "refused:no-geotagged-photo"})


def test_lapangan_with_documents_but_no_photo_is_refused_and_one_good_photo_is_enough() -> None:
    b = one_indicator(target=2)
    docs_only = b.activity("K1", DAY, kind="lapangan")
    mixed = lapangan(b)
    b.add_evidence(mixed, "foto")  # a second photo without coordinates does not spoil the good one
    r = result(b)
    assert refusals(r) == {docs_only: "refused:no-geotagged-photo"}
    assert "no photo attached" in next(line.text for line in r.lines if line.code == "refused:no-geotagged-photo")
    assert r.amount == 2_100_000  # K = 1/2 -> 900,000 + 1,200,000


def test_other_kinds_need_a_document() -> None:
    b = one_indicator(target=2)
    b.activity("K1", DAY, kind="laporan")  # one dokumen
    photo_only = b.activity("K1", DAY, kind="laporan", evidence_kinds=["foto"])
    bare = b.activity("K1", DAY, kind="laporan", evidence=0)
    r = result(b)
    assert refusals(r) == {photo_only: "refused:missing-evidence", bare: "refused:no-evidence"}
    assert r.amount == 2_100_000  # K = 1/2


def test_evidence_needs_are_a_setting() -> None:
    b = one_indicator()
    b.activity("K1", DAY, kind="rapat", evidence_kinds=["undangan"])
    relaxed = PekalonganSettings.model_validate({"evidence_needs": {"rapat": [["undangan"]]}})
    assert result(b).amount == 1_200_000
    assert result(b, settings=relaxed).amount == 3_000_000


def test_no_plan_gives_k_zero_but_discipline_still_applies() -> None:
    b = org()
    b.attend(STAFF, late=[45])
    # K = 0; D = 1 - 1% = 0.99 -> 3,000,000 x 0.4 x 0.99 = 1,188,000
    r = result(b)
    assert r.amount == 1_188_000
    assert r.lines[0].code == "no-plan" and r.lines[0].text.startswith("no KPI plan")


def test_weights_not_summing_to_100_quarantine_the_month() -> None:
    b = org()
    b.indicator("K1", 60, 1)
    b.indicator("K2", 30, 1)
    outcome = compute(b)
    assert STAFF not in {r.nip for r in outcome.results}
    (problem,) = [p for p in outcome.problems if p.nip == STAFF]
    assert problem.rule == "weights-sum-100" and "sum to 90, not 100" in problem.message


# D: discipline -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("minutes", "amount"), [
    (1, 1_194_000),  # 0.5%: 1,200,000 x 0.995
    (30, 1_194_000),
    (31, 1_188_000),  # 1%
    (60, 1_188_000),
    (61, 1_185_000),  # 1.25%
    (90, 1_185_000),
    (91, 1_182_000),  # 1.5%
    (240, 1_182_000),
])
@pytest.mark.parametrize("kind", ["late", "early"])
def test_deduction_steps_by_minutes_late_or_early(minutes: int, amount: int, kind: str) -> None:
    b = org()  # no plan: K = 0, so the amount is 1,200,000 x D
    b.attend(STAFF, **{kind: [minutes]})
    assert result(b).amount == amount


def test_missing_record_takes_the_top_step_and_absence_three_percent_a_day() -> None:
    b = org()
    b.attend(STAFF, late=[0, 5, 5], missing=1, absent=2)
    # 0 minutes is no occurrence; 2 x 0.5% + 1.5% + 2 x 3% = 8.5% -> 1,200,000 x 0.915 = 1,098,000
    r = result(b)
    assert r.amount == 1_098_000
    assert [line.code for line in r.lines if line.code.startswith("deduction")] == [
        "deduction:late", "deduction:no-record", "deduction:absence"]


def test_d_is_floored_at_zero() -> None:
    b = one_indicator()
    b.activity("K1", DAY)
    b.attend(STAFF, absent=34, late=[10])
    # deductions 102% + 0.5%: D = 0, not -0.025 -> 3,000,000 x 0.6 = 1,800,000 (unfloored: 1,770,000)
    r = result(b)
    assert r.amount == 1_800_000
    assert any(line.code == "deduction-floor" for line in r.lines)


def test_deduction_table_is_a_setting() -> None:
    b = org()
    b.attend(STAFF, late=[20])
    strict = PekalonganSettings.model_validate({"deductions": {"steps": [[15, "0.01"], [30, "0.02"]]}})
    assert result(b, settings=strict).amount == 1_176_000  # 16-30 min: 2% -> 1,200,000 x 0.98


def test_no_attendance_summary_is_quarantined() -> None:
    b = org()
    data = b.build("pekalongan")  # nobody has a summary
    outcome = PekalonganScheme().compute(data, DEFAULTS)
    assert outcome.results == []
    assert {p.rule for p in outcome.problems} == {"no-attendance-summary"}
    assert STAFF in next(p.message for p in outcome.problems if p.nip == STAFF)


def test_two_different_attendance_summaries_are_quarantined() -> None:
    b = org()
    b.attend(STAFF, late=[10])
    b.attend(STAFF, late=[10, 20])
    outcome = compute(b)
    assert [(p.nip, p.rule) for p in outcome.problems] == [(STAFF, "duplicate-attendance")]
    b.attendance[1] = b.attendance[0]  # the same summary twice is one summary
    assert result(b).amount == 1_194_000  # 1,200,000 x 0.995


def test_a_nip_with_two_different_records_is_quarantined_not_paid_twice() -> None:
    b = org()
    b.employee(STAFF, BIDANG1, supervisor=KABID1)
    outcome = compute(b)
    assert [(p.nip, p.rule) for p in outcome.problems] == [(STAFF, "duplicate-id")]
    assert STAFF not in {r.nip for r in outcome.results}


# C: joint liability (tanggung renteng) -------------------------------------------------------------------------------
def test_missed_programme_cuts_bidang_head_sekretaris_and_opd_head() -> None:
    b = org()
    b.programme("P1", BIDANG1, target=100, realisation=80)
    # nobody has a plan: 0.4 x ceiling x (1 - C)
    assert amounts(b) == {
        KABID1: 2_356_000,  # 6,200,000 x 0.4 x 0.95
        SEK: 2_356_000,
        HEAD: 3_382_000,  # 8,900,000 x 0.4 x 0.95
        KABID2: 2_480_000,  # not answerable for bidang 1: 6,200,000 x 0.4
        STAFF: 1_200_000,
        SUPERVISOR: 1_560_000,  # kelas 9: 3,900,000 x 0.4
        OTHER: 1_560_000,
    }


def test_cut_applies_to_the_whole_allowance() -> None:
    b = org()
    b.indicator("K9", 100, 1, nip=KABID1)
    b.activity("K9", DAY, nip=KABID1, approver=HEAD)
    b.programme("P1", BIDANG1, target=100, realisation=99)
    # KABID1: K = 1, D = 1 -> 6,200,000 x 1 x 0.95 = 5,890,000
    assert result(b, KABID1).amount == 5_890_000


def test_programme_at_the_threshold_is_not_missed_and_the_threshold_is_a_setting() -> None:
    b = org()
    b.programme("P1", BIDANG1, target=100, realisation=100)
    b.programme("P2", BIDANG2, target=100, realisation=80)
    assert amounts(b)[KABID1] == 2_480_000 and amounts(b)[KABID2] == 2_356_000
    lenient = PekalonganSettings.model_validate({"programme_threshold": "0.8"})
    assert amounts(b, lenient)[KABID2] == 2_480_000  # 80 of 100 meets 80%


def test_programmes_missed_by_two_bidang_under_one_head_cut_head_and_sekretaris_twice() -> None:
    b = org()
    b.programme("P1", BIDANG1, target=10, realisation=9)
    b.programme("P2", BIDANG2, target=10, realisation=0)
    got = amounts(b)
    assert got[HEAD] == 3_204_000  # C = 2 x 5% = 10%: 8,900,000 x 0.4 x 0.9
    assert got[SEK] == 2_232_000  # 6,200,000 x 0.4 x 0.9
    assert got[KABID1] == got[KABID2] == 2_356_000  # 5% each


def test_acting_head_holding_two_roles_loses_the_cut_once() -> None:
    b = org(acting_head_of_bidang2=True)  # the sekretaris is also acting head (Plt) of bidang 2
    b.programme("P2", BIDANG2, target=10, realisation=5)
    r = result(b, SEK)
    assert r.amount == 2_356_000  # 5% once: 6,200,000 x 0.4 x 0.95 (twice would be 2,232,000)
    (line,) = [line for line in r.lines if line.code == "joint-liability"]
    assert "head of the bidang and sekretaris of the OPD (once" in line.text and line.refs[0] == "P2"


def test_cuts_are_capped_at_max_cut() -> None:
    b = org()
    for n in range(5):
        b.programme(f"P{n}", BIDANG1, target=1, realisation=0)
    got = amounts(b)
    assert got[HEAD] == 2_848_000  # 5 x 5% = 25%, capped at 20%: 8,900,000 x 0.4 x 0.8
    assert got[KABID1] == 1_984_000  # 6,200,000 x 0.4 x 0.8
    assert result(b, HEAD).lines[-2].code == "joint-liability-cap"


def test_which_roles_share_the_cut_is_a_setting() -> None:
    b = org()
    b.programme("P1", BIDANG1, target=100, realisation=80)
    only_bidang = PekalonganSettings.model_validate({"liable_roles": ["bidang_head"]})
    got = amounts(b, only_bidang)
    assert got[KABID1] == 2_356_000
    assert (got[SEK], got[HEAD]) == (2_480_000, 3_560_000)  # uncut: 0.4 x ceiling


def test_sekretaris_can_be_named_in_the_settings() -> None:
    b = PeriodBuilder()  # no Sekretariat unit: without the setting nobody is the sekretaris
    b.units[0] = b.units[0].model_copy(update={"head_nip": HEAD})
    b.unit(BIDANG1, "Bidang Satu", head=SUPERVISOR)
    b.programme("P1", BIDANG1, target=1, realisation=0)
    assert amounts(b)[OTHER] == 1_560_000
    named = PekalonganSettings.model_validate({"sekretaris": {OPD: OTHER}})
    assert amounts(b, named)[OTHER] == 1_482_000  # 3,900,000 x 0.4 x 0.95


def test_programme_of_an_unknown_unit_is_quarantined_and_cuts_nobody() -> None:
    b = org()
    b.programme("P1", "F" * 32, target=1, realisation=0)
    outcome = compute(b)
    assert [(p.record_id, p.rule) for p in outcome.problems] == [("P1", "programme-unit")]
    assert {r.nip: r.amount for r in outcome.results}[HEAD] == 3_560_000


# explanation and wiring ---------------------------------------------------------------------------------------
def test_result_names_its_inputs() -> None:
    b = org()
    b.indicator("K1", 100, 2, nip=KABID1)
    act = b.activity("K1", DAY, nip=KABID1, approver=HEAD, kind="rapat",
                     evidence_kinds=["undangan", "dokumentasi", "notulen"])
    b.programme("P1", BIDANG1, target=1, realisation=0)
    r = result(b, KABID1)
    assert {KABID1, act, "K1", f"APR-{act}", f"EV-{act}-0", f"EV-{act}-2", "P1",
            f"attendance/{KABID1}/2026-03"} <= set(r.input_ids)
    assert r.settings_version == DEFAULTS.version()


def test_scheme_is_registered_and_shipped_defaults_match_the_settings_model() -> None:
    assert isinstance(get_scheme("pekalongan"), PekalonganScheme)
    tenant = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))["tenants"]["pekalongan"]
    assert tenant["scheme"] == "pekalongan"
    assert PekalonganSettings.model_validate(tenant["settings"]) == DEFAULTS


def test_weights_k_and_d_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match="must be 1"):
        PekalonganSettings(k_weight="0.7", d_weight="0.4")  # type: ignore[arg-type]


# Properties of the money -------------------------------------------------------------------------------------
# The subject is KABID1 (ceiling 6,200,000): a plan of two indicators, attendance, and missed programmes of bidang 1.
def scenario(q: list[int], weights: tuple[int, int], late: list[int], absent: int, missed: int) -> PeriodBuilder:
    b = org()
    b.indicator("K1", weights[0], 3, nip=KABID1)
    b.indicator("K2", weights[1], 7, nip=KABID1)
    for ind, n in zip(("K1", "K2"), q, strict=True):
        for _ in range(n):
            b.activity(ind, DAY, nip=KABID1, approver=HEAD)
    b.attend(KABID1, late=late, absent=absent)
    for n in range(missed):
        b.programme(f"P{n}", BIDANG1, target=3, realisation=1)
    return b


quantities = st.lists(st.integers(0, 8), min_size=2, max_size=2)
weights_st = st.integers(0, 100).map(lambda w: (w, 100 - w))
late_st = st.lists(st.integers(0, 200), max_size=6)
absent_st = st.integers(0, 40)
missed_st = st.integers(0, 6)


@settings(max_examples=40, deadline=None)
@given(q=quantities, weights=weights_st, late=late_st, absent=absent_st, missed=missed_st)
def test_amount_between_zero_and_ceiling_and_lines_sum_exactly(q, weights, late, absent, missed) -> None:  # type: ignore[no-untyped-def]
    r = result(scenario(q, weights, late, absent, missed), KABID1)
    assert 0 <= r.amount <= 6_200_000
    assert sum(Fraction(line.rupiah) for line in r.lines if line.rupiah is not None) == r.amount


@settings(max_examples=40, deadline=None)
@given(q=quantities, extra=st.integers(1, 4), weights=weights_st, late=late_st, absent=absent_st, missed=missed_st)
def test_more_verified_work_never_pays_less(q, extra, weights, late, absent, missed) -> None:  # type: ignore[no-untyped-def]
    less = result(scenario(q, weights, late, absent, missed), KABID1).amount
    more = result(scenario([q[0] + extra, q[1]], weights, late, absent, missed), KABID1).amount
    assert more >= less


@settings(max_examples=40, deadline=None)
@given(q=quantities, weights=weights_st, late=late_st.filter(bool), absent=absent_st, missed=missed_st)
def test_a_lateness_less_never_pays_less(q, weights, late, absent, missed) -> None:  # type: ignore[no-untyped-def]
    with_it = result(scenario(q, weights, late, absent, missed), KABID1).amount
    without = result(scenario(q, weights, late[1:], absent, missed), KABID1).amount
    assert without >= with_it


@settings(max_examples=20, deadline=None)
@given(q=quantities, weights=weights_st, late=late_st, absent=absent_st, missed=missed_st)
def test_same_input_same_output(q, weights, late, absent, missed) -> None:  # type: ignore[no-untyped-def]
    b = scenario(q, weights, late, absent, missed)
    assert compute(b).results == compute(b).results
