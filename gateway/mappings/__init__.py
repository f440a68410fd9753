"""Schemes: one per city, pure functions of normalised period data and the tenant's settings.

New cities ship as their own package and register a scheme class under the entry-point group
`tpp_gateway.schemes`; the built-in ones are known even when the package is not installed.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from gateway.domain.errors import UnknownScheme
from gateway.mappings._base import Outcome, Scheme, SchemeSettings, compute_in_parts, plan_parts
from gateway.mappings._checks import supervisor_disagreements
from gateway.mappings.dki import ClosureCandidate, DkiScheme, DkiSettings, UnitMonth, UnitReport, unit_report
from gateway.mappings.metro import MetroScheme, MetroSettings
from gateway.mappings.pekalongan import PekalonganScheme, PekalonganSettings

_BUILTIN: dict[str, type] = {"metro": MetroScheme, "pekalongan": PekalonganScheme, "dki": DkiScheme}


def available_schemes() -> dict[str, type]:
    found = dict(_BUILTIN)
    for ep in entry_points(group="tpp_gateway.schemes"):
        found.setdefault(ep.name, ep.load())
    return found


def get_scheme(name: str) -> Scheme:
    schemes = available_schemes()
    if name not in schemes:
        raise UnknownScheme(f"unknown scheme {name!r}; installed: {', '.join(sorted(schemes))}")
    return schemes[name]()


__all__ = ["ClosureCandidate", "DkiScheme", "DkiSettings", "MetroScheme", "MetroSettings", "Outcome",
           "PekalonganScheme", "PekalonganSettings", "Scheme", "SchemeSettings", "UnitMonth", "UnitReport",
           "available_schemes", "compute_in_parts", "get_scheme", "plan_parts", "supervisor_disagreements",
           "unit_report"]
