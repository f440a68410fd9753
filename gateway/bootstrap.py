"""Composition root: builds the pipeline against real endpoints, or against the bundled mocks."""

from __future__ import annotations

import time
from collections.abc import Callable
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
from gateway.outbox import Destination, PayrollDestination, PayrollRouter, SpbeDestination
from gateway.outbox.sipd import SipdDestination
from gateway.outbox.sipd_workbook import SipdRates
from gateway.pipeline import Clock, Pipeline, utc_now
from gateway.settings import Settings
from gateway.stages import Compute, Relaying, StageContext, Sync, Verify
from gateway.store import make_engine


def build_pipeline(settings: Settings, *, transport: httpx.BaseTransport | None = None, clock: Clock = utc_now,
                   sleep: Callable[[float], None] = time.sleep) -> Pipeline:
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
                    budgets=budgets(settings.bkn_consumer_key.get_secret_value(), "siasn", "ekinerja"), **common)
    tte = TteClient(settings.tte_base_url, settings.tte_username, settings.tte_password.get_secret_value(),
                    budgets=budgets(settings.tte_username, "bsre"),
                    **{**common, "timeout": settings.tte_timeout_seconds})
    payroll = PayrollClient(settings.payroll_base_url, settings.payroll_api_key.get_secret_value(),
                            budgets=budgets(settings.payroll_api_key.get_secret_value(), "payroll"), **common)
    engine = make_engine(settings.database_url)
    destinations: dict[str, Destination] = {"payroll": _payroll(settings, engine, PayrollDestination(payroll))}
    if settings.spbe_api_key is not None:
        destinations["spbe"] = SpbeDestination(SpbeClient(settings.spbe_base_url,
                                                          settings.spbe_api_key.get_secret_value(), **common))
    destinations["feed"] = FeedPublisher(settings.feed_broker_url, settings.feed_exchange)
    pekalongan = None
    if settings.pekalongan_api_key is not None:
        pekalongan = PekalonganClient(settings.eseksama_base_url, settings.presensi_base_url,
                                      settings.pekalongan_api_key.get_secret_value(), page_size=settings.page_size,
                                      **common)
    hr = None
    if settings.hr_api_key is not None:
        hr = HrClient(settings.hr_base_url, settings.hr_api_key.get_secret_value(), page_size=settings.page_size,
                      **common)
    # The stages, wired here on one shared context; the pipeline is their sequence.
    clients: dict[str, Any] = {"ekinerja": bkn}  # who serves each declared stream's `upstream`
    if pekalongan is not None:
        clients.update(eseksama=pekalongan, presensi=pekalongan)
    if hr is not None:
        clients["hr"] = hr
    http = [bkn, tte, payroll, *(c for c in (pekalongan, hr) if c is not None)]
    spbe = destinations.get("spbe")
    if spbe is not None and hasattr(spbe, "client"):
        http.append(spbe.client)
    ctx = StageContext(engine, settings, clock, http_clients=http)
    return Pipeline(ctx, Sync(ctx, clients), Verify(ctx, bkn, tte, destinations), Compute(ctx, destinations),
                    Relaying(ctx, destinations))


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


def _payroll(settings: Settings, engine: Engine, bpkad: PayrollDestination) -> Destination:
    """The `payroll` destination: the BPKAD API, or per tenant the SIPD workbook (`payroll_destination`)."""
    rates = sipd_rates(settings)
    if not rates:
        return bpkad
    sipd = SipdDestination(engine, settings.sipd_workbook_dir, rates.__getitem__)
    tenants = settings.tenants
    return PayrollRouter({"bpkad": bpkad, "sipd": sipd},
                         lambda tenant: tenants[tenant].payroll_destination if tenant in tenants else "bpkad")


def mock_settings(settings: Settings, world: Any) -> Settings:
    """The settings with the mocks' endpoints and demo credentials (the mocks answer only to these)."""
    values = world.endpoints.gateway_settings()
    update = {name: TypeAdapter(Settings.model_fields[name].annotation).validate_python(value)
              for name, value in values.items()}
    # The in-process mocks are not paced unless the caller set budgets itself: a rate budget is for real services.
    unpaced = {} if "rate_limits" in settings.model_fields_set else {"rate_limits": {}}
    return settings.model_copy(update=update | {"bkn_sso_token": None} | unpaced)


def build_mock_pipeline(settings: Settings, world: Any, *, clock: Clock = utc_now,
                        sleep: Callable[[float], None] = time.sleep) -> Pipeline:
    return build_pipeline(mock_settings(settings, world), transport=world.transport(), clock=clock, sleep=sleep)
