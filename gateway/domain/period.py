"""Payment periods: months `2026-01` and quarters `2026-Q1`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from gateway.domain.errors import InvalidPeriod

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True, order=True)
class Period:
    """A month or a quarter; `first` and `last` are inclusive dates."""

    first: date
    last: date
    label: str

    @classmethod
    def parse(cls, text: str) -> Period:
        if m := _MONTH.match(text):
            year, month = int(m[1]), int(m[2])
            first = date(year, month, 1)
            nxt = date(year + (month == 12), month % 12 + 1, 1)
            return cls(first, nxt - timedelta(days=1), text)
        if m := _QUARTER.match(text):
            year, q = int(m[1]), int(m[2])
            first = date(year, 3 * q - 2, 1)
            nxt = date(year + (q == 4), (3 * q) % 12 + 1, 1)
            return cls(first, nxt - timedelta(days=1), text)
        raise InvalidPeriod(f"period {text!r} is neither a month (YYYY-MM) nor a quarter (YYYY-Qn)")

    @property
    def is_quarter(self) -> bool:
        return "Q" in self.label

    def months(self) -> list[str]:
        """The month labels inside the period: itself for a month, three for a quarter."""
        return [f"{self.first.year}-{m:02d}" for m in range(self.first.month, self.last.month + 1)]

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last

    def __str__(self) -> str:
        return self.label
