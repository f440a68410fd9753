"""Declared streams: each upstream listing is one declaration, and one machinery pages them all.

A declaration (`Stream`) names the listing, the client that serves it and its path, its wire model and the
conversion to the domain record, the store kind it stages into, the wire fields that name a record, its cursor
field (keyset paging by `(cursor, id)`; None: offset paging over the whole listing every sync), its page size and
the tenant `sources` entry that turns it on. `pages` reads any of them: each row is validated once against the wire
model and converted, a row that breaks a rule becomes a `Problem` with all its reasons and the row kept for the
quarantine. The pipeline syncs every stream a tenant enables the same way (de-duplicate, stage, move the cursor in
the page's transaction); adding a listing is adding a declaration (`declare`), nothing else. (The shape follows
the Singer SDK's declared streams and dlt's resources with `incremental`.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.connectors.wire import ekinerja, hr, pekalongan, siasn
from gateway.domain import (
    Activity,
    Approval,
    Attendance,
    BankAccount,
    Employee,
    Evidence,
    Indicator,
    Person,
    Position,
    Problem,
    Programme,
)
from gateway.domain import kinds as record_kinds
from gateway.errors import UpstreamError

CURSOR_MAX = 128  # the cursor column


@dataclass
class Page:
    """One page of one stream: the canonical records, the problems found, and the cursor after it."""

    stream: str
    records: list[BaseModel]
    problems: list[Problem]
    raw: dict[str, Any]  # upstream payload per record id, kept for quarantine
    cursor: str | None
    offset: int
    total: int
    stamps: list[str] = field(default_factory=list)  # each record's upstream updatedAt, aligned with `records`
    rows: int = 0  # rows the page carried, good and bad

    @property
    def read(self) -> int:
        """Rows read up to the end of this page."""
        return self.offset + self.rows


@dataclass(frozen=True)
class Stream:
    name: str  # the listing's name: the quarantine's record kind, the cursor's name (`<upstream>.<name>`)
    upstream: str  # the client that serves it (the pipeline's `clients` key): ekinerja | eseksama | presensi | hr
    path: str  # under that client's base URL
    wire: type[BaseModel]
    to_domain: Callable[[Any], BaseModel]
    kind: str  # the store's record kind; `model` is registered under it
    model: type[BaseModel]
    ids: tuple[str, ...] = ("id",)  # the wire fields naming a record, the first one present wins
    key: str = "id"  # the domain record's attribute naming it (one record per employee: "nip")
    cursor_field: str | None = "updatedAt"  # keyset paging; None: offset paging, the whole listing every sync
    per_period: bool = True  # asked per month (`periode`); False: reference data, asked once per sync
    page_size: int | None = None  # None: the client's
    source: str | None = None  # the tenant `sources` entry that turns it on; None: every tenant
    label: str = ""  # how a record is named in messages ("bank account of"); default: the name
    needs: str = ""  # what sets its client up, for the message when it is missing
    owner: str = "BKN"  # who to ask about its data, in messages
    per_nip: bool = False  # asked once per employee (`path` has `{nip}`): SIASN has no listing of its own

    @property
    def cursor_name(self) -> str:
        return f"{self.upstream}.{self.name}"

    def rows(self, rows: list[Any], read: int) -> tuple[list[BaseModel], list[str], list[Problem], dict[str, Any],
                                                        list[str | None]]:
        """Validate and convert one page's rows: (records, their cursor stamps, problems, raw rows by id, the
        keyset position after each row, None where a row cannot carry one)."""
        records: list[BaseModel] = []
        stamps: list[str] = []
        problems: list[Problem] = []
        raw: dict[str, Any] = {}
        keys: list[str | None] = []
        what = self.label or self.name
        for n, row in enumerate(rows, start=read + 1):
            if not isinstance(row, dict):
                rid = f"?{n}"
                raw[rid] = row
                problems.append(Problem(record_kind=self.name, record_id=rid, rule="wire-format",
                                        message=f"{self.name} row {n}: not an object ({type(row).__name__})"))
                keys.append(None)
                continue
            rid = str(next((row[f] for f in self.ids if row.get(f) not in (None, "")), f"?{n}"))
            raw[rid] = row
            try:
                wire = self.wire.model_validate(row)
                records.append(self.to_domain(wire))
                if self.cursor_field is not None:
                    stamps.append(getattr(wire, self.cursor_field).isoformat())
            except (ValidationError, ValueError, ArithmeticError) as exc:
                nip = row.get("nip") or row.get("nipBaru")  # may be malformed too, e.g. a number
                problems.append(Problem(record_kind=self.name, record_id=rid, rule="wire-format",
                                        nip=None if nip is None else str(nip)[:18],
                                        message=f"{what} {rid}: {describe_error(exc)}"))
            keys.append(_cursor_key(row.get(self.cursor_field), rid) if self.cursor_field else None)
        return records, stamps, problems, raw, keys


Listing = Callable[[Stream, dict[str, Any]], tuple[list[Any], int]]  # (rows, total) of one request


def pages(listing: Listing, stream: Stream, period: str | None, cursor: str | None, page_size: int
          ) -> Iterator[Page]:
    """Every page of a stream from `cursor`: keyset paging where the stream has a cursor field, else offset."""
    size = stream.page_size or page_size
    if stream.cursor_field is None:
        yield from _offset_pages(listing, stream, period, size)
    else:
        yield from _keyset_pages(listing, stream, period, cursor, size)


def _keyset_pages(listing: Listing, stream: Stream, period: str | None, cursor: str | None, size: int
                  ) -> Iterator[Page]:
    """Each page asks for the rows after the last row seen (`after=updatedAt|id`). A row that changes while we page
    gets a later updatedAt, moves behind us and is still read; offset paging would skip a row for each one that
    moved. The cursor a page carries is that key, saved once the page is committed, so a killed sync resumes after
    the last committed row. A bare timestamp (an older cursor) is sent as `updated_since`."""
    after = cursor if cursor and "|" in cursor else None
    since = None if after else cursor
    read = 0
    while True:
        params: dict[str, Any] = {"limit": size}
        if period:
            params["periode"] = period
        if after:
            params["after"] = after
        elif since:
            params["updated_since"] = since
        rows, total = listing(stream, params)
        records, stamps, problems, raw, keys = stream.rows(rows, read)
        last = next((k for k in reversed(keys) if k is not None), after)
        yield Page(stream.name, records, problems, raw, last, read, total, stamps, len(rows))
        read += len(rows)
        if len(rows) < size:
            return
        if last == after:
            raise UpstreamError(f"{stream.name}: the listing did not move past {after!r}; does it support keyset "
                                "paging (`after`)?", retryable=False)
        after = last


def _offset_pages(listing: Listing, stream: Stream, period: str | None, size: int) -> Iterator[Page]:
    offset = 0
    while True:
        params: dict[str, Any] = {"limit": size, "offset": offset}
        if period:
            params["periode"] = period
        rows, total = listing(stream, params)
        records, _stamps, problems, raw, _keys = stream.rows(rows, offset)
        yield Page(stream.name, records, problems, raw, None, offset, total, rows=len(rows))
        offset += len(rows)
        if not rows or offset >= total:
            return


def describe_error(exc: Exception) -> str:
    """Every rule a record broke, one `field: reason` each, in words (pydantic's "Value error, " prefix dropped)."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'record'}: "
                         f"{err['msg'].removeprefix('Value error, ')}" for err in exc.errors())
    return str(exc)


def _cursor_key(stamp: object, rid: str) -> str | None:
    """The keyset position after a row, `updatedAt|id`, when it is one the cursor column and the next request can
    carry; a row whose stamp or id is not (a refused row, say) leaves the position where the row before put it."""
    if not isinstance(stamp, str) or len(stamp) > 40 or len(rid) > 64:
        return None
    key = f"{stamp}|{rid}"
    return key if key.isprintable() and len(key) <= CURSOR_MAX else None


# The registry ---------------------------------------------------------------------------------------------------
STREAMS: dict[str, Stream] = {}


def declare(stream: Stream) -> Stream:
    """Add a listing: its kind is registered with the store's kinds, and every tenant it is enabled for syncs it."""
    if stream.name in STREAMS and STREAMS[stream.name] != stream:
        raise ValueError(f"stream {stream.name!r} is declared twice")
    record_kinds.register(stream.kind, stream.model, stream.key)
    STREAMS[stream.name] = stream
    return stream


def enabled(sources: Collection[str], *, per_period: bool) -> list[Stream]:
    """The streams a tenant with these `sources` syncs, reference (`per_period=False`) or per month, in
    declaration order."""
    return [s for s in STREAMS.values() if s.per_period == per_period and not s.per_nip
            and (s.source is None or s.source in sources)]


def lookups(sources: Collection[str]) -> list[Stream]:
    """The per-employee streams (SIASN's `rw-jabatan`, ...) a tenant with these `sources` syncs."""
    return [s for s in STREAMS.values() if s.per_nip and (s.source is None or s.source in sources)]


# e-Kinerja (BKN): docs/contracts/ekinerja.md ----------------------------------------------------------------------
def _employee(w: ekinerja.Pegawai) -> Employee:
    return Employee(nip=w.nipBaru, name=w.nama, unit_id=w.unorId, supervisor_nip=w.atasanNip,
                    kelas_jabatan=w.kelas_jabatan, position=w.jabatanNama, eselon=w.eselon,
                    position_group=w.kelompokJabatan, nik=w.nik or None, birth_date=w.tglLahir,
                    golongan=w.golongan or None)


# The high-volume records are built without validating again (`model_construct`): the wire model's types are the
# domain model's constraints (tests/test_streams.py proves it on hostile generated data). Employees keep the domain
# validation: their birth date must agree with the NIP, a rule across fields that the wire model does not carry.
def _indicator(w: ekinerja.Indikator) -> Indicator:
    return Indicator.model_construct(id=w.id, nip=w.nip, period=w.periode, rhk=w.rhk, name=w.indikator,
                                     weight=Decimal(w.bobot), target=Decimal(w.target))


def _activity(w: ekinerja.Aktivitas) -> Activity:
    return Activity.model_construct(id=w.id, nip=w.nip, indicator_id=w.indikatorId, day=w.tanggal,
                                    quantity=Decimal(w.jumlah), kind=w.jenis, description=w.keterangan,
                                    entered_at=w.dibuatPada)


def _evidence(w: ekinerja.Bukti) -> Evidence:
    return Evidence.model_construct(id=w.id, activity_id=w.aktivitasId, kind=w.jenis, sha256=w.sha256,
                                    uploaded_at=w.diunggahPada, latitude=w.lintang, longitude=w.bujur,
                                    captured_at=w.waktuAmbil)


def _approval(w: ekinerja.Persetujuan) -> Approval:
    return Approval.model_construct(id=w.id, activity_id=w.aktivitasId, approver_nip=w.penyetujuNip,
                                    approved=w.status == "disetujui", decided_at=w.diputuskanPada)


declare(Stream("pegawai", "ekinerja", "pegawai", ekinerja.Pegawai, _employee, "employee", Employee,
               ids=("nipBaru", "id"), key="nip", per_period=False))
declare(Stream("indikator", "ekinerja", "indikator", ekinerja.Indikator, _indicator, "indicator", Indicator))
declare(Stream("aktivitas", "ekinerja", "aktivitas", ekinerja.Aktivitas, _activity, "activity", Activity))
declare(Stream("bukti", "ekinerja", "bukti", ekinerja.Bukti, _evidence, "evidence", Evidence))
declare(Stream("persetujuan", "ekinerja", "persetujuan", ekinerja.Persetujuan, _approval, "approval", Approval))


# Kota Pekalongan's e-Seksama and attendance apps, and a city's HR listing: offset paging, no cursor ------------
def _programme(w: pekalongan.ProgramSeksama) -> Programme:
    return Programme(id=w.id_program, unit_id=w.id_bidang, period=w.periode, name=w.nama_program, target=w.target,
                     realisation=w.realisasi)


def _attendance(w: pekalongan.RekapPresensi) -> Attendance:
    return Attendance(nip=w.nip, period=w.periode, late_minutes=tuple(w.terlambat_menit),
                      early_leave_minutes=tuple(w.pulang_cepat_menit), missing_records=w.tanpa_catatan,
                      absent_days=w.alpa_hari)


def _bank_account(w: hr.Rekening) -> BankAccount:
    return BankAccount(nip=w.nip, bank_code=w.kodeBank, bank_name=w.namaBank, account_number=w.nomorRekening,
                       account_name=w.namaRekening)


_PEKALONGAN_NEEDS = "set GATEWAY_PEKALONGAN_API_KEY (and GATEWAY_ESEKSAMA_BASE_URL, GATEWAY_PRESENSI_BASE_URL)"
declare(Stream("programme", "eseksama", "/api/programs", pekalongan.ProgramSeksama, _programme, "programme",
               Programme, ids=("id_program", "nip"), cursor_field=None, source="eseksama",
               needs=_PEKALONGAN_NEEDS, owner="e-Seksama"))
declare(Stream("attendance", "presensi", "/api/rekap-presensi", pekalongan.RekapPresensi, _attendance,
               "attendance", Attendance, ids=("nip",), key="id", cursor_field=None, source="presensi",
               needs=_PEKALONGAN_NEEDS, owner="the attendance system"))
declare(Stream("bank_account", "hr", "/rekening", hr.Rekening, _bank_account, "bank_account", BankAccount,
               ids=("nip",), key="nip", cursor_field=None, per_period=False, source="rekening",
               label="bank account of", needs="set GATEWAY_HR_API_KEY (and GATEWAY_HR_BASE_URL)",
               owner="the HR system"))


# SIASN per employee (BKN): docs/contracts/siasn.md ---------------------------------------------------------------
_KIND_OF_POST = {"1": "struktural", "2": "fungsional", "4": "pelaksana"}


def _position(w: siasn.RiwayatJabatan) -> Position:
    return Position(id=w.id, nip=w.nipBaru, unit_id=w.unorId, post=w.post,
                    kind=_KIND_OF_POST.get(w.jenisJabatan or "", "struktural" if w.eselon else "pelaksana"),
                    eselon=w.eselon or None, start=w.tmtJabatan, acting=bool(w.isPlt), end=w.tmtSelesaiPlt)


declare(Stream("rw_jabatan", "siasn", "/pns/rw-jabatan/{nip}", siasn.RiwayatJabatan, _position, "position", Position,
               cursor_field=None, per_period=False, per_nip=True, label="position history row",
               source="siasn", needs="set the BKN credentials (GATEWAY_BKN_*)"))


def _person(w: siasn.DataUtama) -> Person:
    return Person(nip=w.nipBaru, name=w.nama, nik=w.nik or None, birth_date=w.tglLahir,
                  golongan=w.golRuangAkhir or None, unit_id=w.unorId or None)


declare(Stream("data_utama", "siasn", "/pns/data-utama/{nip}", siasn.DataUtama, _person, "person", Person,
               ids=("nipBaru", "id"), key="nip", cursor_field=None, per_period=False, per_nip=True,
               label="SIASN main record of", source="siasn", needs="set the BKN credentials (GATEWAY_BKN_*)"))
