"""The CLI's tables, readable at 80 columns: NIPs and amounts are never cut (they keep their width and do not
wrap), everything else folds onto further lines instead of ending in an ellipsis. Numbers go through
`gateway.domain.fmt` (one money format, scores to two decimals); OPDs and units are shown by name."""

from __future__ import annotations

import re
from typing import Any

from rich.table import Table

from gateway.store import repository as repo

NIP_WIDTH = 18
MONEY_WIDTH = len("Rp 10.800.000")  # a kelas 15 ceiling; wider amounts widen their column (they never wrap)


def table(title: str) -> Table:
    """A table that folds its long cells rather than cutting them, its title wrapped too."""
    return Table(title=title, title_justify="left")


def text_column(t: Table, name: str, *, min_width: int | None = None, justify: Any = "left") -> None:
    t.add_column(name, overflow="fold", min_width=min_width, justify=justify)


def whole_column(t: Table, name: str, *, min_width: int | None = None, justify: Any = "left") -> None:
    """A column whose values are never broken or cut: NIPs, amounts, statuses, ids."""
    t.add_column(name, no_wrap=True, overflow="ignore", min_width=min_width, justify=justify)


def nip_column(t: Table, name: str = "NIP") -> None:
    whole_column(t, name, min_width=NIP_WIDTH)


def money_column(t: Table, name: str) -> None:
    whole_column(t, name, min_width=MONEY_WIDTH, justify="right")


def unit_names(conn: Any, tenant: str) -> dict[str, str]:
    """The names of the tenant's units and OPDs as staged from BKN (id -> name)."""
    return {u.id: u.name for u in repo.staged(conn, tenant, "unit")}


def named(names: dict[str, str], unit_id: str | None) -> str:
    """A unit or OPD by its name; an id the store knows no name for, as the id."""
    if not unit_id:
        return ""
    return names.get(unit_id) or unit_id


def aggregate(key: str, tenant: str, names: dict[str, str]) -> str:
    """An outbox aggregate (`tenant/period/OPD id` for payroll rows, `tenant/period/spbe` ...) for the tenant's
    table: without the tenant, its parts apart (they wrap between words) and an OPD by its name."""
    parts = key.split("/")
    if parts[0] == tenant and len(parts) > 1:
        parts = parts[1:]
    return " ".join(names.get(part, part) for part in parts)


_STATUS = re.compile(r"\banswered (\d{3})\b")


def error_summary(error: str | None) -> str:
    """The short form of an outbox row's last error for its table cell: the HTTP status where there was one."""
    if not error:
        return ""
    found = _STATUS.search(error)
    return f"HTTP {found.group(1)}" if found else "error"
