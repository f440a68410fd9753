"""BKN mock: SIASN's two-token auth and `ref-unor`, and the e-Kinerja contract (docs/contracts/)."""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Callable
from typing import Any

import httpx
import respx

from gateway.connectors.wire import ekinerja, siasn
from mocks._common import envelope, not_found, paging, unauthorized
from mocks.scenario import Scenario, document_bytes

DEMO_CONSUMER = ("demo-consumer-key", "demo-consumer-secret")
DEMO_SSO = ("199001012015031001", "demo-password")


class BknMock:
    """Holds one scenario and answers like SIASN and e-Kinerja would."""

    def __init__(self, scenario: Scenario, *, consumer: tuple[str, str] = DEMO_CONSUMER,
                 sso_user: tuple[str, str] = DEMO_SSO, token_lifetime: int = 3600,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.consumer, self.sso_user, self.token_lifetime, self.clock = consumer, sso_user, token_lifetime, clock
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (kind, expiry)
        self._serial = itertools.count(1)
        self.calls: list[str] = []
        self.load(scenario)

    def load(self, scenario: Scenario) -> None:
        self.scenario = scenario
        stamp = scenario.updated_at
        units = [siasn.RefUnor(Id=u.id, DiatasanId=u.parent_id, NamaUnor=u.name, NamaJabatan=u.head_title,
                               EselonId=u.eselon, PemimpinPnsId=u.head_nip).model_dump(mode="json")
                 for u in scenario.units]
        self.units = units
        self.streams: dict[str, list[dict[str, Any]]] = {
            "pegawai": [ekinerja.Pegawai(
                nipBaru=e.nip, nama=e.name, unorId=e.unit_id, atasanNip=e.supervisor_nip,
                kelas_jabatan=e.kelas_jabatan, jabatanNama=e.position, eselon=e.eselon,
                kelompokJabatan=e.position_group, updatedAt=stamp,
            ).model_dump(mode="json") for e in scenario.employees],
            "indikator": [ekinerja.Indikator(
                id=i.id, nip=p.nip, periode=p.period, rhk=p.rhk, indikator=i.name, bobot=str(i.weight),
                target=str(i.target), satuan=i.unit, updatedAt=stamp,
            ).model_dump(mode="json") for p in scenario.plans for i in p.indicators],
            "aktivitas": [ekinerja.Aktivitas(
                id=a.id, nip=a.nip, indikatorId=a.indicator_id, tanggal=a.date, jumlah=str(a.quantity),
                jenis=a.kind, keterangan=a.description, dibuatPada=a.entered_at, updatedAt=stamp,
            ).model_dump(mode="json") for a in scenario.activities],
        }
        activity_period = {a.id: a.date.strftime("%Y-%m") for a in scenario.activities}
        self.streams["bukti"] = [ekinerja.Bukti(
            id=b.id, aktivitasId=b.activity_id, jenis=b.kind, sha256=b.sha256, diunggahPada=b.uploaded_at,
            namaFile=b.filename, lintang=b.latitude, bujur=b.longitude, waktuAmbil=b.captured_at,
            updatedAt=stamp).model_dump(mode="json") for b in scenario.evidence]
        self.streams["persetujuan"] = [ekinerja.Persetujuan(
            id=p.id, aktivitasId=p.activity_id, penyetujuNip=p.approver_nip,
            status="disetujui" if p.approved else "ditolak", diputuskanPada=p.decided_at, updatedAt=stamp,
        ).model_dump(mode="json") for p in scenario.approvals]
        for name in ("bukti", "persetujuan"):
            for row in self.streams[name]:
                row["periode"] = activity_period.get(row["aktivitasId"])
        for rows in self.streams.values():
            rows.sort(key=lambda r: (r["updatedAt"], r.get("id") or r.get("nipBaru")))
        self.documents = document_bytes(scenario)

    # auth -----------------------------------------------------------------------------------------------------
    def _issue(self, kind: str) -> httpx.Response:
        token = f"{kind}-{next(self._serial):06d}"
        self._tokens[token] = (kind, self.clock() + self.token_lifetime)
        return httpx.Response(200, json={"access_token": token, "expires_in": self.token_lifetime,
                                         "token_type": "Bearer"})

    def gateway_token(self, request: httpx.Request) -> httpx.Response:
        expected = "Basic " + base64.b64encode(":".join(self.consumer).encode()).decode()
        form = dict(httpx.QueryParams(request.content.decode()))
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
        gw = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        kind, expiry = self._tokens.get(gw, ("", 0.0))
        if kind != "gw" or expiry <= self.clock():
            return unauthorized(siasn.INVALID_CREDENTIALS)
        if need_sso:
            sso = request.headers.get("Auth", "").removeprefix("bearer ").strip()
            kind, expiry = self._tokens.get(sso, ("", 0.0))
            if kind != "sso" or expiry <= self.clock():
                return unauthorized(siasn.INVALID_JWT if kind in ("", "sso") else siasn.SSO_MISMATCH)
        return None

    # data -----------------------------------------------------------------------------------------------------
    def ref_unor(self, request: httpx.Request) -> httpx.Response:
        self.calls.append("ref-unor")
        if denied := self._authorised(request, need_sso=False):
            return denied
        limit, offset = paging(request)
        return envelope(self.units[offset:offset + limit], count=len(self.units))

    def listing(self, request: httpx.Request, stream: str) -> httpx.Response:
        self.calls.append(stream)
        if denied := self._authorised(request, need_sso=True):
            return denied
        rows = self.streams[stream]
        period = request.url.params.get("periode")
        since = request.url.params.get("updated_since")
        if period and stream != "pegawai":
            rows = [r for r in rows if (r.get("periode") or _period_of(r)) == period]
        if since:
            rows = [r for r in rows if r["updatedAt"] >= since]
        limit, offset = paging(request)
        return envelope(rows[offset:offset + limit], count=len(rows))

    def document(self, request: httpx.Request, evidence_id: str) -> httpx.Response:
        self.calls.append("dokumen")
        if denied := self._authorised(request, need_sso=True):
            return denied
        content = self.documents.get(evidence_id)
        if content is None:
            return not_found()
        return httpx.Response(200, content=content, headers={"Content-Type": "application/pdf"})

    def mount(self, router: respx.MockRouter, *, siasn_url: str, ekinerja_url: str, token_url: str,
              sso_url: str) -> None:
        router.post(token_url).mock(side_effect=self.gateway_token)
        router.post(sso_url).mock(side_effect=self.sso_token)
        router.get(f"{siasn_url.rstrip('/')}/referensi/ref-unor").mock(side_effect=self.ref_unor)
        base = ekinerja_url.rstrip("/")
        router.get(url__regex=rf"^{_re(base)}/bukti/(?P<evidence_id>[^/]+)/dokumen$").mock(
            side_effect=self.document)
        router.get(url__regex=rf"^{_re(base)}/(?P<stream>pegawai|indikator|aktivitas|bukti|persetujuan)(\?.*)?$"
                   ).mock(side_effect=self.listing)


def _period_of(row: dict[str, Any]) -> str | None:
    if "periode" in row:
        return row["periode"]
    if "tanggal" in row:  # dd-mm-yyyy
        d = row["tanggal"]
        return f"{d[6:10]}-{d[3:5]}"
    return None


def _re(text: str) -> str:
    import re

    return re.escape(text)
