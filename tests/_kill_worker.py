"""The process the kill test SIGKILLs: one tenant's compute and relay against the configured (served mock)
endpoints, from GATEWAY_* settings. `prepare` pulls and verifies first (not killed). The optional fourth argument
moves the worker's clock that many seconds ahead: the test lets relay leases expire by advancing it, not by
waiting."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from gateway.bootstrap import build_pipeline
from gateway.settings import Settings


def main(mode: str, tenant: str, period: str, ahead: str = "0") -> None:
    offset = timedelta(seconds=float(ahead))
    pipeline = build_pipeline(Settings(), clock=lambda: datetime.now(UTC) + offset)
    if mode == "prepare":
        pipeline.sync(tenant, period)
        pipeline.verify(tenant, period)
        return
    pipeline.compute(tenant, period)
    pipeline.relay()


if __name__ == "__main__":
    main(*sys.argv[1:5])
