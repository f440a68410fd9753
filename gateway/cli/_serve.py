"""`gateway mock serve`: every upstream mock over real HTTP on loopback, for end-to-end runs and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from mocks import Endpoints

err = Console(stderr=True)

def gateway_env(endpoints: Endpoints) -> dict[str, str]:
    """The GATEWAY_* variables that point the gateway at these mocks, with the demo credentials they accept."""
    return {f"GATEWAY_{name.upper()}": value for name, value in endpoints.gateway_settings().items()}


def serve_command(
    scenario: Annotated[Path | None, typer.Option(help="scenario JSON file (default: the bundled one)")] = None,
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="whose bundled scenario, without --scenario")
                      ] = "metro",
    host: Annotated[str, typer.Option(help="address to listen on; loopback only unless --allow-remote")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0: any free port)", min=0, max=65535)] = 8765,
    faults: Annotated[Path | None, typer.Option(help="fault plan JSON to start with (mocks/faults.py)")] = None,
    env_file: Annotated[Path | None, typer.Option(help="also write the GATEWAY_* lines to this file")] = None,
    allow_remote: Annotated[bool, typer.Option(help="allow a non-loopback address (the mocks accept demo "
                                                    "credentials: never on a shared network)")] = False,
) -> None:
    """Serve the BKN, BSrE, payroll, SPBE and city-app mocks over HTTP until Ctrl-C, with /_admin/ endpoints to
    load scenarios, set fault plans and read the payroll ledger."""
    from mocks import Endpoints, MockWorld, ScenarioFile
    from mocks.faults import FaultPlan
    from mocks.server import bind, serve

    try:  # read, not built: each mock builds the records it holds (a city's month fits; mocks.scenario)
        loaded = ScenarioFile.read(scenario) if scenario else ScenarioFile.bundled(tenant)
    except (OSError, ValueError) as exc:
        err.print(f"[red]cannot load the scenario: {exc}[/red]")
        raise typer.Exit(2) from exc
    try:
        plan = FaultPlan.model_validate_json(faults.read_bytes()) if faults else None
    except (OSError, ValueError) as exc:
        err.print(f"[red]cannot load the fault plan: {exc}[/red]")
        raise typer.Exit(2) from exc
    try:
        sock = bind(host, port, allow_remote=allow_remote)
    except (ValueError, OSError) as exc:
        err.print(f"[red]cannot listen on {host}:{port}: {exc}[/red]")
        raise typer.Exit(2) from exc
    endpoints = Endpoints.loopback(host if ":" not in host else f"[{host}]", sock.getsockname()[1])
    try:
        world = MockWorld(loaded, endpoints, faults=plan)
    except ValueError as exc:  # a fault plan naming routes that do not exist, or an invalid scenario record
        sock.close()
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    env = gateway_env(endpoints)
    lines = [f"export {name}={value}" for name, value in env.items()]
    if env_file is not None:
        env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    typer.echo(f"# mocks of {loaded.tenant} {loaded.period} on {endpoints.origin}")
    for name, url in endpoints.urls().items():
        typer.echo(f"#   {name:<13} {url}")
    typer.echo(f"#   {'admin':<13} {endpoints.origin}/_admin/health  (POST /_admin/scenario, /_admin/faults; "
               f"GET /_admin/payroll/ledger)")
    if plan is not None:
        typer.echo(f"# fault plan: {json.dumps(plan.model_dump(mode='json'))}")
    typer.echo("# point the gateway at them:")
    for line in lines:
        typer.echo(line)
    typer.echo("# serving until Ctrl-C")
    try:
        serve(world, sock)
    except KeyboardInterrupt:  # uvicorn shut down gracefully, then re-raised the Ctrl-C
        err.print("mocks stopped")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
