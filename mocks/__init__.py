"""Mocks of the national and city systems, seeded from one scenario, plugged in at the httpx transport."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import respx

from mocks.bkn import DEMO_CONSUMER, DEMO_SSO, BknMock
from mocks.payroll import DEMO_API_KEY, PayrollMock
from mocks.scenario import Scenario
from mocks.tte import DEMO_BASIC, TteMock


@dataclass(frozen=True)
class Endpoints:
    """Where the mocks answer; the gateway's default settings point at the real hosts, so they match."""

    siasn_url: str = "https://apimws.bkn.go.id:8243/apisiasn/1.0"
    ekinerja_url: str = "https://apimws.bkn.go.id:8243/ekinerja/1.0"
    token_url: str = "https://apimws.bkn.go.id/oauth2/token"
    sso_url: str = "https://sso-siasn.bkn.go.id/auth/realms/public-siasn/protocol/openid-connect/token"
    tte_url: str = "https://esign.local.go.id"
    payroll_url: str = "https://bpkad.local.go.id/api/v1"


class MockWorld:
    """Every upstream of one scenario behind one respx router; `transport()` is the seam the gateway uses."""

    def __init__(self, scenario: Scenario, endpoints: Endpoints = Endpoints()) -> None:
        self.scenario = scenario
        self.endpoints = endpoints
        self.bkn = BknMock(scenario)
        self.tte = TteMock(scenario)
        self.payroll = PayrollMock(scenario)
        self.router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
        self.bkn.mount(self.router, siasn_url=endpoints.siasn_url, ekinerja_url=endpoints.ekinerja_url,
                       token_url=endpoints.token_url, sso_url=endpoints.sso_url)
        self.tte.mount(self.router, base_url=endpoints.tte_url)
        self.payroll.mount(self.router, base_url=endpoints.payroll_url)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.router.handler)


__all__ = ["DEMO_API_KEY", "DEMO_BASIC", "DEMO_CONSUMER", "DEMO_SSO", "BknMock", "Endpoints", "MockWorld",
           "PayrollMock", "Scenario", "TteMock"]
