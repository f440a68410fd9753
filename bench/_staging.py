"""Staging helper for benchmarks: a generated scenario straight into the store, no JSON file, no HTTP.

`stage_generated(engine, tenant, employees, period, ...)` streams `mocks.generator.iter_records`, turns each record
into the domain record the connectors would make of it (validated with the domain models, as at the connector
boundary) and stages it with the store's own `repository.stage`, buffered per (kind, month) and flushed in chunks
(default 5,000 rows, one transaction per chunk). What it does the way the pipeline does:

- units get their level from their depth in the tree (0 pemda, 1 opd, 2 bidang, deeper seksi), as
  `BknClient.units` works it out;
- an activity sent twice under one id keeps its first copy (the pipeline keeps the first and quarantines the other);
- evidence and approvals are staged under their activity's month, as e-Kinerja's `periode` filter returns them.

What it does differently: evidence checks are not fetched and verified one document at a time. The generator points
every evidence item at a small pool of signed PDFs (`mocks.generator.document_pool`), so each pool document is
judged once: its real SHA-256 is hashed from its bytes and its TTE verdict follows its kind (valid -> VALID,
foreign-signed -> INVALID, unsigned -> NO_SIGNATURE, altered after signing -> INVALID, what the BSrE mock answers for
them); every evidence item then gets the check of its document, saved with `repository.save_checks`.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine

from gateway.domain import (
    Activity,
    Approval,
    Attendance,
    Employee,
    Evidence,
    EvidenceCheck,
    Indicator,
    Programme,
    TteConclusion,
    Unit,
)
from gateway.store import repository as repo
from mocks.generator import document_pool, iter_records

_VERDICT = {"valid": (TteConclusion.VALID, "Dokumen valid, Sertifikat yang digunakan terpercaya"),
            "foreign": (TteConclusion.INVALID, "Dokumen tidak valid: sertifikat tidak terpercaya"),
            "unsigned": (TteConclusion.NO_SIGNATURE, "Dokumen tidak memiliki tanda tangan elektronik"),
            "altered": (TteConclusion.INVALID, "Dokumen tidak valid: dokumen diubah setelah ditandatangani")}
_LEVELS = {0: "pemda", 1: "opd", 2: "bidang"}


@dataclass
class StagingStats:
    staged: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # duplicate activity copies, not staged
    checks: int = 0
    transactions: int = 0
    seconds: float = 0.0


class _Buffers:
    """Rows per (kind, month) until `chunk` of them are there; each flush is one transaction."""

    def __init__(self, engine: Engine, tenant: str, chunk: int, stats: StagingStats,
                 now: Callable[[], datetime]) -> None:
        self.engine, self.tenant, self.chunk, self.stats, self.now = engine, tenant, chunk, stats, now
        self.items: dict[tuple[str, str | None], list[Any]] = {}

    def add(self, kind: str, period: str | None, item: Any) -> None:
        key = (kind, period)
        items = self.items.get(key)
        if items is None:
            items = self.items[key] = []
        items.append(item)
        if len(items) >= self.chunk:
            self.flush(key)

    def flush(self, key: tuple[str, str | None]) -> None:
        items = self.items.pop(key, None)
        if not items:
            return
        kind, period = key
        with self.engine.begin() as conn:
            if kind == "check":
                repo.save_checks(conn, self.tenant, period or "", items, self.now())
                self.stats.checks += len(items)
            else:
                repo.stage(conn, self.tenant, kind, items, period, self.now())
                self.stats.staged[kind] += len(items)
        self.stats.transactions += 1

    def flush_all(self) -> None:
        for key in list(self.items):
            self.flush(key)


def _levels(units: list[dict[str, Any]]) -> dict[str, str]:
    parent = {u["id"]: u.get("parent_id") for u in units}
    depth: dict[str, int] = {}
    for uid in parent:
        chain: list[str] = []
        current: str | None = uid
        while current is not None and current not in depth and current in parent and current not in chain:
            chain.append(current)
            current = parent[current]
        base = depth.get(current, -1) if current is not None else -1
        for i, cid in enumerate(reversed(chain)):
            depth[cid] = base + 1 + i
    return {uid: _LEVELS.get(d, "seksi") for uid, d in depth.items()}


def stage_generated(engine: Engine, tenant: str, employees: int, period: str, *, seed: int = 1,
                    bad_share: float = 0.02, chunk: int = 5_000,
                    now: Callable[[], datetime] = lambda: datetime.now(UTC),
                    progress: Callable[[str], None] | None = None) -> StagingStats:
    """Generate one tenant's period with `iter_records` and stage it all; returns what was staged.

    Cyclic garbage collection runs a hundred times less often meanwhile: the records make no cycles, and each
    collection would walk the buffered ones again (paused altogether, the cycles each statement leaves behind pile
    up: a gigabyte over a DKI quarter)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 20, 20)
    try:
        return _stage_generated(engine, tenant, employees, period, seed, bad_share, chunk, now, progress)
    finally:
        gc.set_threshold(*thresholds)


def _stage_generated(engine: Engine, tenant: str, employees: int, period: str, seed: int, bad_share: float,
                     chunk: int, now: Callable[[], datetime], progress: Callable[[str], None] | None
                     ) -> StagingStats:
    started = time.perf_counter()
    stats = StagingStats()
    buffers = _Buffers(engine, tenant, chunk, stats, now)
    pool = {d.id: d for d in document_pool()}
    checks = {doc_id: (hashlib.sha256(d.pdf).hexdigest(),) + _VERDICT[d.kind] for doc_id, d in pool.items()}
    units: list[dict[str, Any]] = []
    last_id, month = "", ""
    validate: dict[str, Callable[[Any], BaseModel]] = {
        name: model.model_validate for name, model in (
            ("unit", Unit), ("employee", Employee), ("indicator", Indicator), ("activity", Activity),
            ("evidence", Evidence), ("approval", Approval), ("attendance", Attendance), ("programme", Programme))}
    count = 0
    for kind, rec in iter_records(tenant, employees, period, seed, bad_share):
        count += 1
        if progress is not None and count % 1_000_000 == 0:
            progress(f"{count:,} records generated and staged ({time.perf_counter() - started:.0f} s)")
        if kind == "activity":
            if rec["id"] == last_id:  # the same id again with other content: the first copy is kept
                stats.skipped["activity"] += 1
                continue
            last_id, day = rec["id"], rec["date"]
            month = day[:7]
            buffers.add("activity", month, validate["activity"]({
                "id": rec["id"], "nip": rec["nip"], "indicator_id": rec["indicator_id"], "day": day,
                "quantity": rec["quantity"], "kind": rec["kind"], "description": rec["description"],
                "entered_at": rec["entered_at"]}))
        elif kind == "evidence":
            if rec["activity_id"] != last_id:
                raise ValueError(f"evidence {rec['id']} does not follow its activity {rec['activity_id']}")
            doc = rec.pop("document_id")
            rec.pop("document_variant", None)  # a document of its own: the template's verdict (nothing is fetched here)
            rec.pop("signature", None)
            buffers.add("evidence", month, validate["evidence"](rec))
            if doc in checks:
                actual, tte, description = checks[doc]
            else:  # a document of its own (`tpl-<kind>` + variant): the kind's verdict; an altered one's bytes differ
                kind = doc.removeprefix("tpl-")
                tte, description = _VERDICT[kind]
                actual = (rec["sha256"] if kind != "altered"
                          else hashlib.sha256(f"altered:{rec['id']}".encode()).hexdigest())
            buffers.add("check", month, EvidenceCheck(evidence_id=rec["id"], actual_sha256=actual, tte=tte,
                                                      tte_description=description))
        elif kind == "approval":
            if rec["activity_id"] != last_id:
                raise ValueError(f"approval {rec['id']} does not follow its activity {rec['activity_id']}")
            rec.setdefault("approved", True)  # the scenario format's default
            buffers.add("approval", month, validate["approval"](rec))
        elif kind == "plan":
            for ind in rec["indicators"]:
                buffers.add("indicator", rec["period"], validate["indicator"]({
                    "id": ind["id"], "nip": rec["nip"], "period": rec["period"], "rhk": rec["rhk"],
                    "name": ind["name"], "weight": Decimal(ind["weight"]), "target": Decimal(ind["target"])}))
        elif kind == "unit":
            units.append(rec)
        elif kind == "employee":
            if units:  # the units are all there: stage them first, with their levels
                levels = _levels(units)
                for u in units:
                    buffers.add("unit", None, validate["unit"]({
                        "id": u["id"], "name": u["name"], "parent_id": u.get("parent_id"),
                        "head_nip": u.get("head_nip"), "level": levels.get(u["id"], "seksi")}))
                buffers.flush(("unit", None))
                units = []
            for payroll_only in ("bank_account", "bank_code", "bank_name"):  # the HR listing's, not BKN's
                rec.pop(payroll_only, None)
            buffers.add("employee", None, validate["employee"](rec))
        elif kind in ("attendance", "programme"):
            buffers.add(kind, rec["period"], validate[kind](rec))
        # "scenario" and "document" records carry nothing to stage
    buffers.flush_all()
    stats.seconds = time.perf_counter() - started
    return stats

