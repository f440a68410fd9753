"""Operator CLI (typer + rich). Human tables by default, `--json` for scripts.

Exit codes: 0 success, 1 a run finished with failures (dead letters, nothing computed), 2 bad arguments or
unknown records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine, select

from gateway import logsetup
from gateway.cli import _format as show
from gateway.cli._errors import one_line
from gateway.domain import Period, ResultStatus, fmt
from gateway.errors import GatewayError, InvalidPeriod
from gateway.outbox import ledger
from gateway.settings import Settings
from gateway.store import holds, make_engine
from gateway.store import repository as repo
from gateway.store.tables import outbox

app = typer.Typer(help="tpp-gateway: TPP from BKN e-Kinerja to regional payroll.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console()


def _register_mock_commands() -> None:
    from gateway.cli.mock import mock_app

    app.add_typer(mock_app, name="mock")

def _known_tenant(tenant: str) -> str:
    """A tenant the settings name; anything else is the operator's mistake: one line, exit 2."""
    try:
        known = Settings().tenants
    except (ValueError, GatewayError) as exc:  # pydantic's ValidationError is a ValueError
        raise typer.BadParameter(f"the settings cannot be read: {one_line(exc)}") from None
    if tenant not in known:
        raise typer.BadParameter(f"unknown tenant {tenant!r}; the settings name {', '.join(sorted(known)) or 'none'}")
    return tenant


TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="tenant (city) name, e.g. metro",
                                        callback=_known_tenant)]
PeriodOpt = Annotated[str, typer.Option("--period", "-p", help="period: YYYY-MM or YYYY-Qn")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable JSON on stdout")]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"tpp-gateway {version('tpp-gateway')}")
        except PackageNotFoundError:
            typer.echo("tpp-gateway (not installed)")
        raise typer.Exit()


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress to stderr")] = False,
          _show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                      help="the gateway's version, then exit")] = False,
          log_json: Annotated[bool | None, typer.Option(
              "--log-json/--log-console", help="log lines as JSON (the default when stderr is not a terminal)")
          ] = None,
          ) -> None:
    import sys

    logsetup.configure("INFO" if verbose else "WARNING",
                       json=log_json if log_json is not None else not sys.stderr.isatty())


def _engine() -> Engine:
    return make_engine(Settings().database_url)


def _check_period(period: str) -> str:
    try:
        return Period.parse(period).label
    except InvalidPeriod as exc:
        raise typer.BadParameter(str(exc)) from exc


def _rupiah(amount: int) -> str:
    return fmt.rupiah(amount)


@app.command()
def demo(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="city whose bundled scenario to run")] = "metro",
    scenario: Annotated[Path | None, typer.Option(help="scenario JSON file (docs/scenario-format.md)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a whole cycle (pull, verify, compute, outbox, relay) against the bundled mocks.

    On a terminal each stage shows a progress bar (on stderr) while it runs."""
    from gateway.bootstrap import build_mock_pipeline
    from gateway.cli._progress import stage_bars
    from gateway.outbox import ledger
    from mocks import MockWorld, ScenarioFile

    try:  # read, not built: each mock builds the records it holds (mocks.scenario.ScenarioFile)
        loaded = ScenarioFile.read(scenario) if scenario else ScenarioFile.bundled(tenant)
        employees = len(loaded.employees)
        world = MockWorld(loaded)
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot load the scenario: {escape(one_line(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    settings = Settings()
    try:
        pipeline = build_mock_pipeline(settings, world)
        with stage_bars(Console(stderr=True)) as pipeline.progress:
            report = pipeline.cycle(loaded.tenant, loaded.period)
    except GatewayError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    with pipeline.engine.connect() as conn:
        results = repo.load_results(conn, loaded.tenant, loaded.period)
        quarantined = repo.list_quarantine(conn, loaded.tenant, loaded.period)
        # Payroll rows carry the period paid (a quarter at DKI); verdicts and pulls go by month.
        rows = conn.execute(select(outbox.c.status, outbox.c.answer, outbox.c.payload).where(
            outbox.c.tenant == loaded.tenant, outbox.c.period == loaded.period,
            outbox.c.destination == "payroll")).all()
        standing = ledger.positions(conn, loaded.tenant, loaded.period)
    unpaid = [r for r in results if r.amount > standing.get(r.nip, ledger.Position()).acknowledged]
    unpaid_total = sum(r.amount - standing.get(r.nip, ledger.Position()).acknowledged for r in unpaid)
    counts = {s: sum(1 for r in results if r.status == s) for s in ResultStatus}
    acknowledged = sum(1 for r in rows if r.status == "delivered")
    rejected = sum(1 for r in rows for ln in (r.answer or {}).get("lines", []) if ln.get("status") == "rejected")
    payment = settings.tenants[loaded.tenant].payment
    total = sum(r.amount for r in results)
    dead = sum(1 for r in rows if r.status == "dead")
    if as_json:
        typer.echo(json.dumps({
            "tenant": loaded.tenant, "period": loaded.period, "paid": payment, "employees": len(loaded.employees),
            "results": len(results), "full": counts[ResultStatus.FULL], "partial": counts[ResultStatus.PARTIAL],
            "nothing": counts[ResultStatus.NOTHING], "quarantined": len(quarantined),
            "evidence_checked": report.verify.checked, "total_rupiah": total,
            "payroll_batches": len(rows), "payroll_batches_acknowledged": acknowledged,
            "payroll_lines_sent": sum(len(r.payload["lines"]) for r in rows), "payroll_lines_rejected": rejected,
            "unpaid": len(unpaid), "unpaid_rupiah": unpaid_total, "dead_letters": dead,
            "spbe_verdicts": len(world.spbe.records)}, indent=1))
        if dead:
            raise typer.Exit(1)
        return
    table = show.table(f"{loaded.tenant} {loaded.period} (paid {payment}): demo cycle on the bundled mocks")
    show.text_column(table, "what")
    show.whole_column(table, "value", justify="right")
    for label, value in [
        ("employees", employees),
        ("results computed", len(results)),
        ("paid in full", counts[ResultStatus.FULL]),
        ("paid partly", counts[ResultStatus.PARTIAL]),
        ("paid nothing", counts[ResultStatus.NOTHING]),
        ("quarantined records", len(quarantined)),
        ("evidence checked this run", report.verify.checked),
        ("total", _rupiah(total)),
        ("payroll batches acknowledged", f"{acknowledged} of {len(rows)}"),
        ("payroll lines sent", sum(len(r.payload["lines"]) for r in rows)),
        ("payroll lines rejected", rejected),
        ("computed but not paid", f"{len(unpaid)} ({_rupiah(unpaid_total)})"),
        ("dead letters", dead),
        ("evidence verdicts in the SPBE audit trail", len(world.spbe.records)),
    ]:
        table.add_row(label, str(value))
    console.print(table)
    console.print(f"details: gateway results -t {loaded.tenant} -p {loaded.period} | "
                  f"gateway explain -t {loaded.tenant} -p {loaded.period} --nip NIP | "
                  f"gateway quarantine -t {loaded.tenant} | gateway outbox list -t {loaded.tenant}", soft_wrap=True)
    if any(r.status == "dead" for r in rows):
        raise typer.Exit(1)


@app.command()
def run(
    interval: Annotated[float, typer.Option(help="seconds between ticks")] = 300.0,
    grace_days: Annotated[int, typer.Option(help="days after a period ends before it is computed")] = 7,
    once: Annotated[bool, typer.Option("--once", help="one tick, then exit")] = False,
    mock: Annotated[bool, typer.Option("--mock", help="against the bundled Metro mocks instead of real APIs")] = False,
    health_port: Annotated[int | None, typer.Option(
        help="serve /live, /ready and /metrics (Prometheus) on this port (0: any free one)")] = None,
    health_host: Annotated[str, typer.Option(help="the address the health port listens on")] = "127.0.0.1",
) -> None:
    """The daemon: pull open periods, compute closed ones, relay the outbox; stops on SIGINT/SIGTERM."""
    import signal

    from gateway.bootstrap import build_mock_pipeline, build_pipeline
    from gateway.daemon import Daemon
    from gateway.pipeline import utc_now

    settings = Settings()
    clock = utc_now
    if mock:
        from datetime import UTC, datetime, timedelta

        from mocks import MockWorld, Scenario

        bundled = Scenario.bundled("metro")
        pipeline = build_mock_pipeline(settings, MockWorld(bundled))
        # The bundled month's own period: the daemon's clock runs as if it were the day after that month's grace
        # days (today's date would pick today's periods, which the mocks hold nothing for).
        target = datetime.combine(Period.parse(bundled.period).last + timedelta(days=grace_days + 2),
                                  datetime.min.time(), UTC) + timedelta(hours=2)
        offset = target - utc_now()

        def clock() -> datetime:
            return utc_now() + offset
    else:
        pipeline = build_pipeline(settings)
        if settings.feed_broker_url.startswith("memory://"):
            console.print("[yellow]GATEWAY_FEED_BROKER_URL is memory://: feed events stay inside this process; "
                          "set an amqp:// or redis:// broker for other teams to read them[/yellow]")
    # A mock world holds one tenant's data, as real credentials see only their own instansi.
    daemon = Daemon(pipeline, clock=clock, interval_seconds=interval, grace_days=grace_days,
                    tenants=["metro"] if mock else None)
    signal.signal(signal.SIGTERM, daemon.stop)
    signal.signal(signal.SIGINT, daemon.stop)
    if health_port is not None:
        from gateway.health import serve_health
        from gateway.metrics import breakers_of

        try:
            health = serve_health(health_port, pipeline.engine, tenants=lambda: daemon.tenants or settings.tenants,
                                  clock=clock, broker_urls=[settings.feed_broker_url],
                                  breakers=breakers_of(pipeline.ctx.http_clients), host=health_host)
        except OSError as exc:
            raise typer.BadParameter(f"cannot serve health on {health_host}:{health_port}: {exc.strerror or exc}",
                                     param_hint="--health-port") from None
        console.print(f"health on {health.url} (/live, /ready, /metrics)", highlight=False)
    if once:
        report = daemon.tick()
        for error in report.errors:
            console.print(f"[red]{error}[/red]", soft_wrap=True)
        console.print(f"computed {', '.join(report.computed) or 'nothing'}; delivered {report.delivered}")
        raise typer.Exit(1 if report.errors else 0)
    daemon.run()


@app.command()
def results(tenant: TenantOpt, period: PeriodOpt, as_json: JsonOpt = False) -> None:
    """Every result of a tenant and period."""
    period = _check_period(period)
    with _engine().connect() as conn:
        items = repo.load_results(conn, tenant, period)
        withdrawn = repo.load_withdrawn(conn, tenant, period)
        held = holds.load(conn, tenant, period)
        names = show.unit_names(conn, tenant)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in items] + [
            {**_jsonable(w), "status": "withdrawn"} for w in withdrawn] + [
            {**_jsonable(h), "status": "held"} for h in held], indent=1))
        return
    table = show.table(f"{tenant} {period}: {len(items)} results")
    show.nip_column(table)
    show.text_column(table, "OPD", min_width=10)
    show.whole_column(table, "score", justify="right")
    show.whole_column(table, "status")
    show.money_column(table, "amount")
    for r in items:
        table.add_row(r.nip, escape(show.named(names, r.opd_id)), fmt.score(r.score), r.status.value,
                      _rupiah(r.amount))
    for w in withdrawn:
        table.add_row(w["nip"], escape(show.named(names, w["opd_id"])), "", "withdrawn",
                      f"({_rupiah(w['amount'])})")
    for h in held:
        table.add_row(h["nip"], "", "", "held", "")
    table.add_row("", "", "", "total", _rupiah(sum(r.amount for r in items)))
    console.print(table)
    for w in withdrawn:
        console.print(f"withdrawn {w['nip']}: {escape(w['withdrawn_reason'] or '')}", soft_wrap=True)
    for h in held:
        console.print(f"held {h['nip']} since {h['since']:%Y-%m-%d %H:%M}: {escape(h['reason'])}", soft_wrap=True)
    if held:
        console.print(f"{len(held)} employee(s) held: the next tick checks again; `gateway release` pays them "
                      "with the unchecked evidence refused", soft_wrap=True)


@app.command()
def report(tenant: TenantOpt, period: PeriodOpt,
           fmt: Annotated[str, typer.Option("--format", "-f", help="html | csv | json")] = "html",
           out: Annotated[Path | None, typer.Option(help="write to this file instead of stdout")] = None,
           kind: Annotated[str, typer.Option("--kind", help="public | integrity (internal: names employees)")
                           ] = "public",
           audience: Annotated[str, typer.Option(help="public (default: safe to publish) | internal (adds the "
                                                      "merge/closure candidates)")] = "public") -> None:
    """The summary per OPD (and DKI's unit report): aggregated, no names, no NIPs, no figure from fewer than
    the tenant's report_min_employees (5) employees; `--kind integrity`: the evidence integrity signals for the
    inspectorate (internal)."""
    from gateway import reports

    period = _check_period(period)
    if kind == "integrity":
        from gateway.cli._integrity import integrity_report

        integrity_report(tenant, period, fmt, out)
        return
    if kind != "public":
        raise typer.BadParameter("--kind must be public or integrity")
    if fmt not in reports.RENDERERS:
        raise typer.BadParameter(f"--format must be one of {', '.join(reports.RENDERERS)}")
    if audience not in reports.AUDIENCES:
        raise typer.BadParameter(f"--audience must be one of {', '.join(reports.AUDIENCES)}")
    config = Settings().tenants.get(tenant)
    if config is None:
        console.print(f"[red]tenant {tenant!r} is not configured[/red]")
        raise typer.Exit(2)
    with _engine().connect() as conn:
        built = reports.build(conn, tenant, config, period, "internal" if audience == "internal" else "public")
    if not built.opds:
        console.print(f"[red]no results for {tenant} {period}: run the cycle first[/red]")
        raise typer.Exit(2)
    text = reports.RENDERERS[fmt](built)
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}; audit head {built.audit_head} ({built.audit_entries} entries)", soft_wrap=True,
                      highlight=False)
    else:
        typer.echo(text)


@app.command()
def status(tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="one tenant (default: every one)")
                             ] = None, as_json: JsonOpt = False) -> None:
    """Per tenant: the last sync per stream (cursor, age), SIASN per employee, the verification backlog, open
    quarantine by rule, results per period, outbox rows by destination and status (oldest waiting's age), and
    payroll lines rejected."""
    from gateway.pipeline import utc_now
    from gateway.store.status import pagu_status, tenant_status

    names = [_known_tenant(tenant)] if tenant else sorted(Settings().tenants)
    now = utc_now()
    with _engine().connect() as conn:
        found = [tenant_status(conn, name, now) for name in names]
        for st in found:  # the budget ceiling (issue 18), for a tenant with a pagu
            st["pagu"] = pagu_status(conn, st["tenant"], Settings().tenants[st["tenant"]])
    if as_json:
        typer.echo(json.dumps(found, indent=1))
        return
    for st in found:
        console.print(f"[bold]{st['tenant']}[/bold]: {st['employees']} employees staged")
        lines = [f"  sync {s['stream']}: {_age(s['age_seconds'])} ago, cursor {s['cursor']}" for s in st["streams"]]
        lines += [f"  SIASN {p['stream']}: {p['asked']} of {p['of']} employees asked, oldest answer "
                  f"{_age(p['oldest_asked_age_seconds'])} old" for p in st["per_employee"]]
        lines += [f"  verification backlog {period}: {n} documents" for period, n in st["verification_backlog"].items()]
        lines += [f"  quarantine open, {rule}: {n}" for rule, n in st["open_quarantine"].items()]
        lines += [f"  results {r['period']}: {r['results']}, {_rupiah(r['total'])}" for r in st["results"]]
        lines += [f"  outbox {o['destination']} {o['status']}: {o['rows']}" + (
            f", oldest {_age(o['oldest_age_seconds'])}" if o["oldest_age_seconds"] is not None else "")
            for o in st["outbox"]]
        lines += [f"  payroll rejected {r['period']}: {r['lines']} lines, {_rupiah(r['amount'])}"
                  for r in st["payroll_rejected"]]
        if st["audit_head"]["entries"]:
            lines.append(f"  audit head: {st['audit_head']['hash']} ({st['audit_head']['entries']} entries)")
        lines += [f"  pagu {b['opd']} ({b['period']}): spent {_rupiah(b['spent'])}, this period "
                  f"{_rupiah(b['this_period'])}, forecast {_rupiah(b['forecast'])} of {_rupiah(b['pagu'])}"
                  + (" - ABOVE THE PAGU" if b["warning"] else "") for b in (st["pagu"] or {}).get("opds", [])]
        for line in lines or ["  nothing stored yet"]:
            console.print(escape(line), soft_wrap=True, highlight=False)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if days else f"{hours}h {minutes}m" if hours else f"{minutes}m"


@app.command()
def org(tenant: TenantOpt,
        on: Annotated[str, typer.Option("--on", help="the day, YYYY-MM-DD (default: today, WIB)")] = "",
        as_json: JsonOpt = False) -> None:
    """The org chart on a day, from SIASN's position history: each unit's head (acting heads marked) and how many
    people held a post in it."""
    from datetime import date, datetime

    from gateway.domain import WIB
    from gateway.domain.org import OrgChart

    try:
        day = date.fromisoformat(on) if on else datetime.now(WIB).date()
    except ValueError as exc:
        raise typer.BadParameter(f"--on {on!r} is not a day (YYYY-MM-DD)") from exc
    with _engine().connect() as conn:
        positions = repo.staged(conn, tenant, "position")
        units = {u.id: u.name for u in repo.staged(conn, tenant, "unit")}
    chart = OrgChart(positions)
    heads, staff = chart.chart(day), chart.staff_on(day)
    rows = [{"unit_id": uid, "unit": units.get(uid, ""), "head_nip": heads[uid][0] if uid in heads else None,
             "acting": heads[uid][1] if uid in heads else False, "people": len(staff.get(uid, []))}
            for uid in sorted(set(heads) | set(staff), key=lambda u: (units.get(u, "~"), u))]
    if as_json:
        typer.echo(json.dumps({"tenant": tenant, "day": day.isoformat(), "units": rows}, indent=1))
        return
    if not positions:
        console.print(f"{tenant}: no position history stored (is \"siasn\" among its sources, and has it synced?)")
        return
    table = show.table(f"{tenant} on {day:%d-%m-%Y}: {len(heads)} units with a head, {len(positions)} positions")
    show.text_column(table, "unit")
    show.whole_column(table, "head", min_width=show.NIP_WIDTH)
    show.whole_column(table, "people", justify="right")
    for r in rows:
        head = (r["head_nip"] + (" (Plt.)" if r["acting"] else "")) if r["head_nip"] else "vacant"
        table.add_row(escape(r["unit"] or r["unit_id"]), head, str(r["people"]))
    console.print(table)


@app.command()
def explain(tenant: TenantOpt, period: PeriodOpt,
            nip: Annotated[str, typer.Option(help="the employee's NIP")], as_json: JsonOpt = False) -> None:
    """The arithmetic behind one employee's amount, and every refused activity with its reason."""
    period = _check_period(period)
    with _engine().connect() as conn:
        found = repo.load_results(conn, tenant, period, nip)
        gone = repo.load_withdrawn(conn, tenant, period, nip)
        standing = ledger.positions(conn, tenant, period, [nip]).get(nip)
        problems = [q for q in repo.list_quarantine(conn, tenant, period) if q["record_id"].startswith(nip)
                    or nip in q["message"]]
        held = holds.load(conn, tenant, period, nip)
        checks = repo.check_details(conn, tenant, [i for r in found for i in r.input_ids if i not in (r.nip,)])
        names = show.unit_names(conn, tenant)
    if not found and not problems and not gone and not held:
        console.print(f"[red]no result for NIP {nip} in {tenant} {period}[/red]")
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps({"result": found[0].model_dump(mode="json") if found else None,
                               "withdrawn": [_jsonable(w) for w in gone],
                               "payroll": vars(standing) if standing else None,
                               "held": [_jsonable(h) for h in held],
                               "evidence_checks": checks,
                               "quarantine": [_jsonable(p) for p in problems]}, indent=1))
        return
    for r in found:
        console.print(f"[bold]{r.nip}[/bold] {tenant} {period}, {escape(show.named(names, r.opd_id))}, scheme "
                      f"{r.scheme} (settings {r.settings_version}): {_rupiah(r.amount)} of ceiling "
                      f"{_rupiah(r.ceiling)}, score {fmt.score(r.score)}, {r.status.value}", soft_wrap=True)
        for line in r.lines:
            # The line's share of the amount, exact in --json; shown to two decimals where it is not whole.
            money = f"  [dim]({fmt.rupiah(line.rupiah)})[/dim]" if line.rupiah is not None else ""
            style = "red" if line.code.startswith("refused:") else "default"
            console.print(f"  [{style}]{line.code}[/{style}]: {line.text}{money}", soft_wrap=True,
                          highlight=False)
    for w in gone:
        console.print(f"[bold]{nip}[/bold] {tenant} {period}: result of {_rupiah(w['amount'])} withdrawn "
                      f"{w['withdrawn_at']:%Y-%m-%d %H:%M}: {escape(w['withdrawn_reason'] or '')}", soft_wrap=True)
    if standing is not None:
        paid = (f"payroll: acknowledged {_rupiah(standing.acknowledged)}, in flight {_rupiah(standing.pending)}, "
                f"fate unknown {_rupiah(standing.unknown)}")
        if standing.rejected:
            reasons = escape("; ".join(sorted(set(standing.reasons))))
            paid += f"; payroll rejected {_rupiah(standing.rejected)}: {reasons}"
        console.print(paid, soft_wrap=True)
    for c in checks:
        own = ""
        if c["offline_tte"] or c["offline_chain"]:
            own = (f"; gateway's own check {c['offline_tte'] or 'undecided'}, signed by "
                   f"{c['offline_signer'] or 'nobody'}" + (f" ({' <- '.join(c['offline_chain'])})"
                                                           if c["offline_chain"] else ""))
        console.print(escape(f"  evidence {c['evidence_id']}: BSrE {c['tte']} ({c['tte_description']}){own}"),
                      soft_wrap=True, highlight=False)
    for h in held:
        console.print(f"[yellow]held since {h['since']:%Y-%m-%d %H:%M}: {escape(h['reason'])}[/yellow]",
                      soft_wrap=True)
    for p in problems:
        console.print(f"[yellow]quarantined ({p['rule']}): {p['message']}[/yellow]", soft_wrap=True)


quarantine_app = typer.Typer(help="Records held back with the rule they broke; retry or discard one.",
                             invoke_without_command=True)


@quarantine_app.callback()
def quarantine(ctx: typer.Context,
               tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="tenant (city) name")] = None,
               period: Annotated[str | None, typer.Option("--period", "-p")] = None,
               show_all: Annotated[bool, typer.Option("--all", help="resolved entries too")] = False,
               as_json: JsonOpt = False) -> None:
    """Open quarantine entries (with --all, resolved ones too, with how and by whom)."""
    if ctx.invoked_subcommand is not None:
        return
    if tenant is None:
        console.print("[red]missing option --tenant / -t[/red]")
        raise typer.Exit(2)
    try:
        _known_tenant(tenant)
    except typer.BadParameter as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    with _engine().connect() as conn:
        items = repo.list_quarantine(conn, tenant, _check_period(period) if period else None,
                                     include_resolved=show_all)
    if as_json:
        typer.echo(json.dumps([_jsonable(q) for q in items], indent=1))
        return
    table = show.table(f"{tenant}: {len(items)} quarantined" + (" (open and resolved)" if show_all else " (open)"))
    show.whole_column(table, "id", justify="right")
    # kind and period above the record's id: at 80 columns the message keeps room for a whole NIP per line
    show.whole_column(table, "record", min_width=show.NIP_WIDTH)
    show.text_column(table, "rule", min_width=10)
    show.text_column(table, "message", min_width=show.NIP_WIDTH + 2)
    for q in items:
        message = q["message"]
        if show_all and q["resolved_at"] is not None:
            message += f"\nresolved: {q['resolution']} by {q['resolved_by']} {q['resolved_at']:%Y-%m-%d %H:%M}"
        table.add_row(str(q["id"]), escape(f"{q['record_kind']}, {q['period'] or 'no period'}\n{q['record_id']}"),
                      escape(q["rule"]), escape(message))
    console.print(table)


def _quarantine_action(action: str, tenant: str, entry_id: int, reason: str) -> None:
    from datetime import UTC, datetime

    from gateway.quarantine_ops import resolve

    message = _operate(lambda: resolve(_engine(), tenant, entry_id, action, actor=_operator(), reason=reason,
                                       now=datetime.now(UTC)))
    console.print(escape(message), soft_wrap=True)


ReasonOpt = Annotated[str, typer.Option(help="why (audited)")]
EntryArg = Annotated[int, typer.Argument(help="quarantine entry id (gateway quarantine -t TENANT)")]


@quarantine_app.command("retry")
def quarantine_retry(tenant: TenantOpt, entry_id: EntryArg, reason: ReasonOpt) -> None:
    """Close an entry so its record is read (or judged) again; still bad, it comes back as a new entry. Audited."""
    _quarantine_action("retry", tenant, entry_id, reason)


@quarantine_app.command("discard")
def quarantine_discard(tenant: TenantOpt, entry_id: EntryArg, reason: ReasonOpt) -> None:
    """Close an entry for good: the same record failing the same rule again stays closed. Audited."""
    _quarantine_action("discard", tenant, entry_id, reason)


outbox_app = typer.Typer(help="The transactional outbox: what goes to payroll and SPBE.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(audit_app, name="audit")


@outbox_app.command("list")
def outbox_list(tenant: TenantOpt, period: Annotated[str | None, typer.Option("--period", "-p")] = None,
                as_json: JsonOpt = False) -> None:
    """Outbox rows: what was sent to payroll, its status and acknowledgement."""
    query = select(outbox).where(outbox.c.tenant == tenant).order_by(outbox.c.id)
    if period:
        query = query.where(outbox.c.period == _check_period(period))
    with _engine().connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
        rejections = _rejections_by_row(conn, tenant, period)
        names = show.unit_names(conn, tenant)
    if as_json:
        typer.echo(json.dumps([{**_jsonable(r), "rejected_lines": rejections.get(r["id"], {})} for r in rows],
                              indent=1))
        return
    total = sum(sum(reasons.values()) for reasons in rejections.values())
    table = show.table(f"{tenant}: {len(rows)} outbox rows, {total} payroll lines rejected")
    show.whole_column(table, "id", justify="right")
    show.text_column(table, "aggregate", min_width=12)
    show.whole_column(table, "status")
    show.whole_column(table, "tries", justify="right")
    show.whole_column(table, "lines", justify="right")
    show.money_column(table, "amount")
    show.text_column(table, "rejected", min_width=8)
    for r in rows:
        lines = r["payload"].get("lines", [])  # payroll; SPBE rows carry verdicts, feed rows events
        items = lines or r["payload"].get("verdicts") or r["payload"].get("events") or []
        rejected = "; ".join(f"{count} {reason}" for reason, count in sorted(rejections.get(r["id"], {}).items()))
        status = r["status"] + (f"\n{show.error_summary(r['last_error'])}" if r["last_error"] else "")
        table.add_row(str(r["id"]), escape(show.aggregate(r["aggregate"], tenant, names)), status,
                      str(r["attempts"]), str(len(items)),
                      _rupiah(sum(ln["amount"] for ln in lines)) if lines else "", escape(rejected))
    console.print(table)
    for r in rows:  # whole, below the table: the HTTP status and the answer's start are never cut
        if r["last_error"]:
            console.print(escape(f"row {r['id']} ({r['status']}, {r['attempts']} tries): {r['last_error']}"),
                          soft_wrap=True, highlight=False)


def _rejections_by_row(conn: Any, tenant: str, period: str | None) -> dict[int, dict[str, int]]:
    """Open rejections per outbox row, counted by reason (from the ledger: payroll's and the finance office's)."""
    from gateway.outbox import ledger

    out: dict[int, dict[str, int]] = {}
    for line in ledger.rejected_lines(conn, tenant, period):
        reasons = out.setdefault(line["outbox_id"], {})
        reasons[line["reason"] or "rejected"] = reasons.get(line["reason"] or "rejected", 0) + 1
    return out


def _payroll_lookup() -> Any:
    """Payroll's status query by idempotency key, against the configured endpoint."""
    from gateway.bootstrap import build_pipeline

    return build_pipeline(Settings()).destinations["payroll"]


def _operate(action: Any) -> Any:
    from gateway.outbox.operations import OperationError

    try:
        return action()
    except OperationError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from exc
    except GatewayError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(1) from exc


@outbox_app.command("retry")
def outbox_retry(tenant: TenantOpt, row_id: Annotated[int, typer.Argument(help="outbox row id (gateway outbox)")],
                 reason: Annotated[str, typer.Option(help="why it is retried (kept in the audit log)")]) -> None:
    """Retry a dead-lettered row (audited). A payroll row is re-based: payroll is asked whether it booked the
    row, and what is still owed now goes out as a new batch; the dead row is closed as superseded."""
    from datetime import UTC, datetime

    from gateway.outbox import operations

    done = _operate(lambda: operations.retry(_engine(), tenant, row_id, _payroll_lookup(), now=datetime.now(UTC),
                                             actor=_operator(), reason=reason))
    console.print(done.message, soft_wrap=True)


@outbox_app.command("discard")
def outbox_discard(tenant: TenantOpt, row_id: Annotated[int, typer.Argument(help="outbox row id")],
                   reason: Annotated[str, typer.Option(help="why it is discarded (kept in the audit log)")]) -> None:
    """Close a dead-lettered row for good (audited); a payroll row is first checked with payroll."""
    from datetime import UTC, datetime

    from gateway.outbox import operations

    message = _operate(lambda: operations.discard(_engine(), tenant, row_id, _payroll_lookup(),
                                                  now=datetime.now(UTC), actor=_operator(), reason=reason))
    console.print(message, soft_wrap=True)


@app.command()
def reconcile(tenant: TenantOpt, period: PeriodOpt,
              fix: Annotated[bool, typer.Option("--fix", help="write the corrections through the outbox")] = False,
              reason: Annotated[str | None, typer.Option(help="why (required with --fix or --reject; audited)")
                                ] = None,
              reject: Annotated[list[str] | None, typer.Option(
                  "--reject", metavar="NIP", help="the finance office refused this employee's lines (a SIPD "
                                                  "workbook sent back); repeatable; needs --reason")] = None,
              as_json: JsonOpt = False) -> None:
    """Results against the payroll ledger against payroll's own answers; exit 0 when nothing differs, 1 when
    something does. --fix recovers payments to employees with no result, re-sends after rejections the
    operator fixed, sends what is owed and closes dead rows payroll never got (audited). --reject enters the
    finance office's later refusals first."""
    from datetime import UTC, datetime

    from gateway.outbox import operations

    period = _check_period(period)
    if Settings().tenants.get(tenant) is None:
        console.print(f"[red]tenant {tenant!r} is not configured[/red]")
        raise typer.Exit(2)
    if reject:
        message = _operate(lambda: operations.reject(_engine(), tenant, period, reject, now=datetime.now(UTC),
                                                     actor=_operator(), reason=reason or ""))
        if as_json:
            typer.echo(message, err=True)  # stdout stays one JSON document
        else:
            console.print(message, soft_wrap=True)
    report = _operate(lambda: operations.reconcile(_engine(), tenant, period, _payroll_lookup(),
                                                   now=datetime.now(UTC), fix=fix, actor=_operator(),
                                                   reason=reason, config=Settings().tenants[tenant]))
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=1, default=str))
    else:
        table = show.table(f"{tenant} {period}: {len(report.differences)} differences; results "
                            f"{_rupiah(report.results_total)}, acknowledged by payroll "
                            f"{_rupiah(report.payroll_total)}, {report.in_flight} lines in flight")
        with _engine().connect() as conn:
            names = show.unit_names(conn, tenant)
        show.nip_column(table)
        show.text_column(table, "difference (OPD, detail)", min_width=20)
        show.whole_column(table, "amounts", justify="right")
        for d in report.differences:
            amounts = "\n".join([*([] if d.result is None else [f"result {_rupiah(d.result)}"]),
                                  f"covered {_rupiah(d.covered)}", f"fix {_rupiah(d.correction)}"])
            what = "\n".join(part for part in (f"[bold]{d.kind}[/bold]", escape(show.named(names, d.opd_id)),
                                                escape(d.detail)) if part)
            table.add_row(d.nip or "", what, amounts)
        console.print(table)
        if report.fixed:
            console.print(f"--fix wrote {len(report.fixed)} batch(es): {', '.join(report.fixed)}", soft_wrap=True)
        for error in report.errors:
            console.print(f"[yellow]{escape(error)}[/yellow]", soft_wrap=True)
        for note in report.budget:  # the budget ceiling (issue 18)
            console.print(f"[yellow]budget: {escape(note.detail)}[/yellow]", soft_wrap=True)
    raise typer.Exit(1 if report.differences or report.errors else 0)


@app.command()
def release(tenant: TenantOpt, period: PeriodOpt,
            reason: Annotated[str, typer.Option(help="why the period cannot wait for the checks (audited)")]) -> None:
    """Release a period whose employees are held because their evidence could not be checked: they are computed
    now with that evidence counted as refused (their explanation says so); a later valid check pays the arrears
    as an adjustment. Audited."""
    from datetime import UTC, datetime

    from gateway.bootstrap import build_pipeline
    from gateway.outbox import operations

    period = _check_period(period)
    settings = Settings()
    if settings.tenants.get(tenant) is None:
        console.print(f"[red]tenant {tenant!r} is not configured[/red]")
        raise typer.Exit(2)
    message = _operate(lambda: operations.release(_engine(), tenant, period, now=datetime.now(UTC),
                                                  actor=_operator(), reason=reason))
    console.print(escape(message), soft_wrap=True)
    done = _operate(lambda: build_pipeline(settings).compute(tenant, period))
    console.print(f"computed {done.results} result(s), {done.held} still held, {len(done.batches)} payroll "
                  "batch(es) queued for the relay", soft_wrap=True)


def _audit_head(value: str | None) -> str | None:
    from gateway.store.audit import HASH_FORMAT

    if value is not None and not HASH_FORMAT.match(value):
        raise typer.BadParameter(f"{value!r} is not an audit head: 64 lowercase hex digits, as `gateway status` "
                                 "and every report print it")
    return value


@audit_app.command("verify")
def audit_verify(tenant: TenantOpt,
                 head: Annotated[str | None, typer.Option(
                     help="a chain head recorded earlier (a report, `gateway status`, SPBE): it must still be in "
                          "the chain, or its newest entries were removed", callback=_audit_head)] = None) -> None:
    """Check the tenant's hash-chained audit log; exit 1 if any entry was changed, removed or re-ordered (the
    newest ones only with --head: what is left of a chain cut at its end is still a valid chain)."""
    from gateway.store import audit

    with _engine().connect() as conn:
        check = audit.verify(conn, tenant, head=head)
    if check.ok:
        anchored = "" if head is None else f"; the anchored head is entry {check.anchored_at}"
        console.print(f"audit log of {tenant}: {check.entries} entries, chain intact, head {check.head}{anchored}",
                      soft_wrap=True, highlight=False)
        return
    where = f"broken at entry {check.first_bad_id}: " if check.first_bad_id is not None else "cut: "
    console.print(f"[red]audit log of {tenant}: {where}{escape(check.reason)}[/red]", soft_wrap=True,
                  highlight=False)
    raise typer.Exit(1)


def _operator() -> str:
    import getpass

    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator:unknown"


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


_register_mock_commands()
from gateway.cli import _verbs  # noqa: E402 - the verbs use the options above and register on `app`

_verbs.register(app)
from gateway.cli import _feed  # noqa: E402 - `gateway feed` (webhooks), on the options above

_feed.register(app)

from gateway.cli import _scale  # noqa: E402 - `gateway worker` and `gateway scheduler`

_scale.register(app)
from gateway.cli import _whatif  # noqa: E402 - `gateway whatif` (issue 18)

_whatif.register(app)


def main() -> None:
    """The `gateway` command: `app` with every error that reaches the top as one line (gateway/cli/_errors.py)."""
    from gateway.cli._errors import run as run_app

    run_app(app)

if __name__ == "__main__":
    main()
