"""Mocks of the national and city systems, seeded from one scenario, plugged in at the httpx transport.

Every upstream of a scenario sits behind one respx router whose handlers are `httpx.Request -> httpx.Response`
functions. In process the gateway reaches them through `MockWorld.transport()`; over HTTP `mocks.server` turns each
incoming request into an `httpx.Request` for the same router. Every route is named (`ekinerja.aktivitas`,
`payroll.submit`, ...) and wrapped once, here, with the world's fault plan (`mocks.faults`).

Served over loopback, the national systems are also answered at their real absolute paths on the server's root
(`Endpoints.root_paths`), so a client configured with the host alone, joining the paths it knows, reaches them too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

import httpx
import respx

from gateway.settings import Settings
from mocks.bkn import DEMO_CONSUMER, DEMO_SSO, BknMock
from mocks.faults import Fault, FaultPlan, Faults, FaultTarget
from mocks.hr import DEMO_HR_KEY, HrMock
from mocks.payroll import DEMO_API_KEY, PayrollMock
from mocks.pekalongan import DEMO_PEKALONGAN_KEY, PekalonganMock
from mocks.scenario import Scenario, ScenarioData, ScenarioFile
from mocks.siasn import SiasnMock
from mocks.spbe import DEMO_SPBE_KEY, SpbeMock
from mocks.tte import DEMO_BASIC, TteMock

# The one table of upstream names: each gateway setting (GATEWAY_<NAME>) and the Endpoints field it takes. The
# default URLs are the gateway's own defaults (the real hosts), read from its settings, so the two cannot drift.
SETTING_OF_ENDPOINT = {"siasn_url": "bkn_base_url", "ekinerja_url": "ekinerja_base_url", "token_url": "bkn_token_url",
                       "sso_url": "bkn_sso_url", "tte_url": "tte_base_url", "payroll_url": "payroll_base_url",
                       "spbe_url": "spbe_base_url", "eseksama_url": "eseksama_base_url",
                       "presensi_url": "presensi_base_url", "hr_url": "hr_base_url"}
_DEFAULT = {name: Settings.model_fields[setting].default for name, setting in SETTING_OF_ENDPOINT.items()}
# The upstreams whose real paths public clients join onto a bare host, and which of their paths sit at the root:
# the whole base path, or (BSrE's appliance has no base path of its own) each endpoint by name.
_AT_ROOT = {"token_url": ("",), "sso_url": ("",), "siasn_url": ("",), "ekinerja_url": ("",),
            "tte_url": ("/api/v2/verify/pdf", "/api/sign/verify")}
ADMIN_PATH = "/_admin"


def _within(path: str, prefix: str) -> bool:
    """`path` is `prefix` or lies under it, whole segments only (`/api/v2` is not within `/api/v`)."""
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


@dataclass(frozen=True)
class Endpoints:
    """Where the mocks answer; by default the gateway's default settings (the real hosts), so they match."""

    siasn_url: str = _DEFAULT["siasn_url"]
    ekinerja_url: str = _DEFAULT["ekinerja_url"]
    token_url: str = _DEFAULT["token_url"]
    sso_url: str = _DEFAULT["sso_url"]
    tte_url: str = _DEFAULT["tte_url"]
    payroll_url: str = _DEFAULT["payroll_url"]
    spbe_url: str = _DEFAULT["spbe_url"]
    eseksama_url: str = _DEFAULT["eseksama_url"]
    presensi_url: str = _DEFAULT["presensi_url"]
    hr_url: str = _DEFAULT["hr_url"]
    origin: str = ""  # the one origin every upstream shares when served over loopback (`loopback`)

    @classmethod
    def loopback(cls, host: str, port: int) -> Endpoints:
        """Every upstream under one HTTP origin, each under its own path prefix (what `mocks.server` serves, with
        the national systems at their real paths on the root as well: `root_paths`)."""
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

    def root_paths(self) -> dict[str, str]:
        """Real path -> the path this layout serves it under, for the upstreams that `mocks.server` also answers
        on the root of its origin (token, SSO, SIASN, e-Kinerja, BSrE's two verify endpoints); empty without an
        origin. Raises ValueError when one root path would shadow another, the admin endpoints or a prefixed one."""
        if not self.origin:
            return {}
        out = {}
        for name, tails in _AT_ROOT.items():
            real, here = urlsplit(_DEFAULT[name]).path.rstrip("/"), urlsplit(getattr(self, name)).path.rstrip("/")
            for tail in tails:
                out[real + tail] = here + tail
        prefixed = [urlsplit(url).path.rstrip("/") for url in self.urls().values()]
        for real, here in out.items():
            taken = [p for p in out if p != real] + [p for p in prefixed if p and p != here] + [ADMIN_PATH]
            clash = next((p for p in taken if _within(real, p) or _within(p, real)), None)
            if clash is not None:
                raise ValueError(f"the real path {real} would collide with {clash} on {self.origin}")
        return out

    def urls(self) -> dict[str, str]:
        """Every upstream URL by field name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "origin"}

    def gateway_settings(self) -> dict[str, str]:
        """The gateway settings that point it at these mocks, with the demo credentials the mocks accept: the one
        place those names are written (`bootstrap.mock_settings`, `gateway mock serve` and the tests use it)."""
        return {SETTING_OF_ENDPOINT[name]: url for name, url in self.urls().items()} | DEMO_CREDENTIALS


# The demo credentials, by the gateway setting that carries each.
DEMO_CREDENTIALS = {
    "bkn_consumer_key": DEMO_CONSUMER[0], "bkn_consumer_secret": DEMO_CONSUMER[1], "bkn_sso_client_id": "demo",
    "bkn_username": DEMO_SSO[0], "bkn_password": DEMO_SSO[1], "tte_username": DEMO_BASIC[0],
    "tte_password": DEMO_BASIC[1], "payroll_api_key": DEMO_API_KEY, "spbe_api_key": DEMO_SPBE_KEY,
    "pekalongan_api_key": DEMO_PEKALONGAN_KEY, "hr_api_key": DEMO_HR_KEY}


class MockWorld:
    """Every upstream of one scenario behind one respx router; `transport()` is the seam the gateway uses.

    `scenario` is a `Scenario`, or a `ScenarioFile` (what `gateway mock serve` and `gateway demo` load: its records
    are built one at a time as each mock reads them, and its parsed bulk dropped once the mocks are seeded).
    `bkn` replaces the BKN mock built from the scenario (e.g. one loaded with `BknMock.from_records` for a
    benchmark); `faults` is the initial fault plan; `sleep` is what a `slow` fault waits with in process.
    """

    def __init__(self, scenario: ScenarioData, endpoints: Endpoints = Endpoints(), *, bkn: BknMock | None = None,
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
        _seeded(scenario)
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

    def load(self, scenario: ScenarioData, *, keep_books: bool = False) -> None:
        """Seed every mock from another scenario; payroll's ledger and SPBE's records are emptied unless
        `keep_books`. Issued BKN tokens stay valid."""
        self.scenario = scenario
        self.bkn.load(scenario)
        self.siasn.load(scenario)
        self.tte.load(scenario)
        self.payroll.load(scenario)
        self.pekalongan.load(scenario)
        self.hr.load(scenario)
        _seeded(scenario)
        if not keep_books:
            self.payroll.reset()
            self.spbe.records.clear()
            self.spbe._answers.clear()  # SpbeMock has no reset() of its own yet

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.router.handler)


def _seeded(scenario: ScenarioData) -> None:
    """A scenario file's bulk records are now held, encoded, by the BKN mock alone: drop the parsed copy."""
    if isinstance(scenario, ScenarioFile):
        scenario.release()


__all__ = ["DEMO_API_KEY", "DEMO_BASIC", "DEMO_CONSUMER", "DEMO_HR_KEY", "DEMO_PEKALONGAN_KEY", "DEMO_SPBE_KEY",
           "DEMO_SSO", "BknMock", "Endpoints", "Fault", "FaultPlan", "Faults", "HrMock", "MockWorld", "PayrollMock",
           "Scenario", "ScenarioData", "ScenarioFile", "SpbeMock", "TteMock"]
