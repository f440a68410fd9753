"""Working days in WIB: Monday-Friday minus Indonesian national holidays and cuti bersama.

The `holidays` package carries both (categories "public" and "government"); a tenant may add dates of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

WIB = ZoneInfo("Asia/Jakarta")
END_OF_DAY = time(23, 59, 59)


@lru_cache(maxsize=64)
def _national(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("ID", categories=("government", "public"), years=year))


class WorkingDayCalendar:
    """Which days an Indonesian civil servant works, and deadlines counted in working days."""

    def __init__(self, extra_holidays: Iterable[date] = ()) -> None:
        self._extra = frozenset(extra_holidays)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in _national(day.year) and day not in self._extra

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n >= 1); `day` itself never counts."""
        if n < 1:
            raise ValueError("n must be at least 1")
        current = day
        while n:
            current += timedelta(days=1)
            if self.is_working_day(current):
                n -= 1
        return current

    def deadline(self, day: date, n: int) -> datetime:
        """End (23:59:59 WIB) of the n-th working day after `day`."""
        return datetime.combine(self.add_working_days(day, n), END_OF_DAY, tzinfo=WIB)

    def holiday_name(self, day: date) -> str | None:
        if day in self._extra:
            return "tenant holiday"
        return holidays.country_holidays("ID", categories=("government", "public"), years=day.year).get(day)
