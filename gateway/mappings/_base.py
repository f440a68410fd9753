"""What every scheme is: a pure function from normalised period data and settings to results and problems."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from gateway.domain import PeriodData, Problem, Result, Unit


class SchemeSettings(BaseModel):
    """Base of every scheme's settings: validated data from the tenant's TOML section."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def version(self) -> str:
        """A stable fingerprint of the settings, stored with every result computed under them."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


@dataclass
class Outcome:
    results: list[Result] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class Scheme(Protocol):
    name: ClassVar[str]
    settings_model: ClassVar[type[SchemeSettings]]

    def compute(self, data: PeriodData, settings: Any) -> Outcome: ...


def fraction_text(value: Fraction) -> str:
    """Exact text for a fraction: an integer where it is one, else `n/d`."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def opd_of(units: dict[str, Unit], unit_id: str) -> str | None:
    """The OPD (department) at or above `unit_id`; None for an unknown unit, a unit outside any OPD or a cycle."""
    seen: set[str] = set()
    current = units.get(unit_id)
    while current is not None and current.id not in seen:
        if current.level == "opd":
            return current.id
        seen.add(current.id)
        current = units.get(current.parent_id) if current.parent_id else None
    return None
