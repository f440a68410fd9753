"""Kota Pekalongan's e-Seksama (programme results) and attendance summaries, paged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.connectors._http import HttpBase
from gateway.connectors.bkn import Page, describe_error
from gateway.connectors.wire.pekalongan import Page as WirePage
from gateway.connectors.wire.pekalongan import ProgramSeksama, RekapPresensi
from gateway.domain import Attendance, Problem, Programme


class PekalonganClient(HttpBase):
    upstream = "pekalongan"

    def __init__(self, eseksama_url: str, presensi_url: str, api_key: str, *, page_size: int = 500,
                 **kwargs: Any) -> None:
        super().__init__(eseksama_url, headers={"X-API-Key": api_key}, **kwargs)
        self.presensi_url = presensi_url.rstrip("/")
        self.page_size = page_size

    def programmes(self, period: str) -> Iterator[Page]:
        return self._pages("programme", f"{self.client.base_url}".rstrip("/") + "/api/programs", period)

    def attendance(self, period: str) -> Iterator[Page]:
        return self._pages("attendance", f"{self.presensi_url}/api/rekap-presensi", period)

    def _pages(self, kind: str, url: str, period: str) -> Iterator[Page]:
        offset = 0
        while True:
            body = self.envelope(WirePage, f"{kind} listing", "GET", url,
                                 params={"periode": period, "limit": self.page_size, "offset": offset})
            records: list[BaseModel] = []
            problems: list[Problem] = []
            raw: dict[str, Any] = {}
            for n, row in enumerate(body.data):
                fields = row if isinstance(row, dict) else {}
                rid = str(fields.get("id_program") or fields.get("nip") or f"?{offset + n + 1}")
                raw[rid] = row
                try:
                    records.append(_to_domain(kind, row))
                except (ValidationError, ValueError, ArithmeticError) as exc:
                    problems.append(Problem(record_kind=kind, record_id=rid, rule="wire-format",
                                            nip=str(fields["nip"])[:18] if fields.get("nip") else None,
                                            message=f"{kind} {rid}: {describe_error(exc)}"))
            yield Page(kind, records, problems, raw, None, offset, body.total)
            offset += len(body.data)
            if not body.data or offset >= body.total:
                return


def _to_domain(kind: str, row: dict[str, Any]) -> BaseModel:
    if kind == "programme":
        p = ProgramSeksama.model_validate(row)
        return Programme(id=p.id_program, unit_id=p.id_bidang, period=p.periode, name=p.nama_program,
                         target=p.target, realisation=p.realisasi)
    a = RekapPresensi.model_validate(row)
    return Attendance(nip=a.nip, period=a.periode, late_minutes=tuple(a.terlambat_menit),
                      early_leave_minutes=tuple(a.pulang_cepat_menit), missing_records=a.tanpa_catatan,
                      absent_days=a.alpa_hari)
