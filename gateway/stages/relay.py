"""Relay: deliver what the outbox holds until nothing is claimable now; purge what is past its retention."""

from __future__ import annotations

from gateway.outbox import Destination, Relay, RelayReport
from gateway.progress import Step
from gateway.stages._base import Stage, StageContext


class Relaying(Stage):
    def __init__(self, ctx: StageContext, destinations: dict[str, Destination]) -> None:
        super().__init__(ctx)
        self.destinations = destinations

    def __call__(self, max_passes: int = 100) -> RelayReport:
        """Relay until nothing is claimable now (rows waiting for a later attempt stay for the daemon); the relay
        closes its destinations' circuit breakers when it starts."""
        relay = Relay(self.engine, self.destinations, clock=self.clock,
                      lease_seconds=self.settings.relay_lease_seconds, batch_size=self.settings.relay_batch_size,
                      max_attempts=self.settings.relay_max_attempts, parallelism=self.settings.relay_parallelism)
        return relay.run_until_idle(max_passes, on_pass=lambda total: self.progress(
            Step("*", "relay", total.claimed, None, "rows", "outbox")))

    def purge(self) -> int:
        """Delete delivered outbox rows past the retention (`outbox_retention_days`)."""
        from gateway.outbox.writer import purge_delivered

        with self.engine.begin() as conn:
            return purge_delivered(conn, self.clock(), self.settings.outbox_retention_days)

