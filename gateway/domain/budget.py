"""The budget ceiling (pagu: an OPD's yearly TPP budget, issue 18): the year's forecast against it. Pure: amounts in,
lines out; `gateway/store/budget.py` reads the amounts from the store.

The forecast of an OPD's year, computed when a period is computed:

    forecast = spent in the year's earlier periods
             + this period's computed amount
             + for each later period of the year: what payroll already holds for it, if anything,
               else this period's amount again

"Spent" is what the payroll ledger covers (lines pending, booked or of unknown fate; rejected, unsent and void
lines cover nothing). A warning is raised when, and only when, the forecast is above the pagu, i.e. when what the
rest of the year will cost at this period's rate is more than the pagu left after the earlier periods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.domain.period import Period


def year_periods(period: Period, payment: str) -> list[str]:
    """The labels of every payment period of `period`'s year, in order (months, or quarters when paid quarterly)."""
    year = period.first.year
    if payment == "quarterly":
        return [f"{year}-Q{q}" for q in range(1, 5)]
    return [f"{year}-{m:02d}" for m in range(1, 13)]


@dataclass(frozen=True)
class BudgetLine:
    """One OPD's year against its pagu, as of one computed period (rupiah)."""

    opd_id: str
    period: str
    pagu: int
    spent_before: int  # covered by payroll in the year's periods before this one
    spent: int  # covered by payroll in every period of the year so far (this one and any later included)
    this_period: int  # this period's computed amount (current results)
    later: tuple[int | None, ...]  # each later period of the year: what payroll holds for it, None: nothing yet
    forecast: int

    @property
    def remaining(self) -> int:
        """The pagu left after the earlier periods."""
        return self.pagu - self.spent_before

    @property
    def warning(self) -> bool:
        return self.forecast > self.pagu

    def as_json(self) -> dict[str, object]:
        return {"opd_id": self.opd_id, "period": self.period, "pagu": self.pagu, "spent": self.spent,
                "spent_before": self.spent_before, "this_period": self.this_period,
                "periods_left": len(self.later), "forecast": self.forecast, "remaining": self.remaining,
                "warning": self.warning}


def forecast(spent_before: int, this_period: int, later: Sequence[int | None]) -> int:
    """The year's forecast: the earlier periods as spent, this period as computed, each later one as payroll holds
    it or, if nothing yet, at this period's amount."""
    return spent_before + this_period + sum(this_period if held is None else held for held in later)


def assess(period: str, payment: str, pagu: Mapping[str, int], this_period: Mapping[str, int],
           covered: Mapping[tuple[str, str], int]) -> list[BudgetLine]:
    """Every OPD with a pagu, as of `period`: `this_period` OPD -> the period's computed amount; `covered`
    (OPD, period) -> what payroll covers for that OPD and period (any period; only the year's are read)."""
    current = Period.parse(period)
    labels = year_periods(current, payment)
    if current.label not in labels:
        raise ValueError(f"period {period} is not a {payment} payment period")
    at = labels.index(current.label)
    earlier, later_labels = labels[:at], labels[at + 1:]
    out = []
    for opd_id in sorted(pagu):
        amount = this_period.get(opd_id, 0)
        before = sum(covered.get((opd_id, p), 0) for p in earlier)
        later = tuple(covered.get((opd_id, p)) or None for p in later_labels)
        spent = before + sum(covered.get((opd_id, p), 0) for p in labels[at:])
        out.append(BudgetLine(opd_id=opd_id, period=current.label, pagu=pagu[opd_id], spent_before=before,
                              spent=spent, this_period=amount, later=later,
                              forecast=forecast(before, amount, later)))
    return out
