"""How numbers are shown to people: one money format, scores and other figures to two decimal places.

Indonesian notation everywhere a person reads a number (CLI tables, explanation texts, reconcile details): `.`
groups thousands, `,` separates decimals. Money is `Rp 1.234.567` (a negative amount `-Rp 1.234.567`); an exact
share of a rupiah that is not whole (an explanation's intermediate value) shows two decimals, `Rp 1.170.000,33`.

Display only: the values kept (int rupiah, exact fractions as text in `Result.score`, `ExplanationLine.rupiah`,
`Result.metrics`, every `--json`) are never rounded. Where a figure is rounded for display it is rounded half up
(half away from zero: 2/3 -> `0,67`, 1/200 -> `0,01`, -1/200 -> `-0,01`), never half to even.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

__all__ = ["Exact", "decimal", "exact", "number", "rupiah", "score"]

Exact = int | Fraction | Decimal | str
"""A value as the gateway keeps it: an int, a Fraction, a Decimal, or their text (`"130/3"`, `"0.6"`, `"42"`)."""


def exact(value: Exact) -> Fraction:
    """The exact value of `value` (text as stored: `"130/3"`, `"12.5"`)."""
    return value if isinstance(value, Fraction) else Fraction(value)


def _grouped(whole: int) -> str:
    """A non-negative integer with `.` between groups of three digits."""
    return f"{whole:,}".replace(",", ".")


def _rounded(value: Fraction, places: int) -> tuple[bool, int, int]:
    """(negative, whole part, the `places` decimals as an int) of |value| rounded half up to `places` places."""
    scale = 10 ** places
    magnitude = abs(value)
    # floor(|v| x 10^p + 1/2), in integers: half up on the magnitude, i.e. half away from zero.
    scaled = (2 * magnitude.numerator * scale + magnitude.denominator) // (2 * magnitude.denominator)
    whole, decimals = divmod(scaled, scale)
    return value < 0 and scaled != 0, whole, decimals


def decimal(value: Exact, places: int = 2) -> str:
    """`value` to exactly `places` decimals (rounded half up), thousands grouped: `1.234,50`, `43,33`, `-0,50`."""
    negative, whole, decimals = _rounded(exact(value), places)
    text = _grouped(whole) + (f",{decimals:0{places}d}" if places else "")
    return f"-{text}" if negative else text


def number(value: Exact) -> str:
    """A figure in a text: a whole number as it is (`5`, `1.200`), any other to two decimals (`8,33`)."""
    v = exact(value)
    if v.denominator == 1:
        return f"-{_grouped(-v.numerator)}" if v < 0 else _grouped(v.numerator)
    return decimal(v, 2)


def score(value: Exact) -> str:
    """A score (0-100 as the schemes compute it): always two decimals, `43,33`, `100,00`."""
    return decimal(value, 2)


def rupiah(value: Exact) -> str:
    """Money: `Rp 1.234.567`, `-Rp 337.500`; a non-whole exact share to two decimals, `Rp 1.170.000,33`."""
    text = number(value)
    return f"-Rp {text[1:]}" if text.startswith("-") else f"Rp {text}"
