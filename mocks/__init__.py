"""Mocks of the national and city systems, seeded from one scenario, plugged in at the httpx transport.

Every upstream of a scenario sits behind one respx router whose handlers are `httpx.Request -> httpx.Response`
functions. In process the gateway reaches them through `MockWorld.transport()`; over HTTP `mocks.server` turns each
incoming request into an `httpx.Request` for the same router. Every route is named (`ekinerja.aktivitas`,
`payroll.submit`, ...) and wrapped once, here, with the world's fault plan (`mocks.faults`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields

import httpx
import respx

from mocks.bkn import DEMO_CONSUMER, DEMO_SSO, BknMock
from mocks.faults import Fault, FaultPlan, Faults, FaultTarget
from mocks.hr import DEMO_HR_KEY, HrMock
from mocks.payroll import DEMO_API_KEY, PayrollMock
from mocks.pekalongan import DEMO_PEKALONGAN_KEY, PekalonganMock
from mocks.scenario import Scenario
from mocks.siasn import SiasnMock
from mocks.spbe import DEMO_SPBE_KEY, SpbeMock
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
    spbe_url: str = "https://spbe.local.go.id"
    eseksama_url: str = "https://eseksama.pekalongankota.go.id"
    presensi_url: str = "https://presensi.pekalongankota.go.id"
    hr_url: str = "https://simpeg.local.go.id/api/v1"
    origin: str = ""  # the one origin every upstream shares when served over loopback (`loopback`)

    @classmethod
    def loopback(cls, host: str, port: int) -> Endpoints:
        """Every upstream under one HTTP origin, each under its own path prefix (what `mocks.server` serves)."""
        origin = f"http://{host}:{port}"
        return cls(
            siasn_url=f"{origin}/bkn/apisiasn/1.0",
            ekinerja_url=f"{origin}/bkn/ekinerja/1.0",
            token_url=f"{origin}/bkn/oauth2/token",
            sso_url=f"{origin}/sso/auth/realms/public-siasn/protocol/openid-connect/token",
            tte_url=f"{origin}/tte",
            payroll_url=f"{origin}/payroll/api/v1",
            spbe_url=f"{origin}/spbe",
            eseksama_url=f"{origin}/eseksama",
            presensi_url=f"{origin}/presensi",
            hr_url=f"{origin}/hr/api/v1",
            origin=origin,
        )

    def urls(self) -> dict[str, str]:
        """Every upstream URL by field name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "origin"}


class MockWorld:
    """Every upstream of one scenario behind one respx router; `transport()` is the seam the gateway uses.

    `bkn` replaces the BKN mock built from the scenario (e.g. one loaded with `BknMock.from_records` for a
    benchmark); `faults` is the initial fault plan; `sleep` is what a `slow` fault waits with in process.
    """

    def __init__(self, scenario: Scenario, endpoints: Endpoints = Endpoints(), *, bkn: BknMock | None = None,
                 faults: FaultPlan | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.scenario = scenario
        self.endpoints = endpoints
        self.faults = Faults(sleep=sleep)
        self.bkn = bkn if bkn is not None else BknMock(scenario)
        self.siasn = SiasnMock(scenario, self.bkn._authorised)
        self.tte = TteMock(scenario)
        self.payroll = PayrollMock(scenario)
        self.spbe = SpbeMock()
        self.pekalongan = PekalonganMock(scenario)
        self.hr = HrMock(scenario)
        self.router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
        self.routes: dict[str, respx.Route] = {}
        ep = endpoints
        self._mount("bkn", self.bkn, lambda r: self.bkn.mount(
            r, siasn_url=ep.siasn_url, ekinerja_url=ep.ekinerja_url, token_url=ep.token_url, sso_url=ep.sso_url))
        self._mount("siasn", self.bkn, lambda r: self.siasn.mount(r, siasn_url=ep.siasn_url))  # BKN's tokens
        self._mount("tte.verify", None, lambda r: self.tte.mount(r, base_url=ep.tte_url))
        self._mount("payroll", None, lambda r: self.payroll.mount(r, base_url=ep.payroll_url))
        self._mount("spbe", None, lambda r: self.spbe.mount(r, base_url=ep.spbe_url))
        self._mount("pekalongan", None, lambda r: self.pekalongan.mount(
            r, eseksama_url=ep.eseksama_url, presensi_url=ep.presensi_url))
        self._mount("hr", None, lambda r: self.hr.mount(r, base_url=ep.hr_url))
        if faults is not None:
            self.faults.load(faults)

    def _mount(self, fallback: str, target: FaultTarget | None, mount: Callable[[respx.MockRouter], None]) -> None:
        """Mount one mock, name its routes (a route the mock left unnamed is called `fallback`, `fallback-2`, ...)
        and put the fault plan in front of each."""
        before = {id(route) for route in self.router.routes}
        mount(self.router)
        unnamed = 0
        for route in self.router.routes:
            if id(route) in before:
                continue
            name = route.name
            if name is None:
                unnamed += 1
                name = fallback if unnamed == 1 else f"{fallback}-{unnamed}"
            if name in self.routes:
                raise ValueError(f"two mock routes are named {name!r}")
            self.routes[name] = route
            route.side_effect = self.faults.wrap(name, route.side_effect, target)

    def load(self, scenario: Scenario, *, keep_books: bool = False) -> None:
        """Seed every mock from another scenario; payroll's ledger and SPBE's records are emptied unless
        `keep_books`. Issued BKN tokens stay valid."""
        self.scenario = scenario
        self.bkn.load(scenario)
        self.siasn.load(scenario)
        self.tte.load(scenario)
        self.payroll.load(scenario)
        self.pekalongan.load(scenario)
        self.hr.load(scenario)
        if not keep_books:
            self.payroll.reset()
            self.spbe.records.clear()
            self.spbe._answers.clear()  # SpbeMock has no reset() of its own yet

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.router.handler)


__all__ = ["DEMO_API_KEY", "DEMO_BASIC", "DEMO_CONSUMER", "DEMO_HR_KEY", "DEMO_PEKALONGAN_KEY", "DEMO_SPBE_KEY",
           "DEMO_SSO", "BknMock", "Endpoints", "Fault", "FaultPlan", "Faults", "HrMock", "MockWorld", "PayrollMock",
           "Scenario", "SpbeMock", "TteMock"]
