"""Per-tenant endpoints and credentials: two tenants of one deployment each reach their own BKN, BSrE and payroll
with their own credentials, and neither is ever sent with the other's (or the deployment's)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.bootstrap import build_pipeline
from gateway.errors import UpstreamAuthError
from gateway.settings import Settings, TenantConfig
from mocks import BknMock, Endpoints, MockWorld, Scenario
from tests.conftest import FakeClock


def _endpoints(tenant: str) -> Endpoints:
    return Endpoints(siasn_url=f"https://bkn.{tenant}.test/apisiasn/1.0",
                     ekinerja_url=f"https://bkn.{tenant}.test/ekinerja/1.0",
                     token_url=f"https://bkn.{tenant}.test/oauth2/token", sso_url=f"https://sso.{tenant}.test/token",
                     tte_url=f"https://tte.{tenant}.test", payroll_url=f"https://payroll.{tenant}.test/api/v1",
                     spbe_url=f"https://spbe.{tenant}.test", eseksama_url=f"https://eseksama.{tenant}.test",
                     presensi_url=f"https://presensi.{tenant}.test", hr_url=f"https://hr.{tenant}.test/api/v1")


def _world(tenant: str) -> MockWorld:
    scenario = Scenario.bundled(tenant)
    world = MockWorld(scenario, _endpoints(tenant), bkn=BknMock(
        scenario, consumer=(f"{tenant}-key", f"{tenant}-secret"), sso_user=(f"{tenant}-user", f"{tenant}-pw")))
    world.tte.basic = (f"{tenant}-tte", f"{tenant}-tte-pw")
    world.payroll.api_key = f"{tenant}-payroll-key"
    world.hr.api_key = f"{tenant}-hr-key"
    world.spbe.api_key = f"{tenant}-spbe-key"
    return world


class _ByHost(httpx.BaseTransport):
    """Each host's requests to the world that serves it; any other host is a connection refused."""

    def __init__(self, worlds: dict[str, MockWorld]) -> None:
        self.routes = {host: world.transport() for tenant, world in worlds.items()
                       for host in {httpx.URL(u).host for u in _endpoints(tenant).urls().values()}}
        self.hosts: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.url.host)
        route = self.routes.get(request.url.host)
        if route is None:
            raise httpx.ConnectError(f"no route to {request.url.host}", request=request)
        return route.handle_request(request)


def _own(tenant: str, tmp_path: Path, **changes: str) -> dict[str, str]:
    ep = _endpoints(tenant)
    secret = tmp_path / f"{tenant}-bkn-secret"
    secret.write_text(f"{tenant}-secret\n")  # a secret read from a file
    values = {"bkn_base_url": ep.siasn_url, "ekinerja_base_url": ep.ekinerja_url, "bkn_token_url": ep.token_url,
              "bkn_sso_url": ep.sso_url, "bkn_consumer_key": f"{tenant}-key", "bkn_consumer_secret_file": str(secret),
              "bkn_sso_client_id": "demo", "bkn_username": f"{tenant}-user", "bkn_password": f"{tenant}-pw",
              "tte_base_url": ep.tte_url, "tte_username": f"{tenant}-tte", "tte_password": f"{tenant}-tte-pw",
              "payroll_base_url": ep.payroll_url, "payroll_api_key": f"{tenant}-payroll-key",
              "hr_base_url": ep.hr_url, "hr_api_key": f"{tenant}-hr-key",
              "spbe_base_url": ep.spbe_url, "spbe_api_key": f"{tenant}-spbe-key"}
    return values | changes


def _settings(tmp_path: Path, metro: dict[str, str], dki: dict[str, str]) -> Settings:
    base = Settings(database_url=f"sqlite:///{tmp_path / 'gateway.db'}", rate_limits={})
    tenants = dict(base.tenants)
    for name, own in (("metro", metro), ("dki", dki)):
        tenants[name] = base.tenants[name].model_copy(update={"shared_endpoints": False, "endpoints": own})
    return base.model_copy(update={"tenants": tenants})


def test_two_tenants_each_reach_their_own_systems_with_their_own_credentials(tmp_path: Path,
                                                                             clock: FakeClock) -> None:
    worlds = {"metro": _world("metro"), "dki": _world("dki")}
    transport = _ByHost(worlds)
    pipeline = build_pipeline(_settings(tmp_path, _own("metro", tmp_path), _own("dki", tmp_path)),
                              transport=transport, clock=clock, sleep=lambda _s: None)
    metro = pipeline.cycle("metro", "2026-03")
    dki = pipeline.cycle("dki", "2026-Q1")
    assert metro.compute.results > 0 and dki.compute.results > 0
    assert not any(h.endswith("go.id") for h in transport.hosts)  # the deployment's hosts were never asked
    for tenant, world in worlds.items():
        own = {e.nip for e in world.scenario.employees}
        paid = {b.nip for b in world.payroll.ledger}
        assert paid and paid <= own, tenant  # each payroll holds only its own city's employees
        assert world.bkn.calls and world.tte.calls, tenant
        # Each city's evidence verdicts in its own SPBE audit trail, sent with its own key.
        assert world.spbe.records and {v.tenant for v in world.spbe.records.values()} == {tenant}, tenant


def test_a_tenant_sent_with_another_tenants_credentials_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    worlds = {"metro": _world("metro"), "dki": _world("dki")}
    swapped = _own("metro", tmp_path, bkn_consumer_key="dki-key")
    pipeline = build_pipeline(_settings(tmp_path, swapped, _own("dki", tmp_path)), transport=_ByHost(worlds),
                              clock=clock, sleep=lambda _s: None)
    with pytest.raises(UpstreamAuthError):
        pipeline.sync("metro", "2026-03")


def test_unknown_endpoint_names_and_missing_essentials_are_named() -> None:
    with pytest.raises(ValueError, match="unknown endpoint setting.*bkn_consumer_kee"):
        TenantConfig(display_name="x", scheme="metro", endpoints={"bkn_consumer_kee": "k"})
    partial = TenantConfig(display_name="x", scheme="metro", endpoints={"bkn_base_url": "https://b.test"})
    problem = partial.endpoints_problem("x")
    assert problem is not None and "payroll_api_key" in problem and "tte_base_url" in problem
