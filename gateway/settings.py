"""Settings: environment variables GATEWAY_*, an optional TOML file (GATEWAY_CONFIG_FILE), embedded defaults.

Precedence, highest first: constructor arguments, environment, the TOML file, `gateway/defaults.toml`.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, SecretStr, TypeAdapter, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.errors import ConfigurationError

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")


# What a tenant may name for itself: every upstream's URL and credentials.
TENANT_ENDPOINTS = frozenset({
    "bkn_base_url", "ekinerja_base_url", "bkn_token_url", "bkn_sso_url", "bkn_consumer_key", "bkn_consumer_secret",
    "bkn_sso_client_id", "bkn_username", "bkn_password", "bkn_sso_token", "tte_base_url", "tte_username",
    "tte_password", "payroll_base_url", "payroll_api_key", "spbe_base_url", "spbe_api_key", "eseksama_base_url",
    "presensi_base_url", "pekalongan_api_key", "hr_base_url", "hr_api_key"})
# A tenant with endpoints of its own names at least these: its BKN, its BSrE appliance and its payroll.
REQUIRED_OWN = frozenset({"bkn_base_url", "ekinerja_base_url", "bkn_token_url", "bkn_sso_url", "bkn_consumer_key",
                          "bkn_consumer_secret", "tte_base_url", "tte_username", "tte_password", "payroll_base_url",
                          "payroll_api_key"})


class TenantConfig(BaseModel):
    """One city: its scheme and that scheme's settings (validated by the scheme's own model)."""

    model_config = ConfigDict(extra="forbid")

    display_name: str
    scheme: str
    settings: dict[str, Any] = {}
    # Local apps pulled next to BKN: "eseksama" (programme results), "presensi" (attendance summaries), both
    # Pekalongan's; "rekening" (employees' bank accounts from the city's HR listing); "siasn" (each employee's
    # position history from SIASN, by which approvals are judged on the activity's day).
    sources: list[Literal["eseksama", "presensi", "rekening", "siasn"]] = []
    spbe_audit: bool = True  # send evidence verdicts to the SPBE audit trail
    # Public reports: no average, share or amount computed from fewer employees than this (gateway/reports.py).
    report_min_employees: int = Field(default=5, ge=1)
    # The gateway's own PAdES check (gateway/pades.py) against these trust roots (PEM files: the BSrE root and
    # intermediates); none: only BSrE judges. With `bsre_required` (default) BSrE is asked for every document and
    # its verdict counts, both are recorded; without it the offline verdict counts where it can decide.
    trust_roots: list[str] = []
    bsre_required: bool = True
    payment: Literal["monthly", "quarterly"] = "monthly"
    # Evidence integrity thresholds (gateway/mappings/integrity.py, IntegrityThresholds: every key has a default);
    # signals change no money.
    integrity: dict[str, Any] = {}
    # Budget ceiling (pagu, issue 18): OPD id -> rupiah per year for the TPP (gateway/domain/budget.py); an OPD
    # without one is not watched. `[tenants.<t>.pagu]`.
    pagu: dict[str, NonNegativeInt] = {}
    # Where payroll goes: "bpkad" (the finance office's API) or "sipd" (one SIPD "TPP" workbook per OPD and
    # batch, written into `sipd_workbook_dir`); `sipd` holds the workbook's rates (gateway/outbox/sipd_workbook.py).
    payroll_destination: Literal["bpkad", "sipd"] = "bpkad"
    sipd: dict[str, Any] = {}
    # Pull with the deployment-wide endpoints and credentials (GATEWAY_BKN_*, GATEWAY_TTE_*, ...). Off by default:
    # one city's BKN data must never be staged into another tenant; the bundled demo tenants turn it on.
    shared_endpoints: bool = False
    # The tenant's own endpoints and credentials, by the deployment setting each replaces (`bkn_consumer_key`,
    # `tte_base_url`, ...; TENANT_ENDPOINTS lists them); a secret may come from a file instead (`<name>_file`).
    # Environment: GATEWAY_TENANTS__<TENANT>__ENDPOINTS__<NAME>.
    endpoints: dict[str, str] = {}

    @field_validator("endpoints")
    @classmethod
    def _known_endpoint_names(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(k for k in value if k.removesuffix("_file") not in TENANT_ENDPOINTS)
        if unknown:
            raise ValueError(f"unknown endpoint setting(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(TENANT_ENDPOINTS))} (a secret may be read from <name>_file)")
        return value

    def endpoints_problem(self, tenant: str) -> str | None:
        """Why this tenant cannot be pulled, or None: it uses the deployment's endpoints (`shared_endpoints`), or
        names its own for every service it pulls from or pays to."""
        if self.shared_endpoints:
            return None
        if not self.endpoints:
            return (f"tenant {tenant!r} has no endpoints of its own and its section does not say "
                    f"shared_endpoints = true; not pulled (set [tenants.{tenant}.endpoints] or "
                    "shared_endpoints = true to use the deployment's)")
        named = {k.removesuffix("_file") for k in self.endpoints}
        missing = sorted(REQUIRED_OWN - named)
        if missing:
            return (f"tenant {tenant!r} names endpoints of its own but not {', '.join(missing)}; not pulled (a "
                    "tenant with endpoints of its own never borrows the deployment's BKN, BSrE or payroll)")
        return None

    def own_values(self) -> dict[str, str]:
        """The tenant's own endpoint values, secrets read from their files."""
        values = {}
        for key, value in self.endpoints.items():
            if key.endswith("_file"):
                try:
                    values[key.removesuffix("_file")] = Path(value).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ConfigurationError(f"{key}: cannot read {value}: {exc.strerror}") from None
            else:
                values[key] = value
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore")

    database_url: str = "sqlite:///gateway.db"
    config_file: Path | None = None

    # BKN SIASN / e-Kinerja (docs/contracts/siasn.md): gateway token by client credentials, SSO token by password grant.
    bkn_base_url: str = "https://apimws.bkn.go.id:8243/apisiasn/1.0"
    ekinerja_base_url: str = "https://apimws.bkn.go.id:8243/ekinerja/1.0"
    bkn_token_url: str = "https://apimws.bkn.go.id/oauth2/token"
    bkn_sso_url: str = (
        "https://sso-siasn.bkn.go.id/auth/realms/public-siasn/protocol/openid-connect/token")
    bkn_consumer_key: SecretStr = SecretStr("")
    bkn_consumer_secret: SecretStr = SecretStr("")
    bkn_sso_client_id: str = ""
    bkn_username: str = ""
    bkn_password: SecretStr = SecretStr("")
    bkn_sso_token: SecretStr | None = None  # a pasted SSO token instead of a password
    # BSrE esign client service (per instansi), HTTP Basic.
    tte_base_url: str = "https://esign.local.go.id"
    tte_username: str = ""
    tte_password: SecretStr = SecretStr("")
    # BPKAD payroll API (the gateway's own contract).
    payroll_base_url: str = "https://bpkad.local.go.id/api/v1"
    payroll_api_key: SecretStr = SecretStr("")

    # SPBE audit trail (the gateway's own contract).
    spbe_base_url: str = "https://spbe.local.go.id"
    spbe_api_key: SecretStr | None = None  # unset: no SPBE audit trail is sent
    # Kota Pekalongan's e-Seksama and attendance apps.
    eseksama_base_url: str = "https://eseksama.pekalongankota.go.id"
    presensi_base_url: str = "https://presensi.pekalongankota.go.id"
    pekalongan_api_key: SecretStr | None = None  # unset: the city apps are not pulled
    # The city's own HR system (SIMPEG): the bank-account listing (the gateway's own contract, docs/contracts/hr.md).
    hr_base_url: str = "https://simpeg.local.go.id/api/v1"
    hr_api_key: SecretStr | None = None  # unset: bank accounts are not pulled

    # The event feed: a kombu broker URL (memory:// embedded; amqp://... for RabbitMQ, redis://... for Redis).
    feed_broker_url: str = "memory://"
    feed_exchange: str = "tpp.events"
    # Webhooks (gateway/feed/webhooks.py): endpoint secrets are stored encrypted with this Fernet key
    # (GATEWAY_WEBHOOK_SECRET_KEY; unset: no endpoint can be added or delivered to).
    webhook_secret_key: SecretStr | None = None
    webhook_timeout_seconds: float = Field(15.0, gt=0)
    webhook_disable_after_days: float = Field(5.0, gt=0)  # an endpoint failing only, this long, is disabled

    # Replicas (`gateway worker` / `gateway scheduler`, gateway/scale/): Celery's broker (unset: the feed's broker;
    # RabbitMQ in production), the queue the stages go through, and how long a stage whose tenant-period another
    # worker holds waits before it is tried again.
    worker_broker_url: str | None = None
    worker_queue: str = "tpp.work"
    worker_busy_retry_seconds: float = Field(5.0, gt=0)

    http_timeout_seconds: float = 30.0
    tte_timeout_seconds: float = 120.0  # a large multi-signature PDF took ~40 s at BSrE
    http_max_attempts: int = 5
    # An upstream's Retry-After is waited in full up to this; a longer one ends the call for this tick (a sync
    # keeps its cursor and the next tick goes on from there).
    retry_after_max_seconds: float = Field(600.0, ge=0)
    # Each sync reads again the rows stamped up to this long before its saved cursor: a row an upstream commits
    # late, with an updatedAt older than rows already read, is still found. Rows read again are unchanged.
    # Rate budgets per upstream service, per credential, shared by every process through `rate_limit_storage`
    # (`memory://`: this process only; `redis://127.0.0.1:6379` for a deployment of several). Names: siasn,
    # ekinerja, bsre, payroll, spbe, hr, pekalongan; a `limits` rate such as "1/second" or "600/minute".
    rate_limits: dict[str, str] = {"siasn": "1/second"}
    rate_limit_storage: str = "memory://"
    breaker_fail_max: int = Field(10, ge=1)  # failures in a row an upstream is to blame for that open its circuit
    breaker_reset_seconds: float = Field(60.0, gt=0)  # then one probe after this long
    sync_lag_seconds: int = Field(600, ge=0, le=7 * 86400)
    # SIASN per employee (`rw-jabatan`; SIASN has no listing): at most this many employees asked per sync, the new
    # and changed ones (by their e-Kinerja record) first, one request each at SIASN's pace (300: five minutes at
    # 1/second); each is asked again `siasn_refresh_days` after the last time, so a city is refreshed over a month.
    siasn_lookups_per_sync: int = Field(300, ge=0)
    siasn_refresh_days: int = Field(30, ge=1, le=366)
    page_size: int = 500
    relay_batch_size: int = 100
    relay_lease_seconds: int = 300
    relay_max_attempts: int = 8
    relay_parallelism: int = 4  # aggregates delivered at once by one relay (in order within each)
    # A period with more employees is computed in parts of at most this many (where the scheme can split: Metro
    # by supervisor chains, DKI by OPD subtree), one part in memory at a time; None: always whole.
    compute_max_employees: int | None = Field(5_000, ge=1)
    pades_workers: int = Field(2, ge=1, le=32)  # processes for the offline PAdES check
    verify_concurrency: int = Field(16, ge=1, le=64)  # evidence documents fetched and checked at once
    outbox_retention_days: int = 400  # delivered rows are kept this long (audits, feed replay), then purged
    sipd_workbook_dir: Path = Path("sipd-workbooks")  # where SIPD workbooks are written, per tenant and period

    tenants: dict[str, TenantConfig] = {}
    # The tenants `gateway run` works for (GATEWAY_DAEMON_TENANTS='["metro"]'); empty: every configured tenant.
    # Each deployment holds one instansi's BKN credentials, so it normally names exactly one.
    daemon_tenants: list[str] = []

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        user_file = os.environ.get("GATEWAY_CONFIG_FILE")
        if user_file:
            sources.append(_checked_toml(settings_cls, Path(user_file)))
        sources.append(TomlConfigSettingsSource(settings_cls, toml_file=DEFAULTS_FILE))
        return tuple(sources)

    @cached_property
    def tenant_names(self) -> list[str]:
        return sorted(self.tenants)

    def for_tenant(self, tenant: str) -> Settings:
        """The deployment's settings with the tenant's own endpoints and credentials in place of the deployment's
        (the same settings if it names none)."""
        config = self.tenants[tenant]
        if not config.endpoints:
            return self
        try:
            values = config.own_values()
            update: dict[str, Any] = {name: TypeAdapter(field_type(type(self), name)).validate_python(value)
                      for name, value in values.items()}
        except (ValueError, ConfigurationError) as exc:  # a pydantic ValidationError is a ValueError
            raise ConfigurationError(f"[tenants.{tenant}.endpoints]: {exc}") from None
        return self.model_copy(update=update)


def _checked_toml(settings_cls: type[BaseSettings], path: Path) -> TomlConfigSettingsSource:
    """The operator's TOML file, refused with the reason when it is missing, is not TOML (the line said) or names
    a top-level setting that does not exist (a misspelling would otherwise be ignored: environment variables are
    read leniently, so the model cannot forbid extras itself). Tenant sections forbid unknown keys themselves."""
    if not path.is_file():
        raise ConfigurationError(f"GATEWAY_CONFIG_FILE {path}: no such file")
    try:
        source = TomlConfigSettingsSource(settings_cls, toml_file=path)
    except ValueError as exc:  # tomllib.TOMLDecodeError: "... (at line 3, column 7)"
        raise ConfigurationError(f"GATEWAY_CONFIG_FILE {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(source.toml_data) - set(settings_cls.model_fields))
    if unknown:
        raise ConfigurationError(f"GATEWAY_CONFIG_FILE {path}: unknown setting(s) {', '.join(unknown)}; see "
                                 "docs/operations.md for the settings")
    return source


def field_type(model: type[BaseModel], name: str) -> Any:
    """A field's declared type, for a `TypeAdapter` that validates one value of it."""
    return model.model_fields[name].annotation
