"""SIPD-RI as a payroll destination: one "TPP" workbook per outbox row (one OPD's batch), written once.

Most cities have no finance-office API: their TPP reaches SIPD-RI as a workbook the finance office uploads.
Each payroll row becomes `<dir>/<tenant>/<period>/<key>.xlsx` (`KOREKSI_<key>.xlsx` for an adjustment batch),
named after its idempotency key, written through a temporary file and a hard link so that it appears whole and
only once: a resend, or a second relay, finds it there and answers with the same file. The answer carries the
workbook's path and SHA-256; a written workbook is acknowledged line by line, except the lines that cannot go in
it (a first payment for an employee with no bank account in the city's HR listing, or unknown to the store),
which are rejected with that reason so that the ledger holds them for the operator. The finance office's later
refusals are entered with `gateway reconcile --reject`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import Engine

from gateway.connectors.wire.payroll import REJECT_NO_ACCOUNT, REJECT_UNKNOWN_NIP
from gateway.domain.period import Period
from gateway.errors import DeliveryError
from gateway.outbox.relay import Delivery
from gateway.outbox.sipd_workbook import COLUMNS, SipdRates, WorkbookLine, build_workbook
from gateway.store import repository as repo

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NIP_COLUMN = COLUMNS.index("NIP Pegawai")
_FIRST_LINE_ROW = 4
_MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember")


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._") or "_"


def period_title(period: str) -> str:
    """"2026-03" -> "Maret 2026"; "2026-Q1" -> "Triwulan I 2026"."""
    label = Period.parse(period).label
    year, rest = label.split("-")
    if rest.startswith("Q"):
        return f"Triwulan {('I', 'II', 'III', 'IV')[int(rest[1]) - 1]} {year}"
    return f"{_MONTHS[int(rest) - 1]} {year}"


def workbook_path(directory: Path, row: Mapping[str, Any]) -> Path:
    """Where the workbook of one payroll row goes: per tenant and period, named after its idempotency key."""
    payload = row["payload"]
    correction = any(line.get("kind") == "adjustment" for line in payload.get("lines", []))
    name = ("KOREKSI_" if correction else "") + _safe(row["idempotency_key"]) + ".xlsx"
    return directory / _safe(row["tenant"]) / _safe(payload["period"]) / name


class SipdDestination:
    """Writes SIPD workbooks into `directory`; `rates_for(tenant)` gives the tenant's SIPD rates."""

    thread_safe = True  # each row has its own file; the engine is shared safely

    def __init__(self, engine: Engine, directory: Path, rates_for: Callable[[str], SipdRates]) -> None:
        self.engine, self.directory, self.rates_for = engine, Path(directory), rates_for

    def deliver(self, row: dict[str, Any]) -> Delivery:
        path = workbook_path(self.directory, row)
        refusals = self._refusals(row)
        if not path.exists():
            lines = self._lines(row, refusals)
            payload = row["payload"]
            title = f"TPP ASN {self._unit_name(row['tenant'], payload['opd_id'])} {period_title(payload['period'])}"
            content = build_workbook(title=title, lines=lines, rates=self.rates_for(row["tenant"]),
                                     correction=path.name.startswith("KOREKSI_"))
            self._write_once(path, content, row)
        return self._answer(path, row, refusals)

    def lookup(self, row: dict[str, Any]) -> Delivery | None:
        """The workbook a row wrote, if it is there (the relay may have died before recording it)."""
        path = workbook_path(self.directory, row)
        if not path.exists():
            return None
        return self._answer(path, row, self._refusals(row))

    # ----------------------------------------------------------------------------------------------------------
    def _refusals(self, row: Mapping[str, Any]) -> dict[str, str]:
        """The NIPs of this row that cannot go in a workbook, with the reason. A recovery (a negative line) always
        goes in: it takes back what was paid, bank account or not."""
        tenant, lines = row["tenant"], row["payload"].get("lines", [])
        nips = [line["nip"] for line in lines if line["amount"] > 0]
        with self.engine.connect() as conn:
            people = repo.get_records(conn, tenant, "employee", nips)
            accounts = repo.get_records(conn, tenant, "bank_account", nips)
        refusals = {}
        for nip in nips:
            if nip not in people:
                refusals[nip] = REJECT_UNKNOWN_NIP
            elif nip not in accounts:
                refusals[nip] = REJECT_NO_ACCOUNT
        return refusals

    def _lines(self, row: Mapping[str, Any], refusals: Mapping[str, str]) -> list[WorkbookLine]:
        tenant, lines = row["tenant"], [ln for ln in row["payload"].get("lines", []) if ln["nip"] not in refusals]
        nips = [line["nip"] for line in lines]
        with self.engine.connect() as conn:
            people = repo.get_records(conn, tenant, "employee", nips)
            siasn = repo.get_records(conn, tenant, "person", nips)  # SIASN data-utama, where it was asked
            accounts = repo.get_records(conn, tenant, "bank_account", nips)
        out = []
        for line in lines:
            person, account = people.get(line["nip"]), accounts.get(line["nip"])
            main = siasn.get(line["nip"])  # SIASN is the source of NIK, birth date and golongan; else e-Kinerja's
            out.append(WorkbookLine(
                nip=line["nip"], name=person.name if person else None,
                nik=(main.nik if main and main.nik else person.nik if person else None),
                birth_date=main.birth_date if main else person.birth_date if person else None,
                position_type=("Struktural" if person.eselon else None) if person else None,
                position=person.position if person else None, eselon=person.eselon if person else None,
                golongan=(main.golongan if main and main.golongan else person.golongan if person else None),
                bank_code=account.bank_code if account else None, bank_name=account.bank_name if account else None,
                account_number=account.account_number if account else None, amount=int(line["amount"])))
        return out

    def _unit_name(self, tenant: str, opd_id: str) -> str:
        with self.engine.connect() as conn:
            unit = repo.get_records(conn, tenant, "unit", [opd_id]).get(opd_id)
        return unit.name if unit else opd_id

    def _write_once(self, path: Path, content: bytes, row: Mapping[str, Any]) -> None:
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, path)  # appears whole, and only once: an existing workbook is never replaced
            except FileExistsError:
                pass  # another relay (or an earlier attempt) wrote it: that file is the answer
        except OSError as exc:
            raise DeliveryError(f"SIPD workbook {path}: {exc.strerror or exc}", retryable=True) from exc
        finally:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)

    def _answer(self, path: Path, row: Mapping[str, Any], refusals: Mapping[str, str]) -> Delivery:
        """The answer from the file itself: its hash, and each line accepted if its NIP is in it."""
        try:
            content = path.read_bytes()
            book = load_workbook(path, read_only=True)
            try:
                written = {str(values[_NIP_COLUMN]) for values in book["TPP"].iter_rows(
                    min_row=_FIRST_LINE_ROW, values_only=True) if len(values) > _NIP_COLUMN and values[_NIP_COLUMN]}
            finally:
                book.close()
        except (OSError, KeyError, ValueError) as exc:
            raise DeliveryError(f"SIPD workbook {path} cannot be read back: {exc}", retryable=False) from exc
        lines = []
        for line in row["payload"].get("lines", []):
            if line["nip"] in written:
                lines.append({"line_id": line["line_id"], "nip": line["nip"], "status": "accepted"})
            else:
                reason = refusals.get(line["nip"], "not in the workbook written for this batch")
                lines.append({"line_id": line["line_id"], "nip": line["nip"], "status": "rejected", "reason": reason})
        return Delivery(status="delivered", answer={
            "workbook": str(path), "sha256": hashlib.sha256(content).hexdigest(), "status": "completed",
            "lines": lines})
