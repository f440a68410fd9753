"""Small-cell suppression for published tables: which cells may show a figure, which are folded into "lainnya".

A cell (an OPD, a unit in a month, a score band) computed from fewer than `k` employees shows no average, share
or amount: it is folded into one "lainnya" (other) row that shows how many employees it holds. The table's total
is published too, so "lainnya" is itself a cell that subtraction recovers (total minus the shown cells): when it
holds fewer than `k` employees, the next-smallest shown cell is folded into it as well (complementary
suppression) until it holds `k` or more, and then no folded cell alone can be recovered from what is shown: the
folded group always has two or more cells and only their sum is published. A table whose total is below `k`
shows no figure at all, only counts.

Empty cells (no employee) are shown: they reveal nobody's figure. The decision reads counts only, so any number
of measures (amounts, score sums, indicators met) can be published by the same plan.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Suppression(Generic[K]):
    """The plan for one table: `shown` cells show their figures; `folded` ones are summed into "lainnya"."""

    k: int
    shown: tuple[K, ...]  # in the caller's order
    folded: tuple[K, ...]  # in the caller's order
    other_count: int  # employees in "lainnya"
    other_shown: bool  # "lainnya" may show its figures (it holds k or more)
    total_count: int
    total_shown: bool  # the total may show its figures (the table holds k or more)
    _shown: frozenset[K] = field(default=frozenset(), init=False, repr=False, compare=False)

    def shows(self, key: K) -> bool:
        return key in self._shown

    def __post_init__(self) -> None:
        object.__setattr__(self, "_shown", frozenset(self.shown))


def plan(counts: Mapping[K, int], k: int) -> Suppression[K]:
    """Decide, from each cell's employee count, which cells a published table may show (see the module doc).

    Folding order for the complementary step: the smallest shown cell first, ties by the caller's order.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    if any(n < 0 for n in counts.values()):
        raise ValueError("a cell cannot hold a negative number of employees")
    order = {key: i for i, key in enumerate(counts)}
    folded = {key for key, n in counts.items() if 0 < n < k}
    other = sum(counts[key] for key in folded)
    if folded and other < k:
        for key in sorted((c for c in counts if c not in folded and counts[c] > 0),
                          key=lambda c: (counts[c], order[c])):
            folded.add(key)
            other += counts[key]
            if other >= k:
                break
    total = sum(counts.values())
    return Suppression(k=k, shown=tuple(c for c in counts if c not in folded),
                       folded=tuple(c for c in counts if c in folded), other_count=other,
                       other_shown=bool(folded) and other >= k, total_count=total, total_shown=total >= k)
