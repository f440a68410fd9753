"""Stage progress: each stage says how far it got, and whoever runs it decides how to show it.

A stage (sync, verify, compute, relay) calls its reporter with a `Step` after each committed unit of work: a page
of records, a chunk of documents, a part of the employees, a pass of outbox rows. The daemon's reporter is
`log_progress` (a structured `stage.progress` event in the log); the CLI shows a rich progress bar per stage on a
terminal (`gateway.cli._progress`); `silent` shows nothing (`--json`, or output that is not a terminal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("gateway.progress")


@dataclass(frozen=True)
class Step:
    tenant: str
    stage: str  # sync | verify | compute | relay
    done: int  # units finished so far in this task
    total: int | None  # units in the task, None when not known in advance
    unit: str  # records | documents | employees | rows
    task: str = ""  # what the stage is working through: the stream and month, the month, the period


Reporter = Callable[[Step], None]


def log_progress(step: Step) -> None:
    log.info("stage.progress", tenant=step.tenant, stage=step.stage, task=step.task, done=step.done,
             total=step.total, unit=step.unit)


def silent(_step: Step) -> None:
    return None
