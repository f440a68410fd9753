"""The process the kill test SIGKILLs: one tenant's compute and relay against the configured (served mock)
endpoints, from GATEWAY_* settings. `prepare` pulls and verifies first (not killed). The optional fourth argument
moves the worker's clock that many seconds ahead: the test lets relay leases expire by advancing it, not by
waiting. The optional fifth is where the worker dies: it SIGKILLs itself right after its Nth SQL statement (inside a
transaction or between two, before or after a delivery), so the test picks kill moments without waiting for any."""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from gateway.bootstrap import build_pipeline
from gateway.settings import Settings


def main(mode: str, tenant: str, period: str, ahead: str = "0", die_after: str = "0") -> None:
    offset = timedelta(seconds=float(ahead))
    pipeline = build_pipeline(Settings(), clock=lambda: datetime.now(UTC) + offset)
    if int(die_after):
        statements = [0]

        def count(*_args: Any) -> None:
            statements[0] += 1
            if statements[0] == int(die_after):
                os.kill(os.getpid(), signal.SIGKILL)

        event.listen(pipeline.engine, "after_cursor_execute", count)
    if mode == "prepare":
        pipeline.sync(tenant, period)
        pipeline.verify(tenant, period)
        return
    pipeline.compute(tenant, period)
    pipeline.relay()


if __name__ == "__main__":
    main(*sys.argv[1:6])
