"""Kota Metro rules, one test per rule, with the arithmetic worked by hand (ceiling of kelas 7 = Rp 3,000,000)."""

from __future__ import annotations

from datetime import date, datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain import WIB, ResultStatus, TteConclusion
from gateway.mappings import MetroScheme, MetroSettings
from tests._period import OTHER, STAFF, SUPERVISOR, PeriodBuilder

CEILING_7 = 3_000_000
DEFAULTS = MetroSettings()


def compute(builder: PeriodBuilder, settings: MetroSettings = DEFAULTS):  # type: ignore[no-untyped-def]
    return MetroScheme().compute(builder.build(), settings)


def staff_result(builder: PeriodBuilder, settings: MetroSettings = DEFAULTS):  # type: ignore[no-untyped-def]
    outcome = compute(builder, settings)
    return next(r for r in outcome.results if r.nip == STAFF)


def refusals(result) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {line.refs[0]: line.code for line in result.lines if line.code.startswith("refused:")}


def two_indicators() -> PeriodBuilder:
    b = PeriodBuilder()
    b.indicator("K1", 60, 4)
    b.indicator("K2", 40, 2)
    return b


def test_score_is_weighted_achievement_and_amount_is_rounded_down_once() -> None:
    b = two_indicators()
    b.activity("K1", date(2026, 3, 2))
    b.activity("K2", date(2026, 3, 3))
    b.activity("K2", date(2026, 3, 4))
    # K1: 1/4 x 60 = 15; K2: 2/2 x 40 = 40; S = 55 -> 3,000,000 x 55 / 100 = 1,650,000
    r = staff_result(b)
    assert (r.score, r.amount, r.status) == ("55", 1_650_000, ResultStatus.PARTIAL)


def test_rounding_happens_once_on_the_total() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 50, 3)
    b.indicator("K2", 50, 3)
    b.activity("K1", date(2026, 3, 2))
    b.activity("K2", date(2026, 3, 3))
    # each indicator: 1/3 x 50 = 50/3 points -> Rp 500,000 exactly... S = 100/3 -> 3,000,000 x 1/3 = 1,000,000
    r = staff_result(b)
    assert r.amount == 1_000_000
    b2 = PeriodBuilder()
    b2.indicator("K1", 50, 7)
    b2.indicator("K2", 50, 7)
    b2.activity("K1", date(2026, 3, 2))
    b2.activity("K2", date(2026, 3, 3))
    # S = 2 x 50/7 = 100/7; exact 3,000,000 x 1/7 = 428,571.43 -> 428,571 (rounding each line first would
    # give 214,285 + 214,285 = 428,570)
    assert staff_result(b2).amount == 428_571


def test_evidence_late_in_working_days_across_cuti_bersama_is_refused() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 100, 4)
    tue = date(2026, 3, 17)  # deadline Fri 27 March 23:59:59 WIB: 18-24 March are holidays or cuti bersama
    in_time_thanks_to_holidays = b.activity("K1", tue, uploaded_at=datetime(2026, 3, 26, 10, 0, tzinfo=WIB))
    on_the_second = b.activity("K1", tue, uploaded_at=datetime(2026, 3, 27, 23, 59, 59, tzinfo=WIB))
    late = b.activity("K1", tue, uploaded_at=datetime(2026, 3, 28, 0, 0, 0, tzinfo=WIB))
    r = staff_result(b)
    assert refusals(r) == {late: "refused:late-evidence"}
    assert in_time_thanks_to_holidays not in refusals(r) and on_the_second not in refusals(r)
    assert r.amount == CEILING_7 * 2 // 4  # 2 of 4 counted


def test_sla_is_a_setting() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 100, 1)
    b.activity("K1", date(2026, 3, 2), uploaded_at=datetime(2026, 3, 4, 9, 0, tzinfo=WIB))  # 2nd working day
    assert staff_result(b).amount == CEILING_7
    assert staff_result(b, MetroSettings(evidence_sla_working_days=1)).amount == 0


@pytest.mark.parametrize("tte", [TteConclusion.INVALID, TteConclusion.NO_SIGNATURE, TteConclusion.UNCHECKED])
def test_evidence_without_a_valid_tte_is_refused(tte: TteConclusion) -> None:
    b = PeriodBuilder()
    b.indicator("K1", 100, 2)
    b.activity("K1", date(2026, 3, 2))
    bad = b.activity("K1", date(2026, 3, 3), tte=tte)
    r = staff_result(b)
    assert refusals(r) == {bad: "refused:tte-invalid"}
    assert r.amount == CEILING_7 // 2
    assert staff_result(b, MetroSettings(require_tte=False)).amount == CEILING_7


def test_one_bad_evidence_item_refuses_the_whole_activity() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 100, 1)
    act = b.activity("K1", date(2026, 3, 2), evidence=2)
    b.checks[-1] = b.checks[-1].model_copy(update={"tte": TteConclusion.INVALID})
    assert refusals(staff_result(b)) == {act: "refused:tte-invalid"}


def test_changed_document_hash_is_refused() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 100, 2)
    b.activity("K1", date(2026, 3, 2))
    altered = b.activity("K1", date(2026, 3, 3), altered=True)
    r = staff_result(b)
    assert refusals(r) == {altered: "refused:hash-mismatch"}
    assert r.amount == CEILING_7 // 2


def test_approval_by_someone_other_than_the_direct_supervisor_is_refused() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 100, 2)
    b.activity("K1", date(2026, 3, 2))
    wrong = b.activity("K1", date(2026, 3, 3), approver=OTHER)
    r = staff_result(b)
    assert refusals(r) == {wrong: "refused:wrong-approver"}
    assert SUPERVISOR in next(line.text for line in r.lines if line.code == "refused:wrong-approver")
    assert r.amount == CEILING_7 // 2


def test_an_activity_refused_for_several_reasons_names_every_one() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 100, 2)
    b.activity("K1", date(2026, 3, 2))
    both = b.activity("K1", date(2026, 3, 3), approver=OTHER, evidence=0)
    r = staff_result(b)
    assert refusals(r) == {both: "refused:wrong-approver"}  # the first rule broken names the line
    text = next(line.text for line in r.lines if line.code == "refused:wrong-approver")
    assert "[wrong-approver]" in text and "no evidence attached [no-evidence]" in text
    assert r.amount == CEILING_7 // 2


def test_unapproved_and_rejected_activities_do_not_count() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 100, 3)
    b.activity("K1", date(2026, 3, 2))
    none = b.activity("K1", date(2026, 3, 3), approver=None)
    rejected = b.activity("K1", date(2026, 3, 4), approved=False)
    r = staff_result(b)
    assert refusals(r) == {none: "refused:not-approved", rejected: "refused:rejected"}
    assert r.amount == CEILING_7 // 3


def test_activity_without_evidence_does_not_count() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 100, 2)
    b.activity("K1", date(2026, 3, 2))
    bare = b.activity("K1", date(2026, 3, 3), evidence=0)
    r = staff_result(b)
    assert refusals(r) == {bare: "refused:no-evidence"}
    assert r.amount == CEILING_7 // 2


def test_weights_not_summing_to_100_quarantine_the_month_with_a_clear_message() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 60, 1)
    b.indicator("K2", 50, 1)
    b.activity("K1", date(2026, 3, 2))
    outcome = compute(b)
    assert STAFF not in {r.nip for r in outcome.results}
    (problem,) = [p for p in outcome.problems if p.nip == STAFF]
    assert problem.rule == "weights-sum-100"
    assert "sum to 110, not 100" in problem.message and "K1" in problem.message and STAFF in problem.message


def test_achievement_is_capped_at_100_percent() -> None:
    b = two_indicators()
    for d in range(2, 10):  # 8 of target 4 on K1: 200%
        b.activity("K1", date(2026, 3, d))
    # K1 capped at 1 -> 60 points; K2 nothing -> S = 60 -> 1,800,000 (uncapped would be 120 -> 3,600,000)
    r = staff_result(b)
    assert (r.score, r.amount) == ("60", 1_800_000)
    assert "(capped)" in r.lines[0].text
    assert staff_result(b, MetroSettings(cap=2)).amount == 3_600_000


def test_no_plan_pays_nothing_with_the_reason() -> None:
    r = staff_result(PeriodBuilder())
    assert (r.amount, r.status) == (0, ResultStatus.NOTHING)
    assert r.lines[0].text.startswith("no KPI plan")


def test_below_min_score_pays_nothing() -> None:
    b = two_indicators()
    b.activity("K1", date(2026, 3, 2))  # S = 15
    assert staff_result(b, MetroSettings(min_score=20)).amount == 0
    assert staff_result(b, MetroSettings(min_score=15)).amount == 450_000


def test_full_score_is_paid_in_full() -> None:
    b = PeriodBuilder()
    b.indicator("K1", 100, 1)
    b.activity("K1", date(2026, 3, 2))
    r = staff_result(b)
    assert (r.amount, r.status) == (CEILING_7, ResultStatus.FULL)


def test_result_names_its_inputs_and_settings_version() -> None:
    b = two_indicators()
    act = b.activity("K1", date(2026, 3, 2))
    r = staff_result(b)
    assert {act, "K1", "K2", f"EV-{act}-0", f"APR-{act}"} <= set(r.input_ids)
    assert r.settings_version == DEFAULTS.version() != MetroSettings(evidence_sla_working_days=4).version()


def test_unknown_unit_is_quarantined_not_crashed() -> None:
    b = PeriodBuilder()
    b.employees[2] = b.employees[2].model_copy(update={"unit_id": "B" * 32})
    outcome = compute(b)
    assert [p.rule for p in outcome.problems if p.nip == STAFF] == ["unknown-unit"]


# Properties of the money -------------------------------------------------------------------------------------
quantities = st.lists(st.integers(min_value=0, max_value=12), min_size=2, max_size=2)


def scenario(q: list[int], targets: tuple[int, int], weights: tuple[int, int]) -> PeriodBuilder:
    b = PeriodBuilder()
    b.indicator("K1", weights[0], targets[0])
    b.indicator("K2", weights[1], targets[1])
    for ind, n in zip(("K1", "K2"), q, strict=True):
        if n:
            b.activity(ind, date(2026, 3, 2), n)
    return b


targets_st = st.tuples(st.integers(1, 9), st.integers(1, 9))
weights_st = st.integers(0, 100).map(lambda w: (w, 100 - w))


@settings(max_examples=60, deadline=None)
@given(q=quantities, targets=targets_st, weights=weights_st)
def test_amount_between_zero_and_ceiling_and_lines_sum_exactly(q, targets, weights) -> None:  # type: ignore[no-untyped-def]
    r = staff_result(scenario(q, targets, weights))
    assert 0 <= r.amount <= CEILING_7
    assert sum(Fraction(line.rupiah) for line in r.lines if line.rupiah is not None) == r.amount


@settings(max_examples=60, deadline=None)
@given(q=quantities, extra=st.integers(1, 5), targets=targets_st, weights=weights_st)
def test_more_verified_work_never_pays_less(q, extra, targets, weights) -> None:  # type: ignore[no-untyped-def]
    more = [q[0] + extra, q[1]]
    assert staff_result(scenario(more, targets, weights)).amount >= staff_result(scenario(q, targets, weights)).amount


@settings(max_examples=30, deadline=None)
@given(q=quantities, targets=targets_st, weights=weights_st)
def test_same_input_same_output(q, targets, weights) -> None:  # type: ignore[no-untyped-def]
    b = scenario(q, targets, weights)
    assert compute(b).results == compute(b).results
