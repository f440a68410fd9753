"""What every stage shares: the store, the settings, the clock and the progress reporter, in one context object
that the composition root (`gateway.bootstrap`) builds once and hands to each stage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from gateway.domain import EvidenceCheck, TteConclusion
from gateway.errors import ConfigurationError
from gateway.outbox import RelayReport
from gateway.progress import Reporter, log_progress
from gateway.settings import Settings
from gateway.store.repository import StageCount

Clock = Callable[[], datetime]

RECHECKED = (TteConclusion.UNCHECKED.value, TteConclusion.UNAVAILABLE.value)  # asked again on every verify


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class StageContext:
    engine: Engine
    settings: Settings
    clock: Clock = utc_now
    progress: Reporter = log_progress  # told after each committed page, chunk, part or relay pass
    http_clients: list[Any] = field(default_factory=list)  # every upstream client: their breakers close per stage


class Stage:
    """A stage reads its shared parts through its context, so that one `progress` set on the pipeline reaches all."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx

    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def clock(self) -> datetime:
        return self.ctx.clock()

    def progress(self, step: Any) -> None:
        self.ctx.progress(step)

    def _fresh(self) -> None:
        """A stage starts by closing the circuit breakers: the last tick's outage does not refuse this one."""
        for client in self.ctx.http_clients:
            client.reset_breaker()

    def _tenant(self, tenant: str) -> Any:
        config = self.settings.tenants.get(tenant)
        if config is None:
            raise ConfigurationError(f"tenant {tenant!r} is not configured; known: "
                                     f"{', '.join(self.settings.tenant_names) or 'none'}")
        return config


@dataclass
class SyncReport:
    staged: dict[str, StageCount] = field(default_factory=dict)
    quarantined: int = 0
    resolved: int = 0  # quarantine entries closed because their record came back clean
    lookups_stopped: str | None = None  # why a per-employee stream stopped for this tick (SIASN failing)


@dataclass
class VerifyReport:
    checked: int = 0
    tte_not_valid: int = 0
    unavailable: int = 0
    reused: int = 0  # verdicts taken from an earlier check of the same bytes, BSrE not asked

    def count(self, check: EvidenceCheck, reused: bool) -> None:
        self.checked += 1
        if check.tte in RECHECKED:
            self.unavailable += 1
        elif check.tte is not TteConclusion.VALID:
            self.tte_not_valid += 1
        self.reused += reused


@dataclass
class ComputeReport:
    results: int = 0
    quarantined: int = 0
    batches: list[str] = field(default_factory=list)
    held: int = 0  # employees held back: evidence BKN or BSrE could not check yet
    resolved: int = 0  # quarantine entries of earlier computations this one no longer finds


@dataclass
class CycleReport:
    sync: SyncReport
    verify: VerifyReport
    compute: ComputeReport
    relay: RelayReport


