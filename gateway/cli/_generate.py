"""`gateway mock generate`: write a synthetic scenario (docs/scenario-format.md) for a tenant, at any scale."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.domain import fmt

err = Console(stderr=True)


def _shares(items: list[str] | None, option: str = "--bad") -> dict[str, float]:
    shares = {}
    for item in items or []:
        kind, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            shares[kind.strip()] = float(value)
        except ValueError:
            raise typer.BadParameter(f"{item!r}: expected KIND=SHARE, e.g. late_evidence=0.2",
                                     param_hint=option) from None
    return shares


def generate_command(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="metro, pekalongan or dki")],
    employees: Annotated[int, typer.Option("--employees", "-n", min=1, help="head count")],
    period: Annotated[str, typer.Option("--period", "-p", help="a month YYYY-MM or a quarter YYYY-Qn")],
    seed: Annotated[int, typer.Option("--seed", "-s", help="same seed and arguments, same bytes")] = 0,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="file to write; default standard output")] = None,
    bad_share: Annotated[float, typer.Option("--bad-share", min=0.0, max=1.0,
                                             help="share of bad records of every kind")] = 0.05,
    bad: Annotated[list[str] | None, typer.Option(
        "--bad", help="KIND=SHARE for one kind (repeatable): late_evidence, bad_signature, altered_document, "
                      "wrong_approver, outside_window, photo_no_coordinates, photo_outside_area, bad_weights, "
                      "duplicate_id, supervisor_cycle, unknown_unit")] = None,
    plant: Annotated[list[str] | None, typer.Option(
        "--plant", help="PATTERN=SHARE, an integrity pattern to plant (repeatable): shared_document, shared_photo, "
                        "rapid_approval, burst_entry, sla_edge")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no summary on standard error")] = False,
) -> None:
    """Generate a scenario: org tree, employees, KPI plans, activities with evidence and approvals, and bad data
    at the given shares, streamed as JSON (a DKI month of 65,000 employees takes well under a minute)."""
    from mocks.generator import TENANTS, ScenarioGenerator, bad_shares, generate

    if tenant not in TENANTS:
        raise typer.BadParameter(f"{tenant!r}; known: {', '.join(TENANTS)}", param_hint="--tenant")
    overrides, planted = _shares(bad), _shares(plant, "--plant")
    try:
        bad_shares(bad_share, overrides)
        ScenarioGenerator(tenant, employees, period, seed, bad_share, bad=overrides, plant=planted)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if out is None:
        stats = generate(tenant, employees, period, seed, bad_share, sys.stdout.buffer, bad=overrides, plant=planted)
    else:
        partial = out.with_name(out.name + ".partial")
        try:
            with partial.open("wb") as fh:
                stats = generate(tenant, employees, period, seed, bad_share, fh, bad=overrides, plant=planted)
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
    if quiet:
        return
    table = Table(title=f"{tenant} {period}: {fmt.number(stats.bytes_written)} bytes in {stats.seconds:.1f} s"
                  + (f" -> {out}" if out else ""))
    table.add_column("records")
    table.add_column("count", justify="right")
    table.add_column("bad data")
    table.add_column("count", justify="right")
    left = sorted(stats.records.items())
    right = sorted(stats.injected.items())
    for i in range(max(len(left), len(right))):
        lk, lv = left[i] if i < len(left) else ("", "")
        rk, rv = right[i] if i < len(right) else ("", "")
        table.add_row(lk, fmt.number(lv) if lv != "" else "", rk, fmt.number(rv) if rv != "" else "")
    err.print(table)


def register(app: typer.Typer) -> None:
    app.command("generate")(generate_command)
