"""BKN mock: SIASN's two-token auth and `ref-unor`, and the e-Kinerja contract (docs/contracts/).

It takes what public clients send (docs/contracts/siasn.md): the `Auth` header's scheme in any case (`bearer`,
`Bearer`), the gateway-token request as a form or as JSON, `ref-unor` without `limit` (the whole list, as those
clients read it).

Listings are served from pages encoded once per state of the data: each (stream, filters, limit, offset) page is
rendered on first request and its bytes answered from then on, so a sync benchmark measures the gateway and not the
mock's serialisation. The cache is dropped whenever the data changes through the mock (`load`, `load_records`, a
`duplicate` or `records-change` fault); code that edits `streams` or `units` in place after the first request
calls `invalidate()`.

A record loaded from a scenario is held encoded, once (`mocks._common.Encoded`: its JSON bytes, its sort key and
period), not as a dict: a page is the join of its rows' bytes, nothing is encoded per request, and a city's month
costs about half the memory. `streams[name]` is a `Rows` list: a row read through it is decoded into a dict that
takes its place, so code (tests) that edits rows in place and calls `invalidate()` works as on plain dicts.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from random import Random
from typing import Any, SupportsIndex, overload

import httpx
import respx

from gateway.connectors.wire import ekinerja, siasn
from mocks._common import Encoded, encode, envelope_page, json_bytes, not_found, paging, unauthorized
from mocks.faults import Fault
from mocks.scenario import ScenarioData, document_bytes

DEMO_CONSUMER = ("demo-consumer-key", "demo-consumer-secret")
DEMO_SSO = ("199001012015031001", "demo-password")

STREAMS = ("pegawai", "indikator", "aktivitas", "bukti", "persetujuan")  # the listings this e-Kinerja serves
UNITS = "ref-unor"  # the unit listing is paged and cached like a stream
# What a `records-change` fault edits (besides `updatedAt`), per stream: a field the gateway reads.
_CHANGED_FIELD = {"pegawai": ("jabatanNama", " (mutasi)"), "indikator": ("satuan", " (revisi)"),
                  "aktivitas": ("keterangan", " (diubah)"), "bukti": ("namaFile", ".rev")}

ViewKey = tuple[str, str | None, str | None]  # stream, periode, updated_since
_BEARER = re.compile(r"^bearer\s+", re.IGNORECASE)


def _sort_key(row: dict[str, Any]) -> tuple[str, str]:
    """(updatedAt, id) as text: a hostile row (a number for a stamp, say) is served in some place, not a crash."""
    return str(row.get("updatedAt")), str(row.get("id") or row.get("nipBaru") or "")


def _key(item: Any) -> tuple[str, str]:
    """The sort key of a row as a stream holds it: encoded, or a dict."""
    return (item.stamp, item.rid) if type(item) is Encoded else _sort_key(item)


def _decoded(item: Any) -> Any:
    return item.decoded() if type(item) is Encoded else item


class _Shared(dict[str, str]):
    """One str object per distinct value (a month's rows share a handful of stamps and periods)."""

    def __missing__(self, value: str) -> str:
        self[value] = value
        return value


def _seal(row: dict[str, Any], shared: _Shared) -> Encoded:
    """A record as the mock keeps it: its bytes, and the key and period its listing sorts and filters by."""
    stamp, rid = _sort_key(row)
    period = row.get("periode") or _period_of(row)
    return Encoded(encode(row), shared[stamp], rid, shared[period] if isinstance(period, str) else period)


class Rows(list[Any]):
    """A stream's rows, sorted by (updatedAt, id): each an `Encoded` record or a dict.

    Reading a row through the list API (index, slice, iteration, comparison, sort) decodes it into a dict that
    takes its place, so an edit made to it in place is what the next page (after `invalidate()`) serves. The mock
    itself reads the items as they are (`list.copy(rows)`), decoding nothing."""

    def _open(self, index: SupportsIndex) -> Any:
        item = list.__getitem__(self, index)
        if type(item) is Encoded:
            item = item.decoded()
            list.__setitem__(self, index, item)
        return item

    def _open_all(self) -> None:
        for i in range(len(self)):
            self._open(i)

    @overload
    def __getitem__(self, index: SupportsIndex) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        if isinstance(index, slice):
            return [self._open(i) for i in range(*index.indices(len(self)))]
        return self._open(index)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self._open(i)

    def __reversed__(self) -> Iterator[Any]:
        for i in range(len(self) - 1, -1, -1):
            yield self._open(i)

    def __eq__(self, other: object) -> bool:
        self._open_all()
        return list.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __contains__(self, value: object) -> bool:
        self._open_all()
        return list.__contains__(self, value)

    def __repr__(self) -> str:
        self._open_all()
        return list.__repr__(self)

    def index(self, value: Any, *args: Any) -> int:
        self._open_all()
        return list.index(self, value, *args)

    def count(self, value: Any) -> int:
        self._open_all()
        return list.count(self, value)

    def remove(self, value: Any) -> None:
        self._open_all()
        list.remove(self, value)

    def pop(self, index: SupportsIndex = -1) -> Any:
        self._open(index)
        return list.pop(self, index)

    def copy(self) -> list[Any]:
        self._open_all()
        return list.copy(self)

    def sort(self, *, key: Any = None, reverse: bool = False) -> None:
        self._open_all()
        list.sort(self, key=key, reverse=reverse)


class _Keys:
    """The sort keys of a stream's items, for bisect, decoding nothing."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[str, str]:
        return _key(list.__getitem__(self.rows, i))


class BknMock:
    """Holds one scenario (or wire records) and answers like SIASN and e-Kinerja would.

    `page_cache_bytes` bounds the encoded pages kept (oldest dropped first): 64 MiB by default, since a page of
    encoded rows is put together again by a join; a benchmark serving dict rows (`from_records`) raises it."""

    def __init__(self, scenario: ScenarioData | None = None, *, consumer: tuple[str, str] = DEMO_CONSUMER,
                 sso_user: tuple[str, str] = DEMO_SSO, token_lifetime: int = 3600,
                 clock: Callable[[], float] = time.monotonic, page_cache_bytes: int = 64 << 20) -> None:
        self.consumer, self.sso_user, self.token_lifetime, self.clock = consumer, sso_user, token_lifetime, clock
        self.page_cache_bytes = page_cache_bytes
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (kind, expiry)
        self._serial = itertools.count(1)
        self._lock = threading.RLock()
        self._views: dict[ViewKey, list[Any]] = {}
        self._keys: dict[ViewKey, list[tuple[str, str]]] = {}  # each view's (updatedAt, id), for keyset paging
        self._rewind: dict[str, int] = {}  # stream -> rows the next page repeats (a `duplicate` fault)
        self._pages: dict[tuple[str, str | None, str | None, int, int], bytes] = {}
        self._cached_bytes = 0
        self.renders = 0  # pages encoded since the data last changed (a page served from the cache is not)
        self.calls: list[str] = []
        self.scenario: ScenarioData | None = None
        self.units: list[dict[str, Any]] = []
        self.streams: dict[str, Rows] = {name: Rows() for name in STREAMS}
        self.documents: Mapping[str, bytes] = {}
        if scenario is not None:
            self.load(scenario)

    # state ------------------------------------------------------------------------------------------------------
    def load(self, scenario: ScenarioData) -> None:
        # Built unvalidated: the mock serves what the scenario holds, hostile records included (the gateway's
        # wire models are the ones that refuse them). Each record is encoded as it is built and only its bytes
        # kept (`_seal`): no dict per record outlives the loop.
        stamp = scenario.updated_at
        shared = _Shared()
        units = [siasn.RefUnor.model_construct(Id=u.id, DiatasanId=u.parent_id, NamaUnor=u.name,
                                               NamaJabatan=u.head_title, EselonId=u.eselon,
                                               PemimpinPnsId=u.head_nip).model_dump(mode="json")
                 for u in scenario.units]
        streams: dict[str, Rows] = {
            "pegawai": Rows(_seal(ekinerja.Pegawai.model_construct(
                nipBaru=e.nip, nama=e.name, unorId=e.unit_id, atasanNip=e.supervisor_nip,
                kelas_jabatan=e.kelas_jabatan, jabatanNama=e.position, eselon=e.eselon,
                kelompokJabatan=e.position_group, nik=e.nik, tglLahir=e.birth_date, golongan=e.golongan,
                updatedAt=stamp,
            ).model_dump(mode="json"), shared) for e in scenario.employees),
            "indikator": Rows(_seal(ekinerja.Indikator.model_construct(
                id=i.id, nip=p.nip, periode=p.period, rhk=p.rhk, indikator=i.name, bobot=str(i.weight),
                target=str(i.target), satuan=i.unit, updatedAt=stamp,
            ).model_dump(mode="json"), shared) for p in scenario.plans for i in p.indicators),
        }
        activity_period: dict[str, str] = {}
        aktivitas = streams["aktivitas"] = Rows()
        for a in scenario.activities:
            activity_period[a.id] = shared[a.date.strftime("%Y-%m")]
            aktivitas.append(_seal(ekinerja.Aktivitas.model_construct(
                id=a.id, nip=a.nip, indikatorId=a.indicator_id, tanggal=a.date, jumlah=str(a.quantity),
                jenis=a.kind, keterangan=a.description, dibuatPada=a.entered_at, updatedAt=stamp,
            ).model_dump(mode="json"), shared))
        bukti = streams["bukti"] = Rows()
        for b in scenario.evidence:
            row = ekinerja.Bukti.model_construct(
                id=b.id, aktivitasId=b.activity_id, jenis=b.kind, sha256=b.sha256, diunggahPada=b.uploaded_at,
                namaFile=b.filename, lintang=b.latitude, bujur=b.longitude, waktuAmbil=b.captured_at,
                updatedAt=stamp).model_dump(mode="json")
            row["periode"] = activity_period.get(row["aktivitasId"])
            bukti.append(_seal(row, shared))
        persetujuan = streams["persetujuan"] = Rows()
        for p in scenario.approvals:
            row = ekinerja.Persetujuan.model_construct(
                id=p.id, aktivitasId=p.activity_id, penyetujuNip=p.approver_nip,
                status="disetujui" if p.approved else "ditolak", diputuskanPada=p.decided_at, updatedAt=stamp,
            ).model_dump(mode="json")
            row["periode"] = activity_period.get(row["aktivitasId"])
            persetujuan.append(_seal(row, shared))
        del activity_period
        self._replace(units, streams, document_bytes(scenario))
        self.scenario = scenario

    def load_records(self, streams: Mapping[str, Iterable[dict[str, Any]]], *, units: Iterable[dict[str, Any]] = (),
                     documents: Mapping[str, bytes] | None = None) -> None:
        """Replace the data with wire records as e-Kinerja sends them (`gateway.connectors.wire.ekinerja`), with
        no scenario in between: what a benchmark at national scale feeds. Rows are used as given (not copied or
        validated); `bukti` and `persetujuan` rows need a `periode` key to be found by a period filter."""
        unknown = set(streams) - set(STREAMS)
        if unknown:
            raise ValueError(f"unknown e-Kinerja streams {sorted(unknown)}; known: {', '.join(STREAMS)}")
        rows = {name: Rows(streams.get(name, ())) for name in STREAMS}
        self._replace(list(units), rows, dict(documents or {}))
        self.scenario = None

    @classmethod
    def from_records(cls, streams: Mapping[str, Iterable[dict[str, Any]]], *,
                     units: Iterable[dict[str, Any]] = (), documents: Mapping[str, bytes] | None = None,
                     **options: Any) -> BknMock:
        """A mock holding wire records instead of a scenario (see `load_records`)."""
        mock = cls(None, **options)
        mock.load_records(streams, units=units, documents=documents)
        return mock

    def _replace(self, units: list[dict[str, Any]], streams: dict[str, Rows],
                 documents: Mapping[str, bytes]) -> None:
        for rows in streams.values():
            list.sort(rows, key=_key)
        with self._lock:
            self.units, self.streams, self.documents = units, streams, documents
            self.invalidate()

    def invalidate(self) -> None:
        """Forget every encoded page (the data changed)."""
        with self._lock:
            self._views, self._keys, self._pages, self._cached_bytes, self.renders = {}, {}, {}, 0, 0

    # pre-encoded pages --------------------------------------------------------------------------------------------
    def _view(self, stream: str, period: str | None, since: str | None) -> list[Any]:
        """The stream's items (encoded or dicts, none decoded) that the filters keep, in order."""
        key = (stream, period, since)
        view = self._views.get(key)
        if view is None:
            rows = list.copy(self.units if stream == UNITS else self.streams[stream])
            if period and stream not in ("pegawai", UNITS):
                rows = [r for r in rows if _period(r) == period]
            if since and stream != UNITS:
                rows = [r for r in rows if (r.stamp if type(r) is Encoded else r["updatedAt"]) >= since]
            if len(self._views) >= 32:  # each sync's cursor makes a view: keep the newest few
                self._keys.pop(next(iter(self._views)), None)
                del self._views[next(iter(self._views))]
            view = self._views[key] = rows
        return view

    def _start(self, stream: str, period: str | None, since: str | None, offset: int, after: str | None) -> int:
        """Where a page starts in its view: after the row named by `after` ("updatedAt|id"), then `offset` on."""
        if not after:
            return offset
        key = (stream, period, since)
        keys = self._keys.get(key)
        if keys is None:
            keys = self._keys[key] = [_key(r) for r in self._view(stream, period, since)]
        stamp, _, rid = after.partition("|")
        return bisect.bisect_right(keys, (stamp, rid)) + offset

    def page(self, stream: str, period: str | None, since: str | None, limit: int, offset: int,
             after: str | None = None) -> bytes:
        """The encoded page `{"code":1,"count":N,"data":[...]}`: rendered once, then the same bytes.

        `count` is the size of the whole listing (periode and updated_since applied); a page asked by keyset
        (`after`) and the same page asked by offset are one cached page."""
        with self._lock:
            start = self._start(stream, period, since, offset, after)
        key = (stream, period, since, limit, start)
        cached = self._pages.get(key)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._pages.get(key)
            if cached is None:
                view = self._view(stream, period, since)
                cached = envelope_page(view[start:start + limit], len(view))
                self.renders += 1
                while self._pages and self._cached_bytes + len(cached) > self.page_cache_bytes:
                    self._cached_bytes -= len(self._pages.pop(next(iter(self._pages))))
                self._pages[key] = cached
                self._cached_bytes += len(cached)
            return cached

    def prerender(self, stream: str, period: str | None = None, since: str | None = None,
                  limit: int = 1000) -> tuple[int, int]:
        """Encode every page of one listing now (before a benchmark); returns (pages, bytes)."""
        with self._lock:
            total = len(self._view(stream, period if stream != "pegawai" else None, since))
        pages = [self.page(stream, period if stream != "pegawai" else None, since, limit, offset)
                 for offset in range(0, max(total, 1), limit)]
        return len(pages), sum(len(p) for p in pages)

    @staticmethod
    def _query(request: httpx.Request, stream: str) -> tuple[str | None, str | None, int, int, str | None]:
        params = request.url.params
        period = None if stream == "pegawai" else params.get("periode") or None
        limit, offset = paging(request)
        return period, params.get("updated_since") or None, limit, offset, params.get("after") or None

    # auth -------------------------------------------------------------------------------------------------------
    def _issue(self, kind: str) -> httpx.Response:
        token = f"{kind}-{next(self._serial):06d}"
        self._tokens[token] = (kind, self.clock() + self.token_lifetime)
        return httpx.Response(200, json={"access_token": token, "expires_in": self.token_lifetime,
                                         "token_type": "Bearer"})

    def gateway_token(self, request: httpx.Request) -> httpx.Response:
        expected = "Basic " + base64.b64encode(":".join(self.consumer).encode()).decode()
        form = _token_body(request)
        if request.headers.get("Authorization") != expected or form.get("grant_type") != "client_credentials":
            return unauthorized(siasn.INVALID_CREDENTIALS)
        return self._issue("gw")

    def sso_token(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        if form.get("grant_type") != "password" or (form.get("username"), form.get("password")) != self.sso_user:
            return httpx.Response(401, json={"error": "invalid_grant",
                                             "error_description": "Invalid user credentials"})
        return self._issue("sso")

    def expire_tokens(self) -> None:
        """Make every issued token expire now (a token expiring mid-sync)."""
        self._tokens.clear()

    def _authorised(self, request: httpx.Request, need_sso: bool) -> httpx.Response | None:
        gw = _token_of(request.headers.get("Authorization", ""))
        kind, expiry = self._tokens.get(gw, ("", 0.0))
        if kind != "gw" or expiry <= self.clock():
            return unauthorized(siasn.INVALID_CREDENTIALS)
        if need_sso:
            sso = _token_of(request.headers.get("Auth", ""))
            kind, expiry = self._tokens.get(sso, ("", 0.0))
            if kind != "sso" or expiry <= self.clock():
                return unauthorized(siasn.INVALID_JWT if kind in ("", "sso") else siasn.SSO_MISMATCH)
        return None

    # data -------------------------------------------------------------------------------------------------------
    def ref_unor(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(UNITS)
        if denied := self._authorised(request, need_sso=False):
            return denied
        limit, offset = paging(request)
        if "limit" not in request.url.params:  # public clients read `data` as the whole list
            limit = max(len(self.units), 1)
        return json_bytes(self.page(UNITS, None, None, limit, offset))

    def listing(self, request: httpx.Request, stream: str) -> httpx.Response:
        self.calls.append(stream)
        if denied := self._authorised(request, need_sso=True):
            return denied
        query = self._query(request, stream)
        with self._lock:
            rewind = self._rewind.pop(stream, 0)
            if rewind:  # a `duplicate` fault: an overlapping page, not cached
                period, since, limit, offset, after = query
                start = self._start(stream, period, since, offset, after) - rewind
                view = self._view(stream, period, since)
                return json_bytes(envelope_page(view[start:start + limit], len(view)))
        return json_bytes(self.page(stream, *query))

    def document(self, request: httpx.Request, evidence_id: str) -> httpx.Response:
        self.calls.append("dokumen")
        if denied := self._authorised(request, need_sso=True):
            return denied
        content = self.documents.get(evidence_id)
        if content is None:
            return not_found()
        return httpx.Response(200, content=content, headers={"Content-Type": "application/pdf"})

    # data faults (mocks.faults) ---------------------------------------------------------------------------------
    def supports_fault(self, route: str, kind: str) -> bool:
        if kind == "token-expiry":
            return True
        return kind in ("duplicate", "records-change") and route.removeprefix("ekinerja.") in STREAMS

    def apply_fault(self, fault: Fault, route: str, request: httpx.Request, rng: Random) -> bool:
        if fault.kind == "token-expiry":
            self.expire_tokens()
            return True
        stream = route.removeprefix("ekinerja.")
        period, since, limit, offset, after = self._query(request, stream)
        with self._lock:
            view = self._view(stream, period, since)
            offset = self._start(stream, period, since, offset, after)
            if not 0 < offset <= len(view):
                return False  # only a page after the first has pages before it
            rows = self.streams[stream]
            if fault.kind == "duplicate":
                # This page starts `records` rows early: it serves the previous page's last rows again, as an
                # upstream whose pages overlap does. The listing itself is unchanged.
                self._rewind[stream] = min(fault.records, offset)
                return True
            else:
                # Rows the client already paged change: their new updatedAt moves them to the end. Offset paging
                # would skip as many rows as changed; keyset paging (`after`) reads them again at the end.
                earlier = view[max(0, offset - limit):offset]
                chosen = rng.sample(earlier, min(fault.records, len(earlier)))
                last = list.__getitem__(rows, -1)
                stamp = _later(last.stamp if type(last) is Encoded else last["updatedAt"])
                for row in chosen:
                    list.__delitem__(rows, _index(rows, row))
                    changed = dict(_decoded(row), updatedAt=stamp)
                    if stream == "persetujuan":
                        changed["diputuskanPada"] = stamp
                    else:
                        field, suffix = _CHANGED_FIELD[stream]
                        changed[field] = f"{changed.get(field) or ''}{suffix}"
                    list.insert(rows, bisect.bisect_right(_Keys(rows), _sort_key(changed)), changed)
            self.invalidate()
        return True

    # routes -----------------------------------------------------------------------------------------------------
    def mount(self, router: respx.MockRouter, *, siasn_url: str, ekinerja_url: str, token_url: str,
              sso_url: str) -> None:
        router.post(token_url, name="auth.token").mock(side_effect=self.gateway_token)
        router.post(sso_url, name="auth.sso").mock(side_effect=self.sso_token)
        router.get(f"{siasn_url.rstrip('/')}/referensi/ref-unor", name="siasn.ref-unor").mock(
            side_effect=self.ref_unor)
        base = ekinerja_url.rstrip("/")
        router.get(url__regex=rf"^{re.escape(base)}/bukti/(?P<evidence_id>[^/?]+)/dokumen(\?.*)?$",
                   name="ekinerja.dokumen").mock(side_effect=self.document)
        for stream in STREAMS:
            router.get(f"{base}/{stream}", name=f"ekinerja.{stream}").mock(side_effect=self._lister(stream))

    def _lister(self, stream: str) -> Callable[[httpx.Request], httpx.Response]:
        def lister(request: httpx.Request) -> httpx.Response:
            return self.listing(request, stream)

        lister.__name__ = f"listing_{stream}"
        return lister


def _token_of(header: str) -> str:
    """The token of an `Authorization` or `Auth` header: the scheme in any case, or none at all."""
    return _BEARER.sub("", header.strip(), count=1).strip()


def _token_body(request: httpx.Request) -> dict[str, Any]:
    """The token request's fields, from a form body or (as one public client posts it) a JSON object."""
    text = request.content.decode(errors="replace")
    if "json" in request.headers.get("Content-Type", "") or text.lstrip().startswith("{"):
        try:
            body = json.loads(text)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    return dict(httpx.QueryParams(text))


def _index(rows: list[Any], row: Any) -> int:
    """Where this very row object sits in the sorted rows (copies with the same key may sit next to it)."""
    i = bisect.bisect_left(_Keys(rows), _key(row))
    while list.__getitem__(rows, i) is not row:
        i += 1
    return i


def _later(stamp: str) -> str:
    """One second after `stamp`, written the same way (cursors compare these as text)."""
    moved = (datetime.fromisoformat(stamp) + timedelta(seconds=1)).isoformat()
    return moved.replace("+00:00", "Z") if stamp.endswith("Z") else moved


def _period(item: Any) -> Any:
    """The period a period filter matches a row by (its `periode`, else its `tanggal`'s month)."""
    return item.period if type(item) is Encoded else (item.get("periode") or _period_of(item))


def _period_of(row: dict[str, Any]) -> str | None:
    if "periode" in row:
        return row["periode"]
    if "tanggal" in row:  # dd-mm-yyyy
        d = str(row["tanggal"])
        return f"{d[6:10]}-{d[3:5]}"
    return None


__all__ = ["DEMO_CONSUMER", "DEMO_SSO", "STREAMS", "BknMock", "Rows"]
