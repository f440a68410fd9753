"""Checks on the org data as a whole, before any scheme runs (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.domain.models import Employee, Problem


def supervisor_cycles(employees: Iterable[Employee]) -> list[Problem]:
    """Every employee whose chain of supervisors loops back on itself (A -> B -> A, or longer).

    Such a chain has no top, so no approval in it can be trusted; each member is quarantined by name until
    BKN's org data is corrected. Employees merely *below* a cycle are not in it and are left alone.
    """
    supervisor = {e.nip: e.supervisor_nip for e in employees}
    in_cycle: dict[str, tuple[str, ...]] = {}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in supervisor:
        path: list[str] = []
        current: str | None = start
        while current is not None and current in supervisor and state.get(current) is None:
            state[current] = 1
            path.append(current)
            current = supervisor[current]
        if current is not None and state.get(current) == 1:
            loop = tuple(path[path.index(current):])
            for nip in loop:
                in_cycle[nip] = loop
        for nip in path:
            state[nip] = 2
    return [Problem(record_kind="employee", record_id=nip, nip=nip, rule="supervisor-cycle",
                    message=f"employee {nip}: the chain of supervisors loops ({' -> '.join((*loop, loop[0]))}); "
                            "approvals in it cannot be trusted until BKN's org data is corrected")
            for nip, loop in sorted(in_cycle.items())]
