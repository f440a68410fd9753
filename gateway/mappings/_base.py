"""What every scheme is: a pure function from normalised period data and settings to results and problems.

At national scale a period may not fit in memory at once (a DKI quarter is ~4 M activities). A scheme can then
say what it reads and how its employees split into groups that compute independently; see `plan_parts` and
`compute_in_parts`. A scheme that says neither is computed on the whole period, as before.
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from gateway.domain import Employee, PeriodData, Problem, Result, Unit


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
    """A scheme. Optional, for scale (duck-typed, see `plan_parts` and `compute_in_parts`):

    - `inputs: ClassVar[frozenset[str]]`: the kinds of records `compute` reads (unit, employee, indicator, activity,
      evidence, approval, check, attendance, programme); a loader may leave the others out of the PeriodData.
    - `partition(units, employees, settings, max_employees) -> list[list[str]]`: groups of NIPs, each closed under
      everything one employee's result depends on, so that each group can be computed from its own records (and all
      units); every NIP of `employees` in exactly one group.
    - `compute_parts(parts, settings) -> Outcome`: the outcome of the parts, one PeriodData per group, equal to
      `compute` of the whole (same results and problems, in the same order).
    """

    name: ClassVar[str]
    settings_model: ClassVar[type[SchemeSettings]]

    def compute(self, data: PeriodData, settings: Any) -> Outcome: ...


def plan_parts(scheme: Any, units: Sequence[Unit], employees: Sequence[Employee], settings: Any,
               max_employees: int | None) -> list[list[str]] | None:
    """The NIP groups to compute one at a time, or None: the whole period at once (small enough, or a scheme that
    cannot be split)."""
    partition = getattr(scheme, "partition", None)
    if partition is None or max_employees is None or len({e.nip for e in employees}) <= max_employees:
        return None
    groups: list[list[str]] = partition(units, employees, settings, max_employees)
    return groups if len(groups) > 1 else None


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: a period's records and results form no reference cycles, and at DKI
    scale each full collection would walk millions of them for nothing (a fifth of a computation's time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compute_in_parts(scheme: Any, parts: Iterable[PeriodData], settings: Any,
                     keep: Callable[[Result], bool] | None = None) -> Outcome:
    """`scheme.compute` over a period handed out in parts (`plan_parts`' groups, in order); one part: `compute`.

    The one way to compute a period, whole (one part) or in parts; cyclic garbage collection is paused meanwhile.
    `keep`: the results to keep (the others are dropped as each part is computed, where the scheme's
    `compute_parts` takes it, so a city's worth of results set aside is never held at once).
    """
    with gc_paused():
        own = getattr(scheme, "compute_parts", None)
        if own is not None:
            if keep is not None and "keep" in inspect.signature(own).parameters:
                return own(parts, settings, keep=keep)  # type: ignore[no-any-return]
            outcome: Outcome = own(parts, settings)
        else:
            whole = list(parts)
            if len(whole) != 1:
                raise ValueError(f"scheme {scheme.name!r} cannot compute a period in {len(whole)} parts")
            outcome = scheme.compute(whole[0], settings)
        if keep is not None:  # a new outcome: what a scheme returned is not changed under it
            outcome = Outcome([r for r in outcome.results if keep(r)], list(outcome.problems))
        return outcome


def merge_by_nip(outcomes: Iterable[Outcome], order: Callable[[Problem], Any] | None = None) -> Outcome:
    """The parts' outcomes as one: results by NIP, problems by `order` (default: by NIP); both sorts are stable."""
    merged = Outcome()
    for outcome in outcomes:
        merged.results.extend(outcome.results)
        merged.problems.extend(outcome.problems)
    merged.results.sort(key=lambda r: r.nip)
    merged.problems.sort(key=order or (lambda p: p.nip or ""))
    return merged


def pack_groups(components: Iterable[Sequence[str]], max_employees: int) -> list[list[str]]:
    """Components of NIPs (each indivisible) packed in order into groups of at most `max_employees` NIPs; a component
    bigger than that makes a group of its own."""
    groups: list[list[str]] = []
    current: list[str] = []
    for component in components:
        if current and len(current) + len(component) > max_employees:
            groups.append(current)
            current = []
        current.extend(component)
    if current:
        groups.append(current)
    return groups


class UnitSets:
    """Union-find over unit ids: units joined here end up in the same part."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, unit: str) -> str:
        parent = self.parent
        root = parent.setdefault(unit, unit)
        while root != parent[root]:
            root = parent[root]
        while unit != root:  # path compression
            parent[unit], unit = root, parent[unit]
        return root

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def components(self, employees: Iterable[Employee]) -> list[list[str]]:
        """The employees' NIPs by the set of their unit, each set's NIPs sorted, sets ordered by their first NIP."""
        by_root: dict[str, set[str]] = defaultdict(set)
        for emp in employees:
            by_root[self.find(emp.unit_id)].add(emp.nip)
        return sorted((sorted(nips) for nips in by_root.values()), key=lambda nips: nips[0])


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
