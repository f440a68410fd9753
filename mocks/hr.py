"""The city's HR system (SIMPEG): the listing of employees' bank accounts, `GET /rekening` (docs/contracts/hr.md).

One row per scenario employee with a `bank_account`; an employee without one (whose payroll line the payroll mock
rejects as "missing bank account") is not listed either. A scenario that gives no `bank_code` / `bank_name` gets the
deterministic ones of `mocks._personal`; the name on the account is `account_name`, else the employee's name in
capitals, as banks print it.
"""

from __future__ import annotations

from typing import Any

import httpx
import respx

from gateway.connectors.wire.hr import Rekening
from mocks._common import paging
from mocks._personal import bank
from mocks.scenario import ScenarioData

DEMO_HR_KEY = "demo-hr-key"


class HrMock:
    def __init__(self, scenario: ScenarioData, *, api_key: str = DEMO_HR_KEY) -> None:
        self.api_key = api_key
        self.load(scenario)

    def load(self, scenario: ScenarioData) -> None:
        self.accounts: list[dict[str, Any]] = []
        for e in scenario.employees:
            if not e.bank_account:
                continue
            code, name = bank(scenario.tenant, e.nip)
            self.accounts.append(Rekening.model_construct(
                nip=e.nip, kodeBank=e.bank_code or code, namaBank=e.bank_name or name, nomorRekening=e.bank_account,
                namaRekening=e.account_name or e.name.upper()).model_dump(mode="json"))

    def listing(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("X-API-Key") != self.api_key:
            return httpx.Response(401, json={"status": "error", "message": "API key tidak valid"})
        limit, offset = paging(request)
        return httpx.Response(200, json={"status": "success", "total": len(self.accounts),
                                         "data": self.accounts[offset:offset + limit]})

    def mount(self, router: respx.MockRouter, *, base_url: str) -> None:
        router.get(f"{base_url.rstrip('/')}/rekening", name="hr.rekening").mock(side_effect=self.listing)
