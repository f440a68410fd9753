"""Repositories over the tables. Every function takes the tenant and filters on it.

Bulk paths (a DKI month is ~1.4 M activities, a quarter ~4 M; docs/design.md "Measured at a city's scale"):

- `stage` hashes and serialises each payload once (orjson where its bytes are provably those of the canonical
  `json.dumps`) and writes the chunk in one `executemany` whose values are already in the driver's form, so no
  per-row bind processing runs; on PostgreSQL in one upsert statement fed from arrays (see `_upsert_postgresql`).
- Reading (`staged`, `load_period`, `iter_period`) fetches the payload text only, parses it with orjson and builds
  the domain records without validating them again: they were validated on the way in, by `stage`'s caller, and
  are rebuilt exactly as validation would (field order, types, pydantic's time zones, all fields set); their
  constraints are not checked again. A payload whose keys are not exactly its model's fields, or a value in another
  form than `stage` writes, is validated in full. Repeated values (NIPs, unit ids, kinds, dates, small decimals)
  are shared between records, and cyclic garbage collection pauses while millions of them are built.
- `iter_period` also hands out a period in parts (groups of NIPs the scheme can compute one at a time), reading
  each kind once and spilling each part's rows to a temporary file, so that memory holds one part at a time.
"""

from __future__ import annotations

import gc
import hashlib
import json
import pickle
import sys
import tempfile
import types
import typing
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import IO, Any

import orjson
from pydantic import BaseModel
from pydantic_core import SchemaValidator, core_schema
from sqlalchemy import (
    Connection,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects import postgresql, sqlite

from gateway.domain import (
    BankAccount,
    EvidenceCheck,
    Period,
    PeriodData,
    Problem,
    Result,
    TteConclusion,
)
from gateway.domain import kinds as record_kinds
from gateway.domain.errors import UnknownKind
from gateway.store._safe import safe_id, safe_payload, safe_text
from gateway.store.tables import evidence_checks, lookups, quarantine, records, results, sync_cursors


class _Models(Mapping[str, type[BaseModel]]):
    """Record kind -> domain model, read live from the registry (`gateway.domain.kinds`): a declared stream's kind
    is staged and read like the built-in ones."""

    def __getitem__(self, kind: str) -> type[BaseModel]:
        return record_kinds.KINDS[kind].model

    def __iter__(self) -> Iterator[str]:
        return iter(record_kinds.KINDS)

    def __len__(self) -> int:
        return len(record_kinds.KINDS)


KINDS: Mapping[str, type[BaseModel]] = _Models()
# What `load_period` / `iter_period` can read: the staged kinds a scheme computes from and the evidence checks.
INPUTS: frozenset[str] = frozenset({"unit", "employee", "indicator", "activity", "evidence", "approval",
                                    "attendance", "programme", "check", "position"})
_ROWS_PER_FETCH = 10_000


def dialect_insert(conn: Connection, table: Table) -> Any:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def content_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _canonical(payload: dict[str, Any], floats: bool = True) -> bytes:
    """`json.dumps(payload, sort_keys=True, separators=(",", ":"))` as bytes, by orjson where that is the same.

    orjson gives the same bytes for ASCII text without DEL and no floats (float text can differ; `floats=False`
    says the payload's model has none); otherwise, or if orjson refuses the value (a non-string key, an integer
    over 64 bits), the standard library writes it.
    """
    try:
        text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        text = None
    if text is None or not text.isascii() or b"\x7f" in text or (floats and _has_float(payload)):
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return text


def _has_float(value: Any) -> bool:
    todo = [value]
    while todo:
        item = todo.pop()
        kind = type(item)
        if kind is dict:
            todo.extend(item.values())
        elif kind is list or kind is tuple:
            todo.extend(item)
        elif kind is float:
            return True
    return False


_FLOAT_FREE: dict[type, bool] = {}


def _float_free(model: type[BaseModel]) -> bool:
    """Whether no field of `model` (nested models included) can hold a float: its JSON dump then has none."""
    found = _FLOAT_FREE.get(model)
    if found is None:
        found = _FLOAT_FREE[model] = all(_annotation_float_free(f.annotation, set())
                                         for f in model.model_fields.values())
    return found


def _annotation_float_free(annotation: Any, seen: set[Any]) -> bool:
    if annotation in (str, int, bool, Decimal, date, datetime, type(None)):
        return True
    if isinstance(annotation, type) and issubclass(annotation, Enum) and not issubclass(annotation, float):
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return True
        seen.add(annotation)
        return all(_annotation_float_free(f.annotation, seen) for f in annotation.model_fields.values())
    origin = typing.get_origin(annotation)
    if origin is not None:  # Union, Annotated, tuple, list, dict...: every argument
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            args = args[:1]
        return all(a is Ellipsis or _annotation_float_free(a, seen) for a in args)
    return False  # float, Any, or a type not known here


def _executemany(conn: Connection, stmt: Any, keys: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Execute `stmt` once per row (values in `keys` order) with values already in the driver's form: no per-row
    bind processing. The statement is compiled for the connection's dialect (casts such as PostgreSQL's `::JSON`
    included) and the rows go to the driver's `executemany` as they are."""
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys))
    if not compiled.positional:
        conn.exec_driver_sql(str(compiled), [dict(zip(keys, row, strict=True)) for row in rows])
        return
    order = list(compiled.positiontup or [])
    if order != list(keys):
        where = [list(keys).index(k) for k in order]
        rows = [tuple(row[i] for i in where) for row in rows]
    conn.exec_driver_sql(str(compiled), rows)


def _driver_value(conn: Connection, column: Any, value: Any) -> Any:
    """`value` as the column's type would hand it to the driver (e.g. a timestamp as SQLite text)."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process is not None else value


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while millions of records (which form no cycles) are built: each collection
    would walk every record built so far, and together they cost about as much as building them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class StageCount:
    new: int = 0
    changed: int = 0
    unchanged: int = 0

    def add(self, other: StageCount) -> None:
        self.new, self.changed, self.unchanged = (self.new + other.new, self.changed + other.changed,
                                                  self.unchanged + other.unchanged)


@dataclass(frozen=True)
class Encoded:
    """Records as the store keeps them: each one's canonical JSON text and its SHA-256, computed once (`encode`)
    and used by the sync's duplicate check and by `stage` alike."""

    items: list[BaseModel]
    texts: list[bytes]
    digests: list[str]

    def pick(self, keep: Sequence[int]) -> Encoded:
        return Encoded([self.items[i] for i in keep], [self.texts[i] for i in keep], [self.digests[i] for i in keep])


def encode(items: Sequence[BaseModel]) -> Encoded:
    """Each record's canonical payload text and content digest (what `stage` stores and compares)."""
    if not items:
        return Encoded([], [], [])
    floats = not _float_free(type(items[0]))
    texts = [_canonical(item.model_dump(mode="json"), floats) for item in items]
    return Encoded(list(items), texts, [hashlib.sha256(text).hexdigest() for text in texts])


def stage(conn: Connection, tenant: str, kind: str, items: Sequence[BaseModel] | Encoded, period: str | None,
          now: datetime) -> StageCount:
    """Upsert validated records of one kind (or records `encode`d already); counts what was new, changed and
    unchanged."""
    count = StageCount()
    if not (items.items if isinstance(items, Encoded) else items):
        return count
    with _gc_paused():
        return _stage(conn, tenant, kind, items if isinstance(items, Encoded) else encode(items), period, now, count)


def _stage(conn: Connection, tenant: str, kind: str, encoded: Encoded, period: str | None,
           now: datetime, count: StageCount) -> StageCount:
    items, texts, digests = encoded.items, encoded.texts, encoded.digests
    ids = [_record_id(kind, item) for item in items]
    if conn.dialect.name == "postgresql" and len(set(ids)) == len(ids):
        return _upsert_postgresql(conn, tenant, kind, items, period, now, ids, texts, digests, count)
    existing = dict(conn.execute(select(records.c.id, records.c.content_hash).where(
        records.c.tenant == tenant, records.c.kind == kind, records.c.id.in_(ids))).all())
    staged_at = _driver_value(conn, records.c.staged_at, now)
    rows = []
    for rid, item, text, digest in zip(ids, items, texts, digests, strict=True):
        if existing.get(rid) == digest:
            count.unchanged += 1
            continue
        if rid in existing:
            count.changed += 1
        else:
            count.new += 1
        # The payload goes in as the canonical JSON text (the column's own serialiser would only write it again).
        rows.append((tenant, kind, rid, period, getattr(item, "nip", None), digest, text.decode(), staged_at))
    if rows:
        stmt = dialect_insert(conn, records)  # sqlite's or postgresql's Insert, both with ON CONFLICT
        _executemany(conn, stmt.on_conflict_do_update(
            index_elements=["tenant", "kind", "id"],
            set_={c: stmt.excluded[c] for c in ("period", "nip", "content_hash", "payload", "staged_at")}),
            _RECORD_COLUMNS, rows)
    return count


_RECORD_COLUMNS = ("tenant", "kind", "id", "period", "nip", "content_hash", "payload", "staged_at")


def _upsert_postgresql(conn: Connection, tenant: str, kind: str, items: Sequence[BaseModel], period: str | None,
                       now: datetime, ids: list[str], texts: list[bytes], digests: list[str],
                       count: StageCount) -> StageCount:
    """The chunk in one statement: rows from arrays, inserted, or updated where the content hash differs; the rows
    written come back, flagged inserted or not, and the others were unchanged.

    No `SELECT ... WHERE id IN (...)` first: on PostgreSQL the planner takes the (tenant, kind, period) index for it
    whenever its statistics are stale or the tenant is new to them, as in a first big sync, and each chunk then
    scans every row of the kind staged so far (measured: 26 us a row at first, 3.9 ms a row at 150,000). The
    conflict check of an upsert always goes through the primary key. (Ids repeated within one chunk take the
    general path: an upsert statement may not touch a row twice.)
    """
    arrays = func.unnest(
        bindparam("ids", ids, type_=postgresql.ARRAY(String)),
        bindparam("nips", [getattr(item, "nip", None) for item in items], type_=postgresql.ARRAY(String)),
        bindparam("digests", digests, type_=postgresql.ARRAY(String)),
        bindparam("payloads", [t.decode() for t in texts], type_=postgresql.ARRAY(Text)),
    ).table_valued("id", "nip", "content_hash", "payload").render_derived("incoming")
    rows = select(literal(tenant, String), literal(kind, String), arrays.c.id, literal(period, String),
                  arrays.c.nip, arrays.c.content_hash, cast(arrays.c.payload, records.c.payload.type),
                  literal(now, records.c.staged_at.type))
    insert = postgresql.insert(records).from_select(list(_RECORD_COLUMNS), rows)
    stmt = insert.on_conflict_do_update(
        index_elements=["tenant", "kind", "id"],
        set_={c: insert.excluded[c] for c in ("period", "nip", "content_hash", "payload", "staged_at")},
        where=records.c.content_hash.is_distinct_from(insert.excluded.content_hash),
    ).returning(records.c.id, literal_column("xmax = 0"))
    written = conn.execute(stmt).all()
    inserted = sum(1 for _, new in written if new)
    count.new += inserted
    count.changed += len(written) - inserted
    count.unchanged += len(ids) - len(written)
    return count


def _record_id(kind: str, item: BaseModel) -> str:
    return str(getattr(item, record_kinds.KINDS[kind].key))


# Reading staged records back: trusted rebuilding ----------------------------------------------------------------
_new = object.__new__
_setattr = object.__setattr__
_CACHE_LIMIT = 4096
_DATES: dict[str, date] = {}
_DECIMALS: dict[str, Decimal] = {}
# String fields whose values repeat across records (people, units, kinds): one shared copy of each value.
# (Time zones are not shared: a shared one saves 24 bytes a timestamp but setting it costs more than parsing.)
_SHARED_TEXT = frozenset({"nip", "unit_id", "supervisor_nip", "approver_nip", "indicator_id", "kind", "description",
                          "period", "rhk", "position", "eselon", "position_group", "level", "parent_id",
                          "head_nip", "golongan", "bank_code", "bank_name"})


def _date(value: str) -> date:
    found = _DATES.get(value)
    if found is None:
        if type(value) is not str or len(value) != 10:
            raise ValueError(f"not a date as stored: {value!r}")
        found = date.fromisoformat(value)
        if len(_DATES) < _CACHE_LIMIT:
            _DATES[value] = found
    return found


def _decimal(value: str) -> Decimal:
    found = _DECIMALS.get(value)
    if found is None:
        if type(value) is not str:
            raise ValueError(f"not a decimal as stored: {value!r}")
        found = Decimal(value)
        if len(_DECIMALS) < _CACHE_LIMIT:
            _DECIMALS[value] = found
    return found


_DATETIME = SchemaValidator(core_schema.datetime_schema())


def _datetime(value: str) -> datetime:
    """An aware timestamp parsed as pydantic parses it (its own `TzInfo` zone), by pydantic's own parser."""
    if type(value) is not str:
        raise ValueError(f"not a timestamp as stored: {value!r}")
    parsed: datetime = _DATETIME.validate_python(value)
    if parsed.tzinfo is None:
        raise ValueError(f"not an aware timestamp: {value!r}")
    return parsed


def _ints(value: list[int]) -> tuple[int, ...]:
    if type(value) is not list or any(type(v) is not int for v in value):
        raise ValueError(f"not a list of integers as stored: {value!r}")
    return tuple(value)


def _converter(annotation: Any, name: str) -> tuple[Callable[[Any], Any] | None, bool]:
    """(conversion from the stored JSON value or None for as-is, whether None passes through) for one field."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"field {name}: {annotation} has no trusted reader")
        optional, annotation = True, args[0]
        origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
        origin = typing.get_origin(annotation)
    if annotation is str:
        return (sys.intern if name in _SHARED_TEXT else None), optional
    if annotation in (int, bool):
        return None, optional
    if annotation is Decimal:
        return _decimal, optional
    if annotation is datetime:
        return _datetime, optional
    if annotation is date:
        return _date, optional
    if origin is tuple and typing.get_args(annotation) == (int, ...):
        return _ints, optional
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation, optional
    raise TypeError(f"field {name}: {annotation} has no trusted reader")


class _Rebuild:
    """Builds one model's records from stored payloads as validation would, without validating again.

    The builder is generated from the model's fields: a field the reader cannot rebuild exactly fails at import,
    so a new kind of field is noticed, not silently read as text.
    """

    def __init__(self, model: type[BaseModel]) -> None:
        if not model.model_config.get("frozen"):
            raise TypeError(f"{model.__name__} is not frozen; its records cannot share a fields-set")
        self.model = model
        self.size = len(model.model_fields)
        self.fields_set = set(model.model_fields)  # shared: frozen records never add to it
        env: dict[str, Any] = {}
        lines = ["def build(p):"]
        for i, (name, info) in enumerate(model.model_fields.items()):
            convert, optional = _converter(info.annotation, name)
            lines.append(f"    v{i} = p[{name!r}]")
            if convert is not None:
                env[f"c{i}"] = convert
                lines.append(f"    v{i} = None if v{i} is None else c{i}(v{i})" if optional else
                             f"    v{i} = c{i}(v{i})")
        fields = ", ".join(f"{name!r}: v{i}" for i, name in enumerate(model.model_fields))
        lines.append(f"    return {{{fields}}}")
        exec("\n".join(lines), env)  # noqa: S102 - source built above from the model's own field names
        self._build: Callable[[dict[str, Any]], dict[str, Any]] = env["build"]

    def make(self, values: dict[str, Any]) -> Any:
        obj = _new(self.model)
        _setattr(obj, "__dict__", values)
        _setattr(obj, "__pydantic_fields_set__", self.fields_set)
        _setattr(obj, "__pydantic_extra__", None)
        _setattr(obj, "__pydantic_private__", None)
        return obj

    def __call__(self, payload: Any) -> Any:
        # As many keys as fields and every field's key read by the builder (KeyError otherwise): the same keys.
        if type(payload) is dict and len(payload) == self.size:
            try:
                values = self._build(payload)
            except (KeyError, TypeError, ValueError, ArithmeticError):
                pass
            else:
                return self.make(values)
        return self.model.model_validate(payload)

    def text(self, text: str | bytes) -> Any:
        return self(orjson.loads(text))


_REBUILDERS: dict[str, _Rebuild] = {}


def _rebuild(kind: str) -> _Rebuild:
    """The trusted rebuilder of a registered kind (KeyError for an unknown one), made on first use."""
    found = _REBUILDERS.get(kind)
    if found is None:
        found = _REBUILDERS[kind] = _Rebuild(record_kinds.KINDS[kind].model)
    return found


_CHECK = _Rebuild(EvidenceCheck)
_PERIOD_DATA_FIELDS = set(PeriodData.model_fields)


def _check(evidence_id: str, actual_sha256: str | None, tte: str, tte_description: str) -> EvidenceCheck:
    try:
        return _CHECK.make({"evidence_id": evidence_id,
                            "actual_sha256": None if actual_sha256 is None else sys.intern(actual_sha256),
                            "tte": TteConclusion(tte), "tte_description": sys.intern(tte_description)})
    except (TypeError, ValueError):
        return EvidenceCheck(evidence_id=evidence_id, actual_sha256=actual_sha256, tte=tte,  # type: ignore[arg-type]
                             tte_description=tte_description)


def _stream(conn: Connection, query: Any, *, hash_joins: bool = False) -> Iterator[Any]:
    """Rows of a big query, fetched in batches (a server-side cursor on PostgreSQL).

    `hash_joins`: on PostgreSQL, plan the query without nested loops. Its joins look up rows by primary key, but
    with stale statistics (right after a big sync, or a tenant new to them) the planner may take the (tenant, kind,
    period) index for the lookups instead, and then reads every row of the kind once per row joined.
    """
    restore = None
    if hash_joins and conn.dialect.name == "postgresql":
        restore = conn.execute(sql("SELECT current_setting('enable_nestloop')")).scalar_one()
        conn.execute(sql("SELECT set_config('enable_nestloop', 'off', true)"))
    try:
        result = conn.execute(query.execution_options(stream_results=True, yield_per=_ROWS_PER_FETCH))
    finally:
        if restore is not None:  # the plan is made: the rest of the transaction plans as before
            conn.execute(sql("SELECT set_config('enable_nestloop', :value, true)"), {"value": restore})
    for batch in result.partitions():
        yield from batch


def _kind_query(tenant: str, kind: str, months: Sequence[str] | None) -> Any:
    query = select(cast(records.c.payload, Text)).where(records.c.tenant == tenant, records.c.kind == kind)
    if months is not None:
        query = query.where(records.c.period.in_(months))
    return query.order_by(records.c.id)


def _read_kind(conn: Connection, tenant: str, kind: str, months: Sequence[str] | None) -> list[Any]:
    text = _rebuild(kind).text
    with _gc_paused():
        return [text(payload) for (payload,) in _stream(conn, _kind_query(tenant, kind, months))]


def _unknown_kind(kind: str) -> UnknownKind:
    return UnknownKind(f"unknown record kind {kind!r}; known: {', '.join(sorted(record_kinds.KINDS))}")


def staged(conn: Connection, tenant: str, kind: str, period: str | None = None) -> list[Any]:
    """Staged records of one kind; `period` may be a month or a quarter (its three months)."""
    if kind not in record_kinds.KINDS:
        raise _unknown_kind(kind)
    return _read_kind(conn, tenant, kind, None if period is None else Period.parse(period).months())


def staged_by_id(conn: Connection, tenant: str, kind: str, ids: Collection[str]) -> dict[str, Any]:
    """The staged records of one kind with these ids, by id (a chunk's worth: the ids go in one IN list)."""
    if kind not in record_kinds.KINDS:
        raise _unknown_kind(kind)
    text = _rebuild(kind).text
    query = select(records.c.id, cast(records.c.payload, Text)).where(
        records.c.tenant == tenant, records.c.kind == kind, records.c.id.in_(list(ids)))
    return {rid: text(payload) for rid, payload in conn.execute(query)}


def save_checks(conn: Connection, tenant: str, period: str, checks: Iterable[EvidenceCheck],
                now: datetime, offline: Mapping[str, tuple[str | None, str | None, Sequence[str]]] | None = None
                ) -> None:
    """Upsert checks; `offline`: evidence id -> the gateway's own PAdES check (conclusion, signer, chain)."""
    checked_at = _driver_value(conn, evidence_checks.c.checked_at, now)
    offline = offline or {}
    none: tuple[None, None, tuple[str, ...]] = (None, None, ())
    # The description is BSrE's own words: escaped and bounded (a NUL in it would end the tick on PostgreSQL).
    rows = [(tenant, c.evidence_id, period, c.actual_sha256, c.tte.value, safe_text(c.tte_description, 2000),
             checked_at, (o := offline.get(c.evidence_id, none))[0],
             None if o[1] is None else safe_text(o[1], 256), json.dumps(list(o[2])) if o[2] else None)
            for c in checks]
    if not rows:
        return
    columns = ("tenant", "evidence_id", "period", "actual_sha256", "tte", "tte_description", "checked_at",
               "offline_tte", "offline_signer", "offline_chain")
    stmt = dialect_insert(conn, evidence_checks)
    _executemany(conn, stmt.on_conflict_do_update(
        index_elements=["tenant", "evidence_id"], set_={c: stmt.excluded[c] for c in columns[2:]}), columns, rows)


def check_details(conn: Connection, tenant: str, evidence_ids: Collection[str]) -> list[dict[str, Any]]:
    """The stored checks of these evidence items, BSrE's verdict and the gateway's own, for `gateway explain`."""
    c = evidence_checks.c
    rows: list[dict[str, Any]] = []
    ids = sorted(evidence_ids)
    for start in range(0, len(ids), 500):
        rows.extend(dict(r) for r in conn.execute(select(
            c.evidence_id, c.tte, c.tte_description, c.offline_tte, c.offline_signer, c.offline_chain).where(
            c.tenant == tenant, c.evidence_id.in_(ids[start:start + 500]))).mappings())
    for row in rows:
        row["offline_chain"] = json.loads(row["offline_chain"]) if row["offline_chain"] else []
    return sorted(rows, key=lambda r: r["evidence_id"])


def _checks_query(tenant: str, months: Sequence[str]) -> Any:
    c = evidence_checks.c
    return select(c.evidence_id, c.actual_sha256, c.tte, c.tte_description).where(
        c.tenant == tenant, c.period.in_(months))


def load_checks(conn: Connection, tenant: str, period: str) -> list[EvidenceCheck]:
    with _gc_paused():
        return [_check(*row) for row in _stream(conn, _checks_query(tenant, Period.parse(period).months()))]


def _period_data(tenant: str, period: str, parts: dict[str, Sequence[Any]]) -> PeriodData:
    """PeriodData from records rebuilt above (a tuple per field, every field set, as validation would give)."""
    values: dict[str, Any] = {"tenant": tenant, "period": period}
    for name in ("units", "employees", "indicators", "activities", "evidence", "approvals", "checks", "attendance",
                 "programmes", "positions"):
        values[name] = tuple(parts.get(name, ()))
    obj = _new(PeriodData)
    _setattr(obj, "__dict__", values)
    _setattr(obj, "__pydantic_fields_set__", set(_PERIOD_DATA_FIELDS))
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", None)
    return obj


# PeriodData field -> the staged kind it holds; "checks" come from the evidence_checks table.
_FIELD_KIND = {"units": "unit", "employees": "employee", "indicators": "indicator", "activities": "activity",
               "evidence": "evidence", "approvals": "approval", "checks": "check", "attendance": "attendance",
               "programmes": "programme", "positions": "position"}
_PERIOD_KINDS = ("indicator", "activity", "evidence", "approval", "attendance", "programme")


def _wanted(kinds: Collection[str] | None) -> frozenset[str]:
    if kinds is None:
        return INPUTS
    unknown = set(kinds) - INPUTS
    if unknown:
        raise UnknownKind(f"unknown kinds {sorted(unknown)}; known: {', '.join(sorted(INPUTS))}")
    return frozenset(kinds)


def load_period(conn: Connection, tenant: str, period: str, *, kinds: Collection[str] | None = None) -> PeriodData:
    """Everything staged for the period (a month, or a quarter's three months), as one PeriodData.

    `kinds` (unit, employee, indicator, activity, evidence, approval, check, attendance, programme) limits what is
    read to what a scheme uses (its `inputs`); the others are left empty. Default: everything.
    """
    return next(iter_period(conn, tenant, period, None, kinds=kinds))


def iter_period(conn: Connection, tenant: str, period: str, groups: Sequence[Collection[str]] | None = None, *,
                kinds: Collection[str] | None = None, spill_dir: str | None = None) -> Iterator[PeriodData]:
    """The period's data, whole (`groups` None: one PeriodData, what `load_period` returns) or in parts.

    With `groups` (sets of NIPs, e.g. a scheme's `partition`), one PeriodData per group, in order: every part has
    all units (and programmes, which belong to units) and the whole position history (a supervisor's is needed
    beside their staff's); the employees of its group; and the indicators, activities, attendance of those NIPs,
    with the evidence and approvals of those activities and the checks of that evidence.
    Records of a NIP in no group (and evidence or checks whose activity is not staged) go with the first part, so
    the parts together hold exactly the whole. Each kind is read once: rows are routed to their part as they come,
    in id order, and written to a temporary file per part (in `spill_dir`), so memory holds one part at a time.
    """
    months = Period.parse(period).months()
    wanted = _wanted(kinds)
    units = _read_kind(conn, tenant, "unit", None) if "unit" in wanted else []
    employees = _read_kind(conn, tenant, "employee", None) if "employee" in wanted else []
    programmes = _read_kind(conn, tenant, "programme", months) if "programme" in wanted else []
    # The whole history, one tuple that every part carries as it is (`tuple()` of a tuple is itself).
    positions = tuple(_read_kind(conn, tenant, "position", None)) if "position" in wanted else ()
    if groups is None:
        parts: dict[str, Sequence[Any]] = {"units": units, "employees": employees, "programmes": programmes,
                                           "positions": positions}
        for name, kind in _FIELD_KIND.items():
            if name not in parts:
                parts[name] = (load_checks(conn, tenant, period) if kind == "check" else
                               _read_kind(conn, tenant, kind, months)) if kind in wanted else []
        yield _period_data(tenant, period, parts)
        return
    part_of = {nip: index for index, nips in enumerate(groups) for nip in nips}
    with _Spill(len(groups), spill_dir) as spill:
        for name, kind in _FIELD_KIND.items():
            if kind in wanted and kind in _PERIOD_KINDS and kind != "programme":
                spill.route(name, _routed_rows(conn, tenant, kind, months), part_of)
        if "check" in wanted:
            spill.route("checks", _routed_checks(conn, tenant, months), part_of)
        by_part: list[list[Any]] = [[] for _ in groups]
        for emp in employees:
            by_part[part_of.get(emp.nip, 0)].append(emp)
        for index in range(len(groups)):
            parts = {"units": units, "employees": by_part[index], "programmes": programmes, "positions": positions}
            with _gc_paused():
                for name, texts in spill.read(index):
                    rebuild = _check_text if name == "checks" else _rebuild(_FIELD_KIND[name]).text
                    parts.setdefault(name, []).extend(rebuild(t) for t in texts)  # type: ignore[attr-defined]
            yield _period_data(tenant, period, parts)
            by_part[index] = []


def _check_text(text: str | bytes) -> EvidenceCheck:
    return _check(*orjson.loads(text))


def _routed_rows(conn: Connection, tenant: str, kind: str, months: Sequence[str]) -> Iterator[tuple[Any, str]]:
    """(NIP, payload text) of one kind's rows, in id order: evidence and approvals take their activity's NIP."""
    if kind not in ("evidence", "approval"):
        query = select(records.c.nip, cast(records.c.payload, Text)).where(
            records.c.tenant == tenant, records.c.kind == kind, records.c.period.in_(months)).order_by(records.c.id)
        return _stream(conn, query)
    item, act = records.alias("item"), records.alias("act")
    query = (select(act.c.nip, cast(item.c.payload, Text))
             .select_from(item.outerjoin(act, and_(act.c.tenant == item.c.tenant, act.c.kind == "activity",
                                                   act.c.id == item.c.payload["activity_id"].as_string())))
             .where(item.c.tenant == tenant, item.c.kind == kind, item.c.period.in_(months))
             .order_by(item.c.id))
    return _stream(conn, query, hash_joins=True)


def _routed_checks(conn: Connection, tenant: str, months: Sequence[str]) -> Iterator[tuple[Any, bytes]]:
    """(NIP, check as JSON) of the period's checks: the NIP of the activity of the evidence checked."""
    c = evidence_checks.c
    ev, act = records.alias("ev"), records.alias("act")
    query = (select(act.c.nip, c.evidence_id, c.actual_sha256, c.tte, c.tte_description)
             .select_from(evidence_checks
                          .outerjoin(ev, and_(ev.c.tenant == c.tenant, ev.c.kind == "evidence",
                                              ev.c.id == c.evidence_id))
                          .outerjoin(act, and_(act.c.tenant == c.tenant, act.c.kind == "activity",
                                               act.c.id == ev.c.payload["activity_id"].as_string())))
             .where(c.tenant == tenant, c.period.in_(months)))
    dumps = orjson.dumps
    return ((nip, dumps(rest)) for nip, *rest in _stream(conn, query, hash_joins=True))


class _Spill:
    """One temporary file per part: rows are appended as pickled batches of (PeriodData field, [payload text])."""

    BATCH = 5_000

    def __init__(self, parts: int, spill_dir: str | None) -> None:
        self.files: list[IO[bytes]] = [tempfile.TemporaryFile(prefix="period-part-", dir=spill_dir)
                                       for _ in range(parts)]

    def __enter__(self) -> _Spill:
        return self

    def __exit__(self, *exc: object) -> None:
        for f in self.files:
            f.close()

    def route(self, name: str, rows: Iterable[tuple[Any, Any]], part_of: dict[str, int]) -> None:
        buffers: list[list[Any]] = [[] for _ in self.files]
        files, limit, where = self.files, self.BATCH, part_of.get
        for nip, text in rows:
            index = where(nip, 0)
            buffer = buffers[index]
            buffer.append(text)
            if len(buffer) >= limit:
                pickle.dump((name, buffer), files[index], protocol=pickle.HIGHEST_PROTOCOL)
                buffer.clear()
        for index, buffer in enumerate(buffers):
            if buffer:
                pickle.dump((name, buffer), files[index], protocol=pickle.HIGHEST_PROTOCOL)

    def read(self, index: int) -> Iterator[tuple[str, list[Any]]]:
        f = self.files[index]
        f.flush()
        f.seek(0)
        while True:
            try:
                yield pickle.load(f)  # noqa: S301 - our own temporary file, written above
            except EOFError:
                break
        f.close()


def add_quarantine(conn: Connection, tenant: str, period: str | None, problems: Iterable[Problem],
                   payloads: dict[str, Any] | None, now: datetime) -> int:
    """Record problems; a problem already open for the same record and rule is kept once.

    What a refused record carries is stored safely (`_safe`): its id escaped and cut to the column with a digest,
    its message escaped and bounded, its upstream payload escaped and cut with a marker when huge."""
    # "" rather than NULL for records outside any period: NULL never conflicts, so they would pile up.
    rows = [{"tenant": tenant, "period": period or "", "record_kind": p.record_kind[:32],
             "record_id": safe_id(p.record_id, 128), "rule": p.rule[:64], "message": safe_text(p.message, 8000),
             "payload": safe_payload((payloads or {}).get(p.record_id)), "created_at": now} for p in problems]
    if not rows:
        return 0
    stmt = dialect_insert(conn, quarantine)
    # The same record failing the same rule again reopens its entry, unless an operator discarded it.
    reopen = case((quarantine.c.resolution == "discarded", quarantine.c.resolved_at), else_=None)
    result = conn.execute(stmt.on_conflict_do_update(
        index_elements=["tenant", "period", "record_kind", "record_id", "rule"],
        set_={"message": stmt.excluded.message, "payload": stmt.excluded.payload, "resolved_at": reopen,
              "resolution": case((quarantine.c.resolution == "discarded", quarantine.c.resolution), else_=None),
              "created_at": case((quarantine.c.resolved_at.is_(None), quarantine.c.created_at),
                                 else_=stmt.excluded.created_at)}), rows)
    return result.rowcount


def open_quarantine_ids(conn: Connection, tenant: str, period: str | None, record_kind: str) -> set[str]:
    """The record ids with an open entry of this kind in this period ("" or None: outside any period)."""
    return {rid for (rid,) in conn.execute(select(quarantine.c.record_id).where(
        quarantine.c.tenant == tenant, quarantine.c.period == (period or ""),
        quarantine.c.record_kind == record_kind[:32], quarantine.c.resolved_at.is_(None)))}


def open_entries(conn: Connection, tenant: str, period: str | None,
                 problems: Iterable[Problem]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The open entries of these problems' records (kind, id, rule) -> the entry; nothing is asked when there are
    no problems (a clean page costs no query)."""
    wanted = {(p.record_kind[:32], safe_id(p.record_id, 128), p.rule[:64]) for p in problems}
    ids = sorted({rid for _k, rid, _r in wanted})
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        for row in conn.execute(select(*_ENTRY).where(
                quarantine.c.tenant == tenant, quarantine.c.period == (period or ""),
                quarantine.c.record_id.in_(ids[start:start + 500]), quarantine.c.resolved_at.is_(None))).mappings():
            key = (row["record_kind"], row["record_id"], row["rule"])
            if key in wanted:
                out[key] = dict(row)
    return out


_ENTRY = (quarantine.c.id, quarantine.c.period, quarantine.c.record_kind, quarantine.c.record_id, quarantine.c.rule,
          quarantine.c.created_at, quarantine.c.resolved_at, quarantine.c.resolution, quarantine.c.resolution_reason)


def resolve_clean(conn: Connection, tenant: str, period: str | None, record_kind: str, record_ids: Collection[str],
                  now: datetime, closed: list[dict[str, Any]] | None = None) -> int:
    """Close the open entries of these records, which came back clean (staged, and no problem this time):
    resolution "clean". Returns how many closed; the closed entries are added to `closed` if given."""
    clean = sorted({safe_id(r, 128) for r in record_ids})
    count = 0
    for start in range(0, len(clean), 500):
        rows = conn.execute(update(quarantine).where(
            quarantine.c.tenant == tenant, quarantine.c.period == (period or ""),
            quarantine.c.record_kind == record_kind[:32],
            quarantine.c.record_id.in_(clean[start:start + 500]), quarantine.c.resolved_at.is_(None))
            .values(resolved_at=now, resolution="clean", resolved_by="gateway",
                    resolution_reason="the record came back clean").returning(*_ENTRY)).mappings().all()
        count += len(rows)
        if closed is not None:
            closed.extend(dict(r) for r in rows)
    return count


BOUNDARY_RULES = ("wire-format", "duplicate-id")  # what a sync quarantines; everything else is a computation's


def resolve_absent(conn: Connection, tenant: str, period: str, problems: Iterable[Problem], now: datetime,
                   closed: list[dict[str, Any]] | None = None) -> int:
    """Close the period's open entries that a computation made and the latest one no longer finds (the record was
    corrected upstream, or the settings changed): resolution "clean". Returns how many closed; the closed entries
    are added to `closed` if given."""
    found = {(p.record_kind[:32], safe_id(p.record_id, 128), p.rule[:64]) for p in problems}
    stale = [i for i, kind, rid, rule in conn.execute(select(
        quarantine.c.id, quarantine.c.record_kind, quarantine.c.record_id, quarantine.c.rule).where(
        quarantine.c.tenant == tenant, quarantine.c.period == period, quarantine.c.resolved_at.is_(None),
        quarantine.c.rule.not_in(BOUNDARY_RULES))) if (kind, rid, rule) not in found]
    for start in range(0, len(stale), 500):
        rows = conn.execute(update(quarantine).where(quarantine.c.id.in_(stale[start:start + 500])).values(
            resolved_at=now, resolution="clean", resolved_by="gateway",
            resolution_reason="the latest computation no longer finds it").returning(*_ENTRY)).mappings().all()
        if closed is not None:
            closed.extend(dict(r) for r in rows)
    return len(stale)


def resolve_entry(conn: Connection, tenant: str, entry_id: int, resolution: str, actor: str, reason: str,
                  now: datetime) -> dict[str, Any] | None:
    """An operator closes one open entry (`retry` or `discarded`); None if the tenant has no such open entry."""
    row = conn.execute(select(quarantine).where(quarantine.c.tenant == tenant, quarantine.c.id == entry_id,
                                                quarantine.c.resolved_at.is_(None))).mappings().first()
    if row is None:
        return None
    conn.execute(update(quarantine).where(quarantine.c.id == entry_id).values(
        resolved_at=now, resolution=resolution, resolved_by=actor[:64], resolution_reason=safe_text(reason, 2000)))
    return dict(row)


def list_quarantine(conn: Connection, tenant: str, period: str | None = None, *,
                    include_resolved: bool = False) -> list[dict[str, Any]]:
    query = select(quarantine).where(quarantine.c.tenant == tenant)
    if not include_resolved:
        query = query.where(quarantine.c.resolved_at.is_(None))
    if period is not None:  # a quarter also shows what its months' syncs held back
        query = query.where(quarantine.c.period.in_(sorted({period, "", *Period.parse(period).months()})))
    return [dict(r) for r in conn.execute(query.order_by(quarantine.c.id)).mappings()]


def save_results(conn: Connection, items: Sequence[Result], now: datetime) -> None:
    """Store results as current (a result withdrawn earlier and computed again is current again)."""
    if not items:
        return
    rows = [{**r.model_dump(mode="json", exclude={"lines", "input_ids"}),
             "lines": [line.model_dump(mode="json") for line in r.lines], "input_ids": list(r.input_ids),
             "computed_at": now, "withdrawn_at": None, "withdrawn_reason": None} for r in items]
    stmt = dialect_insert(conn, results)
    keys = [c for c in rows[0] if c not in ("tenant", "period", "nip")]
    conn.execute(stmt.on_conflict_do_update(index_elements=["tenant", "period", "nip"],
                                            set_={c: stmt.excluded[c] for c in keys}), rows)


def load_results(conn: Connection, tenant: str, period: str, nip: str | None = None) -> list[Result]:
    """The current results (withdrawn ones are in `load_withdrawn`)."""
    query = select(results).where(results.c.tenant == tenant, results.c.period == period,
                                  results.c.withdrawn_at.is_(None))
    if nip is not None:
        query = query.where(results.c.nip == nip)
    rows = conn.execute(query.order_by(results.c.nip)).mappings()
    return [Result.model_validate({**{k: v for k, v in r.items()
                                      if k not in ("computed_at", "withdrawn_at", "withdrawn_reason")},
                                   "metrics": r["metrics"] or {}}) for r in rows]


def withdraw_results(conn: Connection, tenant: str, period: str, reasons: dict[str, str], now: datetime) -> int:
    """Results the latest computation no longer produces stop being current, each with its reason."""
    count = 0
    for nip, reason in sorted(reasons.items()):
        count += conn.execute(update(results).where(
            results.c.tenant == tenant, results.c.period == period, results.c.nip == nip,
            results.c.withdrawn_at.is_(None)).values(withdrawn_at=now, withdrawn_reason=reason[:2000])).rowcount
    return count


def load_withdrawn(conn: Connection, tenant: str, period: str, nip: str | None = None) -> list[dict[str, Any]]:
    """Withdrawn results: NIP, OPD, the amount they had, when and why they were withdrawn."""
    query = select(results.c.nip, results.c.opd_id, results.c.amount, results.c.status, results.c.withdrawn_at,
                   results.c.withdrawn_reason).where(results.c.tenant == tenant, results.c.period == period,
                                                     results.c.withdrawn_at.is_not(None))
    if nip is not None:
        query = query.where(results.c.nip == nip)
    return [dict(r) for r in conn.execute(query.order_by(results.c.nip)).mappings()]


def get_records(conn: Connection, tenant: str, kind: str, ids: Collection[str]) -> dict[str, Any]:
    """Staged records of one kind by record id (a NIP for employees), in chunks; ids not staged are absent."""
    if kind not in record_kinds.KINDS:
        raise _unknown_kind(kind)
    text = _rebuild(kind).text
    wanted = sorted(set(ids))
    out: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):
        query = select(records.c.id, cast(records.c.payload, Text)).where(
            records.c.tenant == tenant, records.c.kind == kind, records.c.id.in_(wanted[start:start + 500]))
        for record_id, payload in conn.execute(query):
            out[record_id] = text(payload)
    return out


def load_bank_accounts(conn: Connection, tenant: str, nips: Collection[str] | None = None
                       ) -> dict[str, BankAccount]:
    """Staged bank accounts (the city's HR listing) by NIP: every one, or those of `nips` (a NIP with no account
    is absent)."""
    rebuild = _rebuild("bank_account").text
    base = select(records.c.id, cast(records.c.payload, Text)).where(
        records.c.tenant == tenant, records.c.kind == "bank_account")
    if nips is None:
        return {rid: rebuild(payload) for rid, payload in conn.execute(base.order_by(records.c.id))}
    wanted = sorted(set(nips))
    out: dict[str, BankAccount] = {}
    for start in range(0, len(wanted), 500):
        for rid, payload in conn.execute(base.where(records.c.id.in_(wanted[start:start + 500]))):
            out[rid] = rebuild(payload)
    return out


def lookups_due(conn: Connection, tenant: str, stream: str, *, refresh_before: datetime, limit: int
                ) -> list[tuple[str, str]]:
    """(NIP, employee record hash) of the staged employees a per-employee stream should ask about next, at most
    `limit`: first those never asked or whose e-Kinerja record changed since (its hash differs), by NIP; then those
    last asked before `refresh_before`, oldest first (the slow refresh)."""
    emp, seen = records.alias("emp"), lookups.alias("seen")
    fresh = or_(seen.c.nip.is_(None), seen.c.employee_hash != emp.c.content_hash)
    query = (select(emp.c.id, emp.c.content_hash)
             .select_from(emp.outerjoin(seen, and_(seen.c.tenant == emp.c.tenant, seen.c.stream == stream,
                                                   seen.c.nip == emp.c.id)))
             .where(emp.c.tenant == tenant, emp.c.kind == "employee",
                    or_(fresh, seen.c.fetched_at < refresh_before))
             .order_by(case((fresh, 0), else_=1), seen.c.fetched_at, emp.c.id).limit(limit))
    return [(nip, digest) for nip, digest in conn.execute(query)]


def looked_up(conn: Connection, tenant: str, stream: str, kind: str,
              answers: dict[str, tuple[str, Encoded, bool]], now: datetime) -> StageCount:
    """Store what a per-employee stream answered for each NIP (NIP -> (employee hash, its records, whether the
    answer is whole)): the records staged; where the answer is whole, the NIP's earlier records of that kind that
    it no longer holds removed (the answer is the whole history); every NIP marked asked now."""
    count = StageCount()
    nips = [nip for nip, (_d, _e, whole) in answers.items() if whole]
    if not answers:
        return count
    kept: list[str] = []
    for _digest, encoded, _whole in answers.values():
        count.add(stage(conn, tenant, kind, encoded, None, now))
        kept.extend(_record_id(kind, item) for item in encoded.items)
    conn.execute(records.delete().where(records.c.tenant == tenant, records.c.kind == kind,
                                        records.c.nip.in_(nips), records.c.id.not_in(kept)))
    conn.execute(lookups.delete().where(lookups.c.tenant == tenant, lookups.c.stream == stream,
                                        lookups.c.nip.in_(list(answers))))
    conn.execute(lookups.insert(), [{"tenant": tenant, "stream": stream, "nip": nip, "employee_hash": digest,
                                     "fetched_at": now} for nip, (digest, _e, _w) in answers.items()])
    return count


def get_cursor(conn: Connection, tenant: str, stream: str) -> str | None:
    return conn.execute(select(sync_cursors.c.cursor).where(
        and_(sync_cursors.c.tenant == tenant, sync_cursors.c.stream == stream))).scalar_one_or_none()


def clear_cursor(conn: Connection, tenant: str, stream: str) -> bool:
    """Forget a stream's cursor: the next sync reads its listing from the start. Whether there was one."""
    return bool(conn.execute(sync_cursors.delete().where(
        sync_cursors.c.tenant == tenant, sync_cursors.c.stream == stream)).rowcount)


def set_cursor(conn: Connection, tenant: str, stream: str, cursor: str, now: datetime) -> None:
    stmt = dialect_insert(conn, sync_cursors)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["tenant", "stream"], set_={"cursor": stmt.excluded.cursor, "updated_at": now}),
        [{"tenant": tenant, "stream": stream, "cursor": cursor, "updated_at": now}])
