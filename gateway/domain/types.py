"""What a field may be: the constrained types the wire models and the canonical records share.

The boundary's one promise is that the store never sees a value it cannot hold and compute never sees one it
cannot finish: every id fits its column and carries no control character, every decimal is plain text with
bounded digits inside a declared range (no exponents, no NaN), every timestamp carries a zone, every text is
bounded and free of NUL. Shapes are checked whole (`fullmatch`, `len`): a regex's `$` lets a trailing newline
through, and a NIP `"...\\n"` was paid on SQLite before this module. Every refusal names the rule in words.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

ID_MAX = 64
"""Ids upstream sends (activities, evidence, approvals, units, indicators): the staging and check columns hold 64."""

# C0 controls, space, DEL and C1 controls: nothing an id may hold.
_ID_BAD = re.compile(r"[\x00-\x20\x7f-\x9f]")
# Text may carry tabs and line breaks, never NUL or other control characters (PostgreSQL refuses NUL in text).
_TEXT_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_id(value: str) -> str:
    bad = _ID_BAD.search(value)
    if bad:
        raise ValueError(f"id holds {bad.group()!r} at position {bad.start()}; ids have no whitespace or control "
                         "characters")
    return value


def _check_text(value: str) -> str:
    bad = _TEXT_BAD.search(value)
    if bad:
        raise ValueError(f"text holds the control character {bad.group()!r} at position {bad.start()}")
    return value


def _check_nip(value: str) -> str:
    """NIP: birth date YYYYMMDD, appointment YYYYMM, sex digit 1/2, serial NNN (ASCII digits only)."""
    if len(value) != 18 or not value.isascii() or not value.isdigit():
        raise ValueError(f"NIP {value!r} is not 18 digits")
    try:
        date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
    except ValueError as exc:
        raise ValueError(f"NIP {value!r} does not start with a valid birth date") from exc
    if not 1 <= int(value[12:14]) <= 12:
        raise ValueError(f"NIP {value!r} has no valid appointment month")
    if value[14] not in "12":
        raise ValueError(f"NIP {value!r} has sex digit {value[14]!r}, expected 1 or 2")
    return value


NIP = Annotated[str, StringConstraints(max_length=40), AfterValidator(_check_nip)]
"""A civil servant's NIP (18 digits)."""

Ident = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX), AfterValidator(_check_id)]
"""An upstream record id: 1 to 64 characters, no whitespace or control characters."""

def _check_period(value: str) -> str:
    if len(value) != 7 or not _PERIOD.fullmatch(value):
        raise ValueError(f"period {value[:20]!r} is not a month YYYY-MM")
    return value


_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
Period = Annotated[str, StringConstraints(max_length=20), AfterValidator(_check_period)]
"""A month, `YYYY-MM`."""

def _check_sha256(value: str) -> str:
    if not _SHA256.fullmatch(value):
        raise ValueError(f"sha256 {value[:70]!r} is not 64 lowercase hex digits")
    return value


_SHA256 = re.compile(r"[0-9a-f]{64}")
Sha256 = Annotated[str, StringConstraints(max_length=200), AfterValidator(_check_sha256)]


def Text(max_length: int) -> type[str]:  # noqa: N802 - reads as a type in annotations
    """Free text of at most `max_length` characters, no NUL or control characters (tabs and newlines allowed)."""
    return Annotated[str, StringConstraints(max_length=max_length),  # type: ignore[return-value]
                     AfterValidator(_check_text)]


# Written out (not `Text(200)`) so that type checkers read them as the types they are.
Name = Annotated[str, StringConstraints(max_length=200), AfterValidator(_check_text)]
"""A person's, unit's, position's or programme's name."""
Description = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_check_text)]
"""An activity's description, an indicator's wording."""
Short = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_text)]
"""A unit of measure, a file's kind."""
Code = Annotated[str, StringConstraints(max_length=32), AfterValidator(_check_text)]
"""A code or short label: eselon, golongan, position group, NIK, kind."""


def _decimal_text(int_digits: int, places: int, low: Decimal, high: Decimal, what: str) -> AfterValidator:
    shape = re.compile(rf"-?[0-9]{{1,{int_digits}}}(\.[0-9]{{1,{places}}})?")

    def check(value: str) -> str:
        if not shape.fullmatch(value):
            raise ValueError(f"{what} {value[:40]!r} is not a plain decimal with at most {int_digits} digits "
                             f"before the point and {places} after (no exponent)")
        if not low <= Decimal(value) <= high:
            raise ValueError(f"{what} {value} is outside {low}..{high}")
        return value
    return AfterValidator(check)


# A decimal sent as text: plain digits (at most `int_digits` before the point, `places` after), no exponent, no sign
# other than a leading minus, within [low, high]. Kept as text on the wire; the record reads it as a `Decimal` that
# exact arithmetic finishes on in microseconds. The 100-character cap is cheap and loose, before the pattern, so a
# value a few digits too long gets the rule's own message.
Weight = Annotated[str, StringConstraints(max_length=100), _decimal_text(3, 4, Decimal(0), Decimal(100), "weight")]
"""An indicator's weight in percent: 0 to 100, at most 4 decimals."""
Target = Annotated[str, StringConstraints(max_length=100),
                   _decimal_text(9, 4, Decimal("0.0001"), Decimal(999_999_999), "target")]
"""An indicator's monthly target: positive, below a billion, at most 4 decimals."""
Quantity = Annotated[str, StringConstraints(max_length=100),
                     _decimal_text(9, 4, Decimal(0), Decimal(999_999_999), "quantity")]
"""An activity's realised quantity: 0 to below a billion, at most 4 decimals."""

Latitude = Annotated[Decimal, Field(ge=-90, le=90, max_digits=12, decimal_places=8, allow_inf_nan=False)]
Longitude = Annotated[Decimal, Field(ge=-180, le=180, max_digits=12, decimal_places=8, allow_inf_nan=False)]


def _no_exponent(value: object) -> object:
    """A decimal given as text must be plain digits: `1E+999999999` is a number no exact arithmetic finishes on."""
    if isinstance(value, str) and ("e" in value or "E" in value):
        raise ValueError(f"{value[:40]!r} uses an exponent; send plain decimal digits")
    return value


PlainDecimal = Annotated[Decimal, BeforeValidator(_no_exponent)]

WIB_YEARS = (2000, 2100)


def _plausible(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp has no time zone; upstream times must be zone-aware (WIB)")
    if not WIB_YEARS[0] <= value.year < WIB_YEARS[1]:
        raise ValueError(f"timestamp {value.isoformat()} is outside {WIB_YEARS[0]}..{WIB_YEARS[1] - 1}")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_plausible)]
"""A timestamp with its zone, in this century."""

__all__ = ["NIP", "AwareDatetime", "Description", "Ident", "Latitude", "Longitude", "Name", "Period",
           "PlainDecimal", "Quantity", "Sha256", "Short", "Code", "Target", "Text", "Weight"]
