"""SIASN per-NIP endpoints (`data-utama`, `rw-jabatan`, `rw-kinerjaperiodik`), answering with the BKN mock's
auth. Records are derived from the scenario: NIK, birth date and golongan are the scenario's where it has them (the
birth date from the NIP otherwise), the appointment month comes from the NIP."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any

import httpx
import respx

from gateway.connectors.wire import siasn
from mocks._common import envelope, not_found
from mocks.scenario import Scenario


def _hex_id(*parts: str) -> str:
    return hashlib.md5(":".join(parts).encode(), usedforsecurity=False).hexdigest().upper()


class SiasnMock:
    def __init__(self, scenario: Scenario, authorise: Any) -> None:
        self.authorise = authorise  # BknMock._authorised: the two-token check
        self.load(scenario)

    def load(self, scenario: Scenario) -> None:
        units = {u.id: u.name for u in scenario.units}
        self.utama: dict[str, dict[str, Any]] = {}
        self.jabatan: dict[str, list[dict[str, Any]]] = {}
        for e in scenario.employees:
            nip = e.nip
            born = e.birth_date or date(int(nip[0:4]), int(nip[4:6]), int(nip[6:8]))
            appointed = date(int(nip[8:12]), int(nip[12:14]), 1)
            self.utama[nip] = siasn.DataUtama(
                id=_hex_id("pns", nip), nipBaru=nip, nama=e.name, tglLahir=born, nik=e.nik,
                jenisKelamin="M" if nip[14] == "1" else "F", unorId=e.unit_id, unorNama=units.get(e.unit_id, ""),
                jabatanNama=e.position, eselon=e.eselon, golRuangAkhir=e.golongan, kelas_jabatan=e.kelas_jabatan,
                tmtJabatan=appointed,
            ).model_dump(mode="json")
            self.jabatan[nip] = [siasn.RiwayatJabatan(
                id=_hex_id("jab", nip), nipBaru=nip, unorId=e.unit_id, unorNama=units.get(e.unit_id, ""),
                namaJabatan=e.position or "Pelaksana", eselon=e.eselon, tmtJabatan=appointed,
            ).model_dump(mode="json")]

    def handle(self, request: httpx.Request, resource: str, nip: str) -> httpx.Response:
        if denied := self.authorise(request, need_sso=True):
            return denied
        if resource == "data-utama":
            row = self.utama.get(nip)
            return envelope(row) if row else not_found()
        if resource == "rw-jabatan":
            rows = self.jabatan.get(nip)
            return envelope(rows) if rows else not_found()
        return not_found()  # rw-kinerjaperiodik: no ratings in the scenarios yet

    def mount(self, router: respx.MockRouter, *, siasn_url: str) -> None:
        base = re.escape(siasn_url.rstrip("/"))
        router.get(url__regex=rf"^{base}/pns/(?P<resource>data-utama|rw-jabatan|rw-kinerjaperiodik)/(?P<nip>\d+)$",
                   name="siasn.pns").mock(side_effect=self.handle)
