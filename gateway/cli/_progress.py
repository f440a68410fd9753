"""A rich progress bar per stage and task on a terminal, for commands that run stages (`gateway demo`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from gateway.progress import Reporter, Step, silent


@contextmanager
def stage_bars(console: Console, *, quiet: bool = False) -> Iterator[Reporter]:
    """A reporter drawing one bar per (tenant, stage, task) on `console`; `silent` off a terminal or if `quiet`."""
    if quiet or not console.is_terminal:
        yield silent
        return
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TimeRemainingColumn(), console=console)
    tasks: dict[tuple[str, str, str], TaskID] = {}

    def report(step: Step) -> None:
        key = (step.tenant, step.stage, step.task)
        if key not in tasks:
            label = f"{step.stage:7} {step.task}" if step.tenant == "*" else f"{step.stage:7} {step.tenant} {step.task}"
            tasks[key] = bars.add_task(label, total=step.total, unit=step.unit)
        bars.update(tasks[key], completed=step.done, total=step.total)

    with bars:
        yield report
