"""One `gateway worker` for the replica test (tests/test_scale.py): the real Celery worker (solo pool) on the
configured broker, queue and database, named by the first argument. The tenant named by the second argument has
a bug injected: its sync raises a RuntimeError (not a GatewayError), as a defect in one city's code would."""

from __future__ import annotations

import sys
from typing import Any

from gateway import logsetup
from gateway.bootstrap import build_pipeline
from gateway.pipeline import Pipeline
from gateway.scale import make_app
from gateway.settings import Settings


def main(name: str, broken: str) -> None:
    settings = Settings()

    def pipeline() -> Pipeline:
        built = build_pipeline(settings)
        sync = built.sync

        def buggy_sync(tenant: str, period: str) -> Any:
            if tenant == broken:
                raise RuntimeError(f"injected bug in {tenant}'s sync")
            return sync(tenant, period)

        built.sync = buggy_sync  # type: ignore[method-assign]
        return built

    logsetup.configure("INFO")
    make_app(settings, pipeline).worker_main(["worker", "--pool", "solo", "--queues", settings.worker_queue,
                                              "--loglevel", "WARNING", "--hostname", name,
                                              "--without-gossip", "--without-mingle"])


if __name__ == "__main__":
    main(*sys.argv[1:3])
