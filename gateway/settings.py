"""Settings: environment variables GATEWAY_*, an optional TOML file (GATEWAY_CONFIG_FILE), embedded defaults.

Precedence, highest first: constructor arguments, environment, the TOML file, `gateway/defaults.toml`.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")


class TenantConfig(BaseModel):
    """One city: its scheme and that scheme's settings (validated by the scheme's own model)."""

    model_config = ConfigDict(extra="forbid")

    display_name: str
    scheme: str
    settings: dict[str, Any] = {}
    # Local apps pulled next to BKN: "eseksama" (programme results), "presensi" (attendance summaries), both
    # Pekalongan's; "rekening" (employees' bank accounts from the city's HR listing).
    sources: list[Literal["eseksama", "presensi", "rekening"]] = []
    spbe_audit: bool = True  # send evidence verdicts to the SPBE audit trail
    payment: Literal["monthly", "quarterly"] = "monthly"
    # Where payroll goes: "bpkad" (the finance office's API) or "sipd" (one SIPD "TPP" workbook per OPD and
    # batch, written into `sipd_workbook_dir`); `sipd` holds the workbook's rates (gateway/outbox/sipd_workbook.py).
    payroll_destination: Literal["bpkad", "sipd"] = "bpkad"
    sipd: dict[str, Any] = {}
    # Pull with the deployment-wide endpoints and credentials (GATEWAY_BKN_*, GATEWAY_TTE_*, ...). Off by default:
    # one city's BKN data must never be staged into another tenant; the bundled demo tenants turn it on.
    shared_endpoints: bool = False

    def endpoints_problem(self, tenant: str) -> str | None:
        """Why this tenant cannot be pulled, or None. A tenant has no endpoints of its own yet (issue 15), so only
        `shared_endpoints = true` lets it use the deployment's."""
        if self.shared_endpoints:
            return None
        return (f"tenant {tenant!r} has no endpoints of its own and its section does not say "
                f"shared_endpoints = true; not pulled (set it in [tenants.{tenant}] to use the deployment's)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore")

    database_url: str = "sqlite:///gateway.db"
    config_file: Path | None = None

    # BKN SIASN / e-Kinerja (upstreams.md): gateway token by client credentials, SSO token by password grant.
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
    page_size: int = 500
    relay_batch_size: int = 100
    relay_lease_seconds: int = 300
    relay_max_attempts: int = 8
    relay_parallelism: int = 4  # aggregates delivered at once by one relay (in order within each)
    # A period with more employees is computed in parts of at most this many (where the scheme can split: Metro
    # by supervisor chains, DKI by OPD subtree), one part in memory at a time; None: always whole.
    compute_max_employees: int | None = Field(5_000, ge=1)
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
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(user_file)))
        sources.append(TomlConfigSettingsSource(settings_cls, toml_file=DEFAULTS_FILE))
        return tuple(sources)

    @cached_property
    def tenant_names(self) -> list[str]:
        return sorted(self.tenants)
