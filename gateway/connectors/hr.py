"""The city's HR listing of bank accounts (`GET /rekening`), paged like Pekalongan's apps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.connectors._http import HttpBase
from gateway.connectors.bkn import Page, describe_error
from gateway.connectors.wire.hr import Page as WirePage
from gateway.connectors.wire.hr import Rekening
from gateway.domain import BankAccount, Problem

KIND = "bank_account"


class HrClient(HttpBase):
    upstream = "hr"

    def __init__(self, base_url: str, api_key: str, *, page_size: int = 500, **kwargs: Any) -> None:
        super().__init__(base_url, headers={"X-API-Key": api_key}, **kwargs)
        self.page_size = page_size

    def bank_accounts(self) -> Iterator[Page]:
        """Every employee's account, a page at a time; a row that breaks a rule becomes a problem, not a crash."""
        url = f"{self.client.base_url}".rstrip("/") + "/rekening"
        offset = 0
        while True:
            body = self.envelope(WirePage, "HR rekening listing", "GET", url,
                                 params={"limit": self.page_size, "offset": offset})
            records: list[BaseModel] = []
            problems: list[Problem] = []
            raw: dict[str, Any] = {}
            for n, row in enumerate(body.data):
                nip = row.get("nip") if isinstance(row, dict) else None
                rid = str(nip) if nip not in (None, "") else f"?{offset + n + 1}"
                raw[rid] = row
                try:
                    records.append(_to_domain(row))
                except (ValidationError, ValueError) as exc:
                    problems.append(Problem(record_kind=KIND, record_id=rid, rule="wire-format",
                                            nip=str(nip)[:18] if nip else None,
                                            message=f"bank account of {rid}: {describe_error(exc)}"))
            yield Page(KIND, records, problems, raw, None, offset, body.total)
            offset += len(body.data)
            if not body.data or offset >= body.total:
                return


def _to_domain(row: dict[str, Any]) -> BankAccount:
    r = Rekening.model_validate(row)
    return BankAccount(nip=r.nip, bank_code=r.kodeBank, bank_name=r.namaBank, account_number=r.nomorRekening,
                       account_name=r.namaRekening)


__all__ = ["HrClient"]
