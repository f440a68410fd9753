"""Working days: Monday-Friday minus national holidays and cuti bersama, deadlines at 23:59:59 WIB."""

from datetime import date, datetime

import pytest

from gateway.domain import WIB, Period, WorkingDayCalendar


def test_domain_example_tuesday_plus_three_working_days_is_friday_end_of_day() -> None:
    assert WorkingDayCalendar().deadline(date(2026, 2, 3), 3) == datetime(2026, 2, 6, 23, 59, 59, tzinfo=WIB)


def test_cuti_bersama_is_not_a_working_day() -> None:
    cal = WorkingDayCalendar()
    assert not cal.is_working_day(date(2026, 3, 18))  # cuti bersama before Nyepi: a Wednesday
    assert not cal.is_working_day(date(2026, 3, 19))  # Nyepi itself
    assert not cal.is_working_day(date(2026, 3, 23))  # cuti bersama Idul Fitri: a Monday
    assert cal.is_working_day(date(2026, 3, 25))


def test_deadline_skips_nyepi_lebaran_and_their_cuti_bersama() -> None:
    # Tue 17 March + 3 working days: 18-24 are holidays or cuti bersama (and a weekend) -> 25, 26, 27.
    assert WorkingDayCalendar().deadline(date(2026, 3, 17), 3) == datetime(2026, 3, 27, 23, 59, 59, tzinfo=WIB)


def test_tenant_holiday_moves_the_deadline() -> None:
    cal = WorkingDayCalendar(extra_holidays=[date(2026, 2, 5)])
    assert cal.deadline(date(2026, 2, 3), 3) == datetime(2026, 2, 9, 23, 59, 59, tzinfo=WIB)


@pytest.mark.parametrize(("text", "first", "last"), [
    ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
    ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
    ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
    ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
])
def test_periods(text: str, first: date, last: date) -> None:
    period = Period.parse(text)
    assert (period.first, period.last) == (first, last)


@pytest.mark.parametrize("bad", ["2026-13", "2026-Q5", "26-01", "2026/01"])
def test_bad_period_is_refused_with_its_text(bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        Period.parse(bad)
