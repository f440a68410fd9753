"""The stages of a cycle, each a small unit on a shared `StageContext`: `Sync`, `Verify`, `Compute`, `Relaying`."""

from gateway.stages._base import (
    RECHECKED,
    Clock,
    ComputeReport,
    CycleReport,
    Stage,
    StageContext,
    SyncReport,
    VerifyReport,
    utc_now,
)
from gateway.stages.compute import Compute
from gateway.stages.relay import Relaying
from gateway.stages.sync import Sync
from gateway.stages.verify import Verify

__all__ = ["RECHECKED", "Clock", "Compute", "ComputeReport", "CycleReport", "Relaying", "Stage", "StageContext",
           "Sync", "SyncReport", "Verify", "VerifyReport", "utc_now"]
