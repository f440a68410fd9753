"""`gateway feed`: webhook endpoints, their delivery log, and replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from gateway.cli import JsonOpt, TenantOpt, _engine, _jsonable, console
from gateway.errors import ConfigurationError
from gateway.settings import Settings

feed_app = typer.Typer(help="The event feed: webhook endpoints, deliveries, replay.", no_args_is_help=True)
endpoint_app = typer.Typer(help="Webhook endpoints of a tenant.", no_args_is_help=True)
feed_app.add_typer(endpoint_app, name="endpoint")

T = TypeVar("T")


def _checked(action: Callable[[], T]) -> T:
    """The operator's mistake (bad URL, secret, id, missing key) is one line and exit 2."""
    from gateway.feed.webhooks import EndpointError

    try:
        return action()
    except (EndpointError, ConfigurationError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _box() -> Any:
    from gateway.feed.webhooks import SecretBox

    key = Settings().webhook_secret_key
    return SecretBox(key.get_secret_value() if key is not None else None)


def _since(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO time: {value!r} (e.g. 2026-12-01T00:00+07:00)") from None
    if parsed.tzinfo is None:
        raise typer.BadParameter("give the time with its zone, e.g. 2026-12-01T00:00+07:00")
    return parsed


@endpoint_app.command("add")
def endpoint_add(tenant: TenantOpt, url: Annotated[str, typer.Argument(help="https URL the events are POSTed to")],
                 types: Annotated[list[str] | None, typer.Option("--type", help="event type to send (repeat); "
                                                                 "none: every type")] = None,
                 secret: Annotated[str | None, typer.Option(
                     envvar="GATEWAY_WEBHOOK_NEW_SECRET",
                     help="whsec_ + base64 of 24-64 bytes; omitted: one is made and shown once")] = None) -> None:
    """Add an endpoint; its secret is stored encrypted (GATEWAY_WEBHOOK_SECRET_KEY)."""
    from gateway.feed import webhooks

    made = secret is None
    chosen = secret or webhooks.new_secret()
    endpoint_id = _checked(lambda: webhooks.add_endpoint(_engine(), _box(), tenant, url, types or [], chosen,
                                                         datetime.now(UTC)))
    console.print(f"endpoint {endpoint_id} added for {tenant}")
    if made:  # shown once, to hand to the consumer; never logged
        typer.echo(f"secret (shown once): {chosen}")


@endpoint_app.command("list")
def endpoint_list(tenant: TenantOpt, as_json: JsonOpt = False) -> None:
    """The tenant's endpoints (secrets are never shown)."""
    from gateway.feed import webhooks

    rows = webhooks.list_endpoints(_engine(), tenant)
    if as_json:
        typer.echo(json.dumps([_jsonable(r) for r in rows], indent=1))
        return
    table = Table(title=f"{tenant}: {len(rows)} webhook endpoints")
    for col in ("id", "url", "types", "status", "failing since", "reason"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["id"]), escape(r["url"]), ", ".join(r["types"]) or "all", r["status"],
                      r["failing_since"].isoformat() if r["failing_since"] else "", escape(r["disabled_reason"] or ""))
    console.print(table)


@endpoint_app.command("disable")
def endpoint_disable(tenant: TenantOpt, endpoint_id: Annotated[int, typer.Argument()],
                     reason: Annotated[str, typer.Option(help="why")] = "disabled by the operator") -> None:
    """Stop sending to an endpoint (its pending deliveries are dead-lettered; replay them after enabling)."""
    from gateway.feed import webhooks

    _checked(lambda: webhooks.set_status(_engine(), tenant, endpoint_id, "disabled", reason, datetime.now(UTC)))
    console.print(f"endpoint {endpoint_id} disabled")


@endpoint_app.command("enable")
def endpoint_enable(tenant: TenantOpt, endpoint_id: Annotated[int, typer.Argument()]) -> None:
    """Send to an endpoint again (from new events on; `gateway feed replay` for what it missed)."""
    from gateway.feed import webhooks

    _checked(lambda: webhooks.set_status(_engine(), tenant, endpoint_id, "active", None, datetime.now(UTC)))
    console.print(f"endpoint {endpoint_id} enabled")


@endpoint_app.command("rotate")
def endpoint_rotate(tenant: TenantOpt, endpoint_id: Annotated[int, typer.Argument()],
                    overlap_hours: Annotated[float, typer.Option(help="the old secret signs too this long")] = 24.0,
                    secret: Annotated[str | None, typer.Option(envvar="GATEWAY_WEBHOOK_NEW_SECRET")] = None) -> None:
    """A new secret; during the overlap each delivery carries two signatures (old and new)."""
    from gateway.feed import webhooks

    chosen = secret or webhooks.new_secret()
    _checked(lambda: webhooks.rotate(_engine(), _box(), tenant, endpoint_id, chosen, timedelta(hours=overlap_hours),
                                     datetime.now(UTC)))
    console.print(f"endpoint {endpoint_id}: new secret; the old one signs too for {overlap_hours:g} h")
    if secret is None:
        typer.echo(f"secret (shown once): {chosen}")


@feed_app.command("deliveries")
def feed_deliveries(tenant: TenantOpt, endpoint: Annotated[int | None, typer.Option()] = None,
                    limit: Annotated[int, typer.Option()] = 50, as_json: JsonOpt = False) -> None:
    """The delivery log: each attempt, newest first."""
    from gateway.feed import webhooks

    rows = webhooks.deliveries(_engine(), tenant, endpoint, limit)
    if as_json:
        typer.echo(json.dumps([_jsonable(r) for r in rows], indent=1))
        return
    table = Table(title=f"{tenant}: last {len(rows)} webhook attempts")
    for col in ("at", "endpoint", "event", "type", "attempt", "HTTP", "outcome", "ms", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["at"].isoformat(timespec="seconds"), str(r["endpoint_id"]), r["event_id"], r["event_type"],
                      str(r["attempt"]), str(r["status_code"] or ""), r["outcome"], str(r["duration_ms"]),
                      escape((r["error"] or "")[:60]))
    console.print(table)


@feed_app.command("replay")
def feed_replay(tenant: TenantOpt, since: Annotated[str, typer.Option(help="ISO time with zone")],
                types: Annotated[list[str] | None, typer.Option("--type")] = None,
                endpoint: Annotated[int | None, typer.Option()] = None) -> None:
    """Send again what was sent (or failed) since T, with the original ids; the next relay pass delivers it."""
    from gateway.feed import webhooks

    count = webhooks.replay(_engine(), tenant, _since(since), datetime.now(UTC), types or [], endpoint)
    console.print(f"{count} deliveries queued again")


def register(app: typer.Typer) -> None:
    app.add_typer(feed_app, name="feed")
