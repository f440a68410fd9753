"""The daemon's steps by hand, for one tenant and period against the configured endpoints:
`gateway sync|verify|compute|relay|cycle -t T -p P [--json]`. A configuration mistake is one line and exit 2; an
upstream or delivery failure one line and exit 1; what each step did is printed as it is reported."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import typer

from gateway.cli import JsonOpt, PeriodOpt, TenantOpt, _check_period
from gateway.errors import ConfigurationError, GatewayError


def _run(step: Callable[[Any], Any], as_json: bool) -> None:
    from gateway.bootstrap import build_pipeline
    from gateway.settings import Settings

    try:
        report = step(build_pipeline(Settings()))
    except ConfigurationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except GatewayError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    found = dataclasses.asdict(report)
    if as_json:
        typer.echo(json.dumps(found, indent=1, default=str))
    else:
        for key, value in _flat(found):
            typer.echo(f"{key}: {value}")
    errors = found.get("errors") or found.get("relay", {}).get("errors") or []
    dead = found.get("dead") or found.get("relay", {}).get("dead") or 0
    if errors or dead:
        raise typer.Exit(1)


def _flat(found: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in found.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            for name, inner in value.items():
                out.append((f"{prefix}{key}.{name}", ", ".join(f"{k} {v}" for k, v in inner.items())))
        elif isinstance(value, dict):
            out.extend(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            out.append((f"{prefix}{key}", len(value) if key == "batches" else "; ".join(map(str, value)) or "none"))
        else:
            out.append((f"{prefix}{key}", value))
    return out


def register(app: typer.Typer) -> None:
    @app.command()
    def sync(tenant: TenantOpt, period: PeriodOpt, as_json: JsonOpt = False) -> None:
        """Pull the period's records for one tenant from its configured upstreams (the daemon's first step)."""
        period = _check_period(period)
        _run(lambda p: p.sync(tenant, period), as_json)

    @app.command()
    def verify(tenant: TenantOpt, period: PeriodOpt, as_json: JsonOpt = False) -> None:
        """Fetch and check the period's evidence documents not checked yet."""
        period = _check_period(period)
        _run(lambda p: p.verify(tenant, period), as_json)

    @app.command()
    def compute(tenant: TenantOpt, period: PeriodOpt, as_json: JsonOpt = False) -> None:
        """Compute the period from what is stored: results, audit, holds, quarantine and outbox rows."""
        period = _check_period(period)
        _run(lambda p: p.compute(tenant, period), as_json)

    @app.command()
    def relay(as_json: JsonOpt = False) -> None:
        """Deliver the outbox (every tenant) until nothing is due; exit 1 if a row went dead."""
        _run(lambda p: p.relay(), as_json)

    @app.command()
    def cycle(tenant: TenantOpt, period: PeriodOpt, as_json: JsonOpt = False) -> None:
        """The whole cycle for one period: sync, verify, compute, relay (verification after payroll where the
        tenant's scheme reads no verdicts)."""
        period = _check_period(period)
        _run(lambda p: p.cycle(tenant, period), as_json)
