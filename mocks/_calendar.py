"""Working days for generated scenarios: Monday-Friday minus Indonesian national holidays and cuti bersama.

Kept apart from `gateway.domain.calendar` on purpose: test data should not be made by the code it tests. The
`holidays` package carries both kinds of day off: category "public" (national holidays) and "government" (cuti
bersama, the joint leave days set yearly by ministerial decree).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

PUBLIC = ("public",)
WITH_CUTI_BERSAMA = ("government", "public")


@lru_cache(maxsize=64)
def days_off(year: int, categories: tuple[str, ...] = WITH_CUTI_BERSAMA) -> frozenset[date]:
    return frozenset(holidays.country_holidays("ID", categories=categories, years=year))


def is_working_day(day: date, categories: tuple[str, ...] = WITH_CUTI_BERSAMA) -> bool:
    return day.weekday() < 5 and day not in days_off(day.year, categories)


def add_working_days(day: date, n: int, categories: tuple[str, ...] = WITH_CUTI_BERSAMA) -> date:
    """The n-th working day after `day` (n >= 1); `day` itself never counts."""
    current = day
    while n > 0:
        current += timedelta(days=1)
        if is_working_day(current, categories):
            n -= 1
    return current


def working_days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)
            if is_working_day(first + timedelta(days=i))]
