"""Composition root: builds the pipeline against real endpoints, or against the bundled mocks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine

from gateway.connectors import BknAuth, BknClient, BknCredentials, HrClient, PayrollClient, TteClient
from gateway.connectors._polite import RateBudget
from gateway.connectors.pekalongan import PekalonganClient
from gateway.connectors.spbe import SpbeClient
from gateway.errors import ConfigurationError
from gateway.feed import FeedPublisher
from gateway.feed.webhooks import SecretBox, WebhookDestination
from gateway.outbox import Destination, PayrollDestination, PayrollRouter, SpbeDestination
from gateway.outbox.sipd import SipdDestination
from gateway.outbox.sipd_workbook import SipdRates
from gateway.pipeline import Clock, Pipeline, utc_now
from gateway.settings import Settings, field_type
from gateway.stages import Compute, Relaying, StageContext, Sync, Verify
from gateway.store import make_engine


@dataclass
class _Clients:
    """One set of upstream clients, from one set of settings (the deployment's, or a tenant's own)."""

    bkn: BknClient
    tte: TteClient
    payroll: PayrollClient
    pekalongan: PekalonganClient | None
    hr: HrClient | None
    spbe: SpbeClient | None

    @classmethod
    def build(cls, settings: Settings, transport: httpx.BaseTransport | None,
              sleep: Callable[[float], None]) -> _Clients:
        common: dict[str, Any] = {"transport": transport, "timeout": settings.http_timeout_seconds,
                                  "max_attempts": settings.http_max_attempts, "sleep": sleep,
                                  "retry_after_max": settings.retry_after_max_seconds,
                                  "breaker_fail_max": settings.breaker_fail_max,
                                  "breaker_reset_seconds": settings.breaker_reset_seconds}

        def budgets(credential: str, *names: str) -> dict[str, RateBudget]:
            """The rate budgets of these services that the settings set, spent under this credential."""
            return {n: RateBudget(n, settings.rate_limits[n], credential, settings.rate_limit_storage, sleep=sleep)
                    for n in names if n in settings.rate_limits}

        auth = BknAuth(settings.bkn_token_url, settings.bkn_sso_url, BknCredentials(
            consumer_key=settings.bkn_consumer_key.get_secret_value(),
            consumer_secret=settings.bkn_consumer_secret.get_secret_value(),
            sso_client_id=settings.bkn_sso_client_id, username=settings.bkn_username,
            password=settings.bkn_password.get_secret_value(),
            sso_token=settings.bkn_sso_token.get_secret_value() if settings.bkn_sso_token else None))
        bkn = BknClient(settings.bkn_base_url, settings.ekinerja_base_url, auth, page_size=settings.page_size,
                        budgets=budgets(settings.bkn_consumer_key.get_secret_value(), "siasn", "ekinerja"),
                        **common)
        tte = TteClient(settings.tte_base_url, settings.tte_username, settings.tte_password.get_secret_value(),
                        budgets=budgets(settings.tte_username, "bsre"),
                        **{**common, "timeout": settings.tte_timeout_seconds})
        payroll = PayrollClient(settings.payroll_base_url, settings.payroll_api_key.get_secret_value(),
                                budgets=budgets(settings.payroll_api_key.get_secret_value(), "payroll"), **common)
        pekalongan = None
        if settings.pekalongan_api_key is not None:
            pekalongan = PekalonganClient(settings.eseksama_base_url, settings.presensi_base_url,
                                          settings.pekalongan_api_key.get_secret_value(),
                                          page_size=settings.page_size, **common)
        hr = None
        if settings.hr_api_key is not None:
            hr = HrClient(settings.hr_base_url, settings.hr_api_key.get_secret_value(), page_size=settings.page_size,
                          **common)
        spbe = None
        if settings.spbe_api_key is not None:
            spbe = SpbeClient(settings.spbe_base_url, settings.spbe_api_key.get_secret_value(), **common)
        return cls(bkn, tte, payroll, pekalongan, hr, spbe)

    @property
    def streams(self) -> dict[str, Any]:
        """Who serves each declared stream's `upstream`."""
        found: dict[str, Any] = {"ekinerja": self.bkn, "siasn": self.bkn}
        if self.pekalongan is not None:
            found.update(eseksama=self.pekalongan, presensi=self.pekalongan)
        if self.hr is not None:
            found["hr"] = self.hr
        return found

    @property
    def all(self) -> list[Any]:
        return [c for c in (self.bkn, self.tte, self.payroll, self.pekalongan, self.hr, self.spbe) if c is not None]


def build_pipeline(settings: Settings, *, transport: httpx.BaseTransport | None = None, clock: Clock = utc_now,
                   sleep: Callable[[float], None] = time.sleep) -> Pipeline:
    """The deployment's pipeline; a tenant that names endpoints of its own gets stages of its own on the same
    store, with its own clients (its BKN, BSrE and payroll credentials), and its payroll rows go to its payroll."""
    engine = make_engine(settings.database_url)
    deployment = _Clients.build(settings, transport, sleep)
    own: dict[str, tuple[Settings, _Clients]] = {}
    for name, config in settings.tenants.items():
        if config.endpoints and config.endpoints_problem(name) is None:
            tenant_settings = settings.for_tenant(name)  # a ConfigurationError naming the section
            own[name] = (tenant_settings, _Clients.build(tenant_settings, transport, sleep))
            for client in own[name][1].all:
                client.tenant = name  # its errors and breaker are that tenant's in the metrics
    own_payroll = {name: PayrollDestination(clients.payroll) for name, (_s, clients) in own.items()}
    destinations: dict[str, Destination] = {
        "payroll": _payroll(settings, engine, PayrollDestination(deployment.payroll), own_payroll)}
    own_spbe = {name: clients.spbe for name, (_s, clients) in own.items() if clients.spbe is not None}
    if deployment.spbe is not None or own_spbe:
        destinations["spbe"] = SpbeDestination(deployment.spbe, own_spbe)
    destinations["feed"] = FeedPublisher(settings.feed_broker_url, settings.feed_exchange)
    if settings.webhook_secret_key is not None:  # webhooks to the consumers' own URLs, never a mock's transport
        destinations["webhook"] = WebhookDestination(
            engine, SecretBox(settings.webhook_secret_key.get_secret_value()), clock=clock,
            timeout=settings.webhook_timeout_seconds, disable_after=timedelta(days=settings.webhook_disable_after_days))
    every_client = deployment.all + [c for _s, clients in own.values() for c in clients.all]

    def assemble(tenant_settings: Settings, clients: _Clients) -> Pipeline:
        # The stages, wired here on one shared context; the pipeline is their sequence.
        ctx = StageContext(engine, tenant_settings, clock, http_clients=every_client)
        return Pipeline(ctx, Sync(ctx, clients.streams, publish="feed" in destinations),
                        Verify(ctx, clients.bkn, clients.tte, destinations),
                        Compute(ctx, destinations), Relaying(ctx, destinations))

    pipeline = assemble(settings, deployment)
    pipeline.own = {name: assemble(tenant_settings, clients) for name, (tenant_settings, clients) in own.items()}
    return pipeline


def sipd_rates(settings: Settings) -> dict[str, SipdRates]:
    """Each SIPD tenant's workbook rates, validated: a bad rate names the tenant and the setting."""
    rates = {}
    for name, config in settings.tenants.items():
        if config.payroll_destination != "sipd":
            continue
        try:
            rates[name] = SipdRates.model_validate(config.sipd)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ConfigurationError(f"tenant {name!r}: sipd.{where}: {first['msg']}") from None
    return rates


def _payroll(settings: Settings, engine: Engine, bpkad: PayrollDestination,
             own: dict[str, PayrollDestination] | None = None) -> Destination:
    """The `payroll` destination: the BPKAD API, or per tenant the SIPD workbook (`payroll_destination`); a
    tenant with a payroll of its own (`[tenants.X.endpoints]`) gets its rows delivered there."""
    own = own or {}
    rates = sipd_rates(settings)
    if not rates and not own:
        return bpkad
    routes: dict[str, Any] = {"bpkad": bpkad, **{f"bpkad:{name}": d for name, d in own.items()}}
    if rates:
        routes["sipd"] = SipdDestination(engine, settings.sipd_workbook_dir, rates.__getitem__)
    tenants = settings.tenants

    def choose(tenant: str) -> str:
        if tenant not in tenants or tenants[tenant].payroll_destination == "bpkad":
            return f"bpkad:{tenant}" if tenant in own else "bpkad"
        return tenants[tenant].payroll_destination

    return PayrollRouter(routes, choose)


def mock_settings(settings: Settings, world: Any) -> Settings:
    """The settings with the mocks' endpoints and demo credentials (the mocks answer only to these)."""
    values = world.endpoints.gateway_settings()
    update: dict[str, Any] = {name: TypeAdapter(field_type(Settings, name)).validate_python(value)
                              for name, value in values.items()}
    # The in-process mocks are not paced unless the caller set budgets itself: a rate budget is for real services.
    unpaced: dict[str, Any] = {} if "rate_limits" in settings.model_fields_set else {"rate_limits": {}}
    return settings.model_copy(update=update | {"bkn_sso_token": None} | unpaced)


def build_mock_pipeline(settings: Settings, world: Any, *, clock: Clock = utc_now,
                        sleep: Callable[[float], None] = time.sleep) -> Pipeline:
    # The payroll mock's budget ceiling is the tenant's pagu (issue 18), unless a test set its own.
    config = settings.tenants.get(world.scenario.tenant)
    if config is not None and config.pagu and not world.payroll.budget_per_opd:
        world.payroll.budget_per_opd = dict(config.pagu)
    return build_pipeline(mock_settings(settings, world), transport=world.transport(), clock=clock, sleep=sleep)
