"""Small-cell suppression (gateway/domain/disclosure.py): no published figure comes from fewer than k employees,
and no folded cell can be recovered from the published figures by subtraction."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.disclosure import Suppression, plan

tables = st.dictionaries(st.text("abcdefghij", min_size=1, max_size=3), st.integers(0, 40), max_size=12)
ks = st.integers(1, 12)


def _rank(rows: list[list[Fraction]]) -> int:
    """Rank by exact Gaussian elimination (tables are small)."""
    m = [r[:] for r in rows]
    rank, cols = 0, len(m[0]) if m else 0
    for col in range(cols):
        pivot = next((i for i in range(rank, len(m)) if m[i][col] != 0), None)
        if pivot is None:
            continue
        m[rank], m[pivot] = m[pivot], m[rank]
        for i in range(len(m)):
            if i != rank and m[i][col] != 0:
                factor = m[i][col] / m[rank][col]
                m[i] = [a - factor * b for a, b in zip(m[i], m[rank], strict=True)]
        rank += 1
    return rank


def published_equations(cells: list[str], p: Suppression[str]) -> list[list[Fraction]]:
    """What a reader learns about the cells' amounts, as linear equations: each shown cell's own figure, the sum of
    the folded ones ("lainnya") where it is shown, and the sum of all where the total is shown."""
    one, zero = Fraction(1), Fraction(0)
    rows = [[one if c == s else zero for c in cells] for s in p.shown]
    if p.other_shown:
        rows.append([one if c in p.folded else zero for c in cells])
    if p.total_shown:
        rows.append([one] * len(cells))
    return rows


@given(tables, ks)
def test_no_published_figure_comes_from_fewer_than_k_employees(counts: dict[str, int], k: int) -> None:
    p = plan(counts, k)
    assert set(p.shown) | set(p.folded) == set(counts) and not set(p.shown) & set(p.folded)
    assert all(counts[c] == 0 or counts[c] >= k for c in p.shown)
    assert p.other_count == sum(counts[c] for c in p.folded)
    assert not p.other_shown or p.other_count >= k
    assert p.total_count == sum(counts.values()) and p.total_shown == (p.total_count >= k)


@given(tables, ks)
def test_a_folded_cell_cannot_be_recovered_by_subtraction(counts: dict[str, int], k: int) -> None:
    p = plan(counts, k)
    cells = list(counts)
    rows = published_equations(cells, p)
    base = _rank(rows) if rows else 0
    for c in p.folded:
        unit = [Fraction(1) if x == c else Fraction(0) for x in cells]
        # c's amount is recoverable exactly when its unit vector lies in the span of what is published
        assert _rank([*rows, unit]) == base + 1, f"{c} ({counts[c]} employees) recoverable from {p}"


@given(tables, ks)
def test_only_what_must_be_hidden_is_hidden(counts: dict[str, int], k: int) -> None:
    """At most one cell of k or more is folded, and only when the small ones alone would be recoverable."""
    p = plan(counts, k)
    large_folded = [c for c in p.folded if counts[c] >= k]
    assert len(large_folded) <= 1
    if large_folded:
        assert sum(counts[c] for c in p.folded if counts[c] < k) < k


def test_one_small_opd_takes_the_next_smallest_with_it() -> None:
    # A total of 3 + 6 + 40 is published. Folding only the OPD of 3 would publish "lainnya" = that OPD.
    p = plan({"Dinas A": 40, "Dinas B": 3, "Dinas C": 6}, 5)
    assert p.shown == ("Dinas A",) and p.folded == ("Dinas B", "Dinas C")
    assert (p.other_count, p.other_shown, p.total_count, p.total_shown) == (9, True, 49, True)


def test_small_cells_that_together_reach_k_fold_alone() -> None:
    p = plan({"u1": 2, "u2": 3, "u3": 10, "u4": 8}, 5)
    assert p.folded == ("u1", "u2") and p.other_count == 5 and p.other_shown


def test_a_table_below_k_shows_counts_only() -> None:
    p = plan({"u1": 2, "u2": 1}, 5)
    assert p.shown == () and not p.other_shown and not p.total_shown


def test_empty_cells_are_shown_and_never_fold() -> None:
    p = plan({"0-9": 0, "10-19": 3, "20-29": 12, "30-39": 0}, 5)
    assert p.folded == ("10-19", "20-29") and p.shown == ("0-9", "30-39")


def test_k_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        plan({"a": 1}, 0)
