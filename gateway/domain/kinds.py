"""The kinds of records the gateway stages, one registry: a stream's declaration adds its kind here, and the store
stages and reads any registered kind without knowing it by name."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from gateway.domain.models import (
    Activity,
    Approval,
    Attendance,
    BankAccount,
    Employee,
    Evidence,
    Indicator,
    Person,
    Position,
    Programme,
    Unit,
)


@dataclass(frozen=True)
class RecordKind:
    name: str  # the store's `records.kind`
    model: type[BaseModel]  # the domain record
    key: str = "id"  # the record's attribute that names it (the NIP for one record per employee)


KINDS: dict[str, RecordKind] = {}


def register(name: str, model: type[BaseModel], key: str = "id") -> RecordKind:
    """Add a kind; registering the same kind again with the same model is a no-op, with another one an error."""
    kind = RecordKind(name, model, key)
    found = KINDS.setdefault(name, kind)
    if found != kind:
        raise ValueError(f"record kind {name!r} is already registered for {found.model.__name__}")
    return found


for _name, _model in (("unit", Unit), ("indicator", Indicator), ("activity", Activity), ("evidence", Evidence),
                      ("approval", Approval), ("attendance", Attendance), ("programme", Programme),
                      ("position", Position)):
    register(_name, _model)
register("employee", Employee, key="nip")
register("bank_account", BankAccount, key="nip")  # the city's HR listing; read by payroll, not by the schemes
register("person", Person, key="nip")  # SIASN data-utama; read by payroll
