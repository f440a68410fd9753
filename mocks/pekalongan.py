"""Kota Pekalongan's apps: e-Seksama programme results and the monthly attendance summary."""

from __future__ import annotations

from typing import Any

import httpx
import respx

from gateway.connectors.wire.pekalongan import ProgramSeksama, RekapPresensi
from mocks._common import paging
from mocks.scenario import ScenarioData

DEMO_PEKALONGAN_KEY = "demo-pekalongan-key"


class PekalonganMock:
    def __init__(self, scenario: ScenarioData, *, api_key: str = DEMO_PEKALONGAN_KEY) -> None:
        self.api_key = api_key
        self.load(scenario)

    def load(self, scenario: ScenarioData) -> None:
        self.programmes = [ProgramSeksama.model_construct(
            id_program=p.id, id_bidang=p.unit_id, nama_program=p.name, periode=p.period, target=p.target,
            realisasi=p.realisation).model_dump(mode="json") for p in scenario.programmes]
        self.attendance = [RekapPresensi.model_construct(
            nip=a.nip, periode=a.period, terlambat_menit=a.late_minutes, pulang_cepat_menit=a.early_leave_minutes,
            tanpa_catatan=a.missing_records, alpa_hari=a.absent_days).model_dump(mode="json")
            for a in scenario.attendance]

    def _page(self, request: httpx.Request, rows: list[dict[str, Any]]) -> httpx.Response:
        if request.headers.get("X-API-Key") != self.api_key:
            return httpx.Response(401, json={"status": "error", "message": "API key tidak valid"})
        period = request.url.params.get("periode")
        if period:
            rows = [r for r in rows if r["periode"] == period]
        limit, offset = paging(request)
        return httpx.Response(200, json={"status": "success", "total": len(rows),
                                         "data": rows[offset:offset + limit]})

    def mount(self, router: respx.MockRouter, *, eseksama_url: str, presensi_url: str) -> None:
        router.get(f"{eseksama_url.rstrip('/')}/api/programs", name="eseksama.programs").mock(
            side_effect=lambda request: self._page(request, self.programmes))
        router.get(f"{presensi_url.rstrip('/')}/api/rekap-presensi", name="presensi.rekap").mock(
            side_effect=lambda request: self._page(request, self.attendance))
