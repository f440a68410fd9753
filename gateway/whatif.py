"""What-if (issue 18): a period computed again from the stored inputs under changed scheme settings, writing nothing.

The computation is the compute stage's own (`gateway.stages.compute.PeriodRun`, the same reads, parts, holds and
releases), on a connection that only reads and is rolled back; nothing is saved, audited, queued or published.
Held employees keep their stored result, as a real run would leave it; an employee the changed run no longer
produces counts as 0 under the change (a real run would withdraw their result).
"""

from __future__ import annotations

import copy
import tomllib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine

from gateway.errors import ConfigurationError, GatewayError
from gateway.settings import TenantConfig
from gateway.stages.compute import PeriodRun, scheme_for
from gateway.store import repository as repo


class WhatIfError(GatewayError):
    """An operator's what-if request that cannot run: a bad KEY=VALUE, or settings the scheme refuses."""


@dataclass
class OpdWhatIf:
    opd_id: str
    opd: str
    today: int = 0  # rupiah: the stored current results' amounts
    changed: int = 0  # rupiah: the same period computed under the changed settings
    gain: int = 0  # employees paid more under the change
    lose: int = 0
    stay: int = 0

    @property
    def difference(self) -> int:
        return self.changed - self.today


@dataclass
class WhatIf:
    tenant: str
    period: str
    changes: dict[str, Any]
    opds: list[OpdWhatIf] = field(default_factory=list)

    @property
    def total(self) -> OpdWhatIf:
        out = OpdWhatIf(opd_id="", opd="total")
        for o in self.opds:
            out.today += o.today
            out.changed += o.changed
            out.gain += o.gain
            out.lose += o.lose
            out.stay += o.stay
        return out

    def as_json(self) -> dict[str, Any]:
        def row(o: OpdWhatIf) -> dict[str, Any]:
            return asdict(o) | {"difference": o.difference}

        total = row(self.total)
        del total["opd_id"], total["opd"]
        return {"tenant": self.tenant, "period": self.period, "changes": self.changes,
                "opds": [row(o) for o in self.opds], "total": total}


def parse_change(text: str) -> tuple[list[str], Any]:
    """`KEY=VALUE`: KEY a dotted path into the tenant's scheme settings, VALUE a TOML value (`3`, `"1.5"`, `true`,
    `[...]`, `{...}`), else the text as a string."""
    key, sep, raw = text.partition("=")
    path = key.strip().split(".")
    if not sep or not all(p.strip() for p in path):
        raise WhatIfError(f"--set {text!r}: expected KEY=VALUE with KEY a dotted path into the scheme settings "
                          "(e.g. --set min_score=50)")
    raw = raw.strip()
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return [p.strip() for p in path], value


def changed_settings(settings: dict[str, Any], changes: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tenant's scheme settings with each `KEY=VALUE` applied (a deep copy), and the changes by dotted key."""
    out = copy.deepcopy(settings)
    shown: dict[str, Any] = {}
    for text in changes:
        path, value = parse_change(text)
        node = out
        for i, step in enumerate(path[:-1]):
            child = node.get(step)
            if child is None:
                child = node[step] = {}
            elif not isinstance(child, dict):
                raise WhatIfError(f"--set {text!r}: {'.'.join(path[:i + 1])} is a value, not a table")
            node = child
        node[path[-1]] = value
        shown[".".join(path)] = value
    return out, shown


def what_if(engine: Engine, tenant: str, config: TenantConfig, period: str, changes: list[str], *,
            max_employees: int | None = None) -> WhatIf:
    """The period under the changed settings against the stored current results, per OPD (WhatIfError: a bad
    KEY=VALUE or settings the scheme's model refuses, in one line)."""
    settings, shown = changed_settings(config.settings, changes)
    try:
        scheme, scheme_settings = scheme_for(tenant, config.scheme, settings)
    except ConfigurationError as exc:
        cause = exc.__cause__
        errors = getattr(cause, "errors", None)
        if callable(errors):
            detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors())
        else:
            detail = str(cause or exc)
        raise WhatIfError(f"--set: the {config.scheme} scheme refuses the changed settings: {detail}") from None
    with engine.connect() as conn:
        try:
            before = {r.nip: r for r in repo.load_results(conn, tenant, period)}
            units = {u.id: u.name for u in repo.staged(conn, tenant, "unit")}
            run = PeriodRun(scheme, scheme_settings, tenant, period)
            run.prepare(conn, max_employees)
            after: dict[str, tuple[str, int]] = {}
            for part in run.results(conn):
                after.update((r.nip, (r.opd_id, r.amount)) for r in part)
            for nip in run.held():  # a real run leaves a held employee's result as it is
                if nip in before:
                    after[nip] = (before[nip].opd_id, before[nip].amount)
        finally:
            conn.rollback()  # nothing was written; nothing can be
    opds: dict[str, OpdWhatIf] = {}

    def opd(opd_id: str) -> OpdWhatIf:
        if opd_id not in opds:
            opds[opd_id] = OpdWhatIf(opd_id=opd_id, opd=units.get(opd_id, opd_id))
        return opds[opd_id]

    amounts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for nip, r in before.items():
        opd(r.opd_id).today += r.amount
        amounts[nip][0] = r.amount
    for nip, (opd_id, amount) in after.items():
        opd(opd_id).changed += amount
        amounts[nip][1] = amount
    for nip, (today, changed) in amounts.items():
        # Counted in the OPD the employee is in under the change (where a real run would pay them).
        row = opd(after[nip][0] if nip in after else before[nip].opd_id)
        if changed > today:
            row.gain += 1
        elif changed < today:
            row.lose += 1
        else:
            row.stay += 1
    return WhatIf(tenant=tenant, period=period, changes=shown, opds=sorted(opds.values(), key=lambda o: o.opd_id))
