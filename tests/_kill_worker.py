"""The process the kill test SIGKILLs: one tenant's compute and relay against the configured (served mock)
endpoints, from GATEWAY_* settings. `prepare` pulls and verifies first (not killed)."""

from __future__ import annotations

import sys

from gateway.bootstrap import build_pipeline
from gateway.settings import Settings


def main(mode: str, tenant: str, period: str) -> None:
    pipeline = build_pipeline(Settings())
    if mode == "prepare":
        pipeline.sync(tenant, period)
        pipeline.verify(tenant, period)
        return
    pipeline.compute(tenant, period)
    pipeline.relay()


if __name__ == "__main__":
    main(*sys.argv[1:4])
