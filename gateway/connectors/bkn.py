"""BKN: SIASN (units) and e-Kinerja (employees, plans, activities, evidence, approvals, documents).

Auth is SIASN's two-token flow (docs/contracts/siasn.md): a gateway token by client credentials with HTTP Basic, sent as
`Authorization: Bearer`, and an SSO token by password grant (or pasted), sent in the separate `Auth` header.
On a 401 both are refreshed and the request is tried once more.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from gateway.connectors import streams
from gateway.connectors._http import RETRYABLE_STATUS, HttpBase, read_envelope
from gateway.connectors.streams import Page, describe_error
from gateway.connectors.wire import siasn
from gateway.domain import Problem, Unit
from gateway.errors import UpstreamAuthError, UpstreamError


@dataclass
class BknCredentials:
    consumer_key: str
    consumer_secret: str
    sso_client_id: str = ""
    username: str = ""
    password: str = ""
    sso_token: str | None = None  # pasted by the operator instead of a password


class BknAuth(httpx.Auth):
    """The two-token flow as an httpx auth generator: fetch tokens when missing or expired, retry once on 401."""

    requires_response_body = True

    def __init__(self, token_url: str, sso_url: str, credentials: BknCredentials,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url, self.sso_url, self.credentials, self.clock = token_url, sso_url, credentials, clock
        self._gateway: tuple[str, float] | None = None
        self._sso: tuple[str, float] | None = None
        if credentials.sso_token:
            self._sso = (credentials.sso_token, float("inf"))

    def _valid(self, token: tuple[str, float] | None) -> bool:
        return token is not None and token[1] > self.clock() + 30

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield from self._ensure_tokens(force=False)
        self._sign(request)
        response = yield request
        if response.status_code == 401 and "SUSPENDED" not in response.text:
            yield from self._ensure_tokens(force=True)
            self._sign(request)
            yield request

    def _sign(self, request: httpx.Request) -> None:
        assert self._gateway is not None
        request.headers["Authorization"] = f"Bearer {self._gateway[0]}"
        if self._sso is not None:
            request.headers["Auth"] = f"bearer {self._sso[0]}"

    def _ensure_tokens(self, force: bool) -> Generator[httpx.Request, httpx.Response, None]:
        if force or not self._valid(self._gateway):
            answer = yield httpx.Request(
                "POST", self.token_url, data={"grant_type": "client_credentials"},
                headers={"Authorization": _basic(self.credentials.consumer_key, self.credentials.consumer_secret)})
            self._gateway = self._read_token(answer, "gateway token")
        pasted = self.credentials.sso_token and not self.credentials.password
        if self.credentials.username and not pasted and (force or not self._valid(self._sso)):
            answer = yield httpx.Request("POST", self.sso_url, data={
                "grant_type": "password", "client_id": self.credentials.sso_client_id,
                "username": self.credentials.username, "password": self.credentials.password})
            self._sso = self._read_token(answer, "SSO token")

    def _read_token(self, response: httpx.Response, what: str) -> tuple[str, float]:
        """The token from an answer, or an UpstreamError naming the upstream: 429, 5xx and malformed or truncated
        answers are retryable (the request is asked again, `Retry-After` honoured, through `HttpBase`'s retry);
        any other refusal is the credentials' fault. No token text ever goes into a message."""
        response.read()
        if response.status_code != 200:
            retryable = response.status_code in RETRYABLE_STATUS
            body = _without_tokens(response.text[:500])
            error_cls = UpstreamError if retryable else UpstreamAuthError
            hint = "BKN is unavailable; retried" if retryable else "check the consumer key/secret or SSO account"
            error = error_cls(f"BKN refused the {what} request ({response.status_code}): {body[:200]}; {hint}",
                              status=response.status_code, retryable=retryable, body=body)
            error.retry_after = response.headers.get("Retry-After")  # type: ignore[attr-defined]
            raise error
        try:
            token = siasn.TokenAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['type']}" for e in exc.errors())
            raise UpstreamError(f"BKN sent a malformed {what} answer ({problems}); retried", status=200,
                                retryable=True) from None
        return token.access_token, self.clock() + token.expires_in


def _without_tokens(text: str) -> str:
    """An error body with anything that looks like a token (JWT or a long opaque string) cut out."""
    return _TOKENISH.sub("[token]", text)


_TOKENISH = re.compile(r"[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{10,}(\.[A-Za-z0-9_\-]+)?|[A-Za-z0-9_\-]{32,}")


class BknClient(HttpBase):
    upstream = "bkn"

    def __init__(self, siasn_url: str, ekinerja_url: str, auth: BknAuth, *, page_size: int = 500,
                 **kwargs: Any) -> None:
        super().__init__(siasn_url, auth=auth, **kwargs)
        self.ekinerja_url = ekinerja_url.rstrip("/")
        self.page_size = page_size

    def budget_for(self, url: str) -> str:
        return "ekinerja" if url.startswith(self.ekinerja_url) else "siasn"

    # SIASN reference data -------------------------------------------------------------------------------------
    def units(self) -> tuple[list[Unit], list[Problem]]:
        """All units from `ref-unor`, paged, with each unit's level worked out from the tree."""
        raw: list[siasn.RefUnor] = []
        problems: list[Problem] = []
        offset = 0
        while True:
            body = self.envelope(siasn.Envelope, "SIASN ref-unor", "GET", "/referensi/ref-unor",
                                 params={"limit": self.page_size, "offset": offset})
            rows = body.data if isinstance(body.data, list) else []
            for n, row in enumerate(rows):
                uid = str(row.get("Id", "?")) if isinstance(row, dict) else f"?{offset + n + 1}"
                try:
                    raw.append(siasn.RefUnor.model_validate(row))
                except ValidationError as exc:
                    problems.append(Problem(record_kind="unit", record_id=uid, rule="wire-format",
                                            message=f"unit {uid}: {describe_error(exc)}"))
            offset += len(rows)
            if not rows or offset >= (body.count or 0):
                break
        return _unit_tree(raw, problems), problems

    # e-Kinerja streams -------------------------------------------------------------------------------------------
    def stream(self, name: str, period: str | None, cursor: str | None = None) -> Iterator[Page]:
        """Pages of one declared e-Kinerja listing (`streams.STREAMS`) from `cursor`, keyset-paged."""
        return self.pages(streams.STREAMS[name], period, cursor)

    def pages(self, stream: streams.Stream, period: str | None, cursor: str | None = None) -> Iterator[Page]:
        return streams.pages(self._listing, stream, period, cursor, self.page_size)

    def _listing(self, stream: streams.Stream, params: dict[str, Any]) -> tuple[list[Any], int]:
        body = self.envelope(siasn.Envelope, f"e-Kinerja {stream.name}", "GET",
                             f"{self.ekinerja_url}/{stream.path.lstrip('/')}", params=params)
        return (body.data if isinstance(body.data, list) else []), body.count or 0

    # SIASN per-NIP lookups (there is no bulk listing of employees in SIASN) ----------------------------------
    def data_utama(self, nip: str) -> siasn.DataUtama | None:
        """One employee's main record; None when SIASN answers 404 "Data tidak ditemukan"."""
        data = self._siasn_get(f"/pns/data-utama/{nip}")
        return None if data is None else siasn.DataUtama.model_validate(data)

    def rw_jabatan(self, nip: str) -> list[siasn.RiwayatJabatan]:
        """Position history, oldest first (by TMT)."""
        rows = self._siasn_get(f"/pns/rw-jabatan/{nip}") or []
        return sorted((siasn.RiwayatJabatan.model_validate(r) for r in rows), key=lambda r: r.tmtJabatan)

    def rw_kinerja_periodik(self, nip: str) -> list[siasn.KinerjaPeriodik]:
        rows = self._siasn_get(f"/pns/rw-kinerjaperiodik/{nip}") or []
        return [siasn.KinerjaPeriodik.model_validate(r) for r in rows]

    def lookup(self, stream: streams.Stream, nip: str) -> Page:
        """One employee's rows of a per-NIP stream (`rw-jabatan`, ...), validated as a page of one listing is: a
        record SIASN does not have (404 "Data tidak ditemukan") is an empty page."""
        data = self._siasn_get(stream.path.format(nip=nip))
        rows = [] if data is None else data if isinstance(data, list) else [data]
        records, _stamps, problems, raw, _keys = stream.rows(rows, 0)
        return Page(stream.name, records, problems, raw, None, 0, len(rows), rows=len(rows))

    def _siasn_get(self, path: str) -> Any:
        """SIASN's 404 with "Data tidak ditemukan" means empty, not failure (docs/contracts/siasn.md)."""
        response = self.request("GET", path, ok=(200, 404))
        body = read_envelope(siasn.Envelope, self._parse(response, "GET", path), f"SIASN {path.split('/')[2]}")
        if response.status_code == 404 or body.code == 0:
            return None
        return body.data

    def document(self, evidence_id: str) -> bytes | None:
        """The evidence document's bytes; None when BKN has no such document (404)."""
        response = self.request("GET", f"{self.ekinerja_url}/bukti/{evidence_id}/dokumen", ok=(200, 404))
        return None if response.status_code == 404 else response.content


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _unit_tree(raw: list[siasn.RefUnor], problems: list[Problem]) -> list[Unit]:
    by_id = {u.Id: u for u in raw}
    depth: dict[str, int] = {}

    def level_of(uid: str) -> int | None:
        seen: list[str] = []
        current: str | None = uid
        while current is not None and current not in depth:
            if current in seen or current not in by_id:
                return None
            seen.append(current)
            current = by_id[current].DiatasanId
        base = -1 if current is None else depth[current]
        for i, sid in enumerate(reversed(seen)):
            depth[sid] = base + 1 + i
        return depth[uid]

    names = {0: "pemda", 1: "opd", 2: "bidang"}
    units = []
    for u in raw:
        d = level_of(u.Id)
        if d is None:
            problems.append(Problem(record_kind="unit", record_id=u.Id, rule="unit-tree",
                                    message=f"unit {u.Id} ({u.NamaUnor}): its parent chain is broken or cyclic"))
            continue
        units.append(Unit(id=u.Id, name=u.NamaUnor, parent_id=u.DiatasanId, head_nip=u.PemimpinPnsId,
                          level=names.get(d, "seksi")))
    return units


__all__ = ["BknAuth", "BknClient", "BknCredentials", "Page", "describe_error"]
