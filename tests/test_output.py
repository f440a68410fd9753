"""Output people read: one money format (Rp 1.234.567), scores to two decimals rounded half up, OPDs by name, and
tables at 80 columns that never cut a NIP or an amount; `--json` wherever a table is.

The formatter is checked by properties (what it prints parses back to the value); the CLI on the bundled Metro,
Pekalongan and DKI months at a width of 80."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from gateway import cli
from gateway.cli import app
from gateway.domain import fmt
from mocks import Scenario

runner = CliRunner()

# The one money format: Rp, a space, groups of three digits joined by '.', two decimals after ',' only for an exact
# share that is not whole; a minus before the Rp.
MONEY = re.compile(r"-?Rp \d{1,3}(?:\.\d{3})*(?:,\d{2})?")
FRACTION = re.compile(r"(?<![\w/])\d+/\d+(?![\w/-])")  # 130/3; not a record id such as NIP/2026-03


def parse_rupiah(text: str) -> Fraction:
    """Read a formatted amount back, independently of the formatter."""
    m = re.fullmatch(r"(-?)Rp (\d{1,3}(?:\.\d{3})*)(?:,(\d{2}))?", text)
    assert m, f"{text!r} is not in the money format"
    value = Fraction(int(m.group(2).replace(".", ""))) + Fraction(int(m.group(3) or 0), 100)
    return -value if m.group(1) else value


def half_up(value: Fraction, places: int = 2) -> Decimal:
    """The decimal library's ROUND_HALF_UP (away from zero on a tie), as the reference."""
    with localcontext() as ctx:
        ctx.prec = 200
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_an_amount_in_rupiah_parses_back_to_the_same_int(amount: int) -> None:
    text = fmt.rupiah(amount)
    assert parse_rupiah(text) == amount
    digits = text.removeprefix("-").removeprefix("Rp ")
    assert "," not in digits  # whole rupiah carry no decimals
    assert all(len(group) == 3 for group in digits.split(".")[1:])  # thousands separated by '.'
    assert text.startswith("-Rp ") == (amount < 0)


@given(st.fractions(min_value=-10**12, max_value=10**12, max_denominator=10**6))
def test_an_exact_share_shows_two_decimals_rounded_half_up(value: Fraction) -> None:
    text = fmt.rupiah(value)
    shown = parse_rupiah(text)
    assert shown == (value if value.denominator == 1 else Fraction(half_up(value)))
    assert abs(shown - value) <= Fraction(1, 200)
    assert (",") in text or value.denominator == 1


def test_scores_round_half_up_to_two_decimals_never_half_to_even() -> None:
    assert fmt.score("130/3") == "43,33"
    assert fmt.score(Fraction(200, 3)) == "66,67"
    assert fmt.score(Fraction(1, 8)) == "0,13"  # half to even would give 0,12
    assert fmt.score(Fraction(-1, 8)) == "-0,13"
    assert fmt.score(Fraction(-1, 1000)) == "0,00"  # no negative zero
    assert fmt.score("100") == "100,00" and fmt.score("0") == "0,00"
    assert fmt.number(Fraction(5)) == "5" and fmt.number(Fraction(25, 2)) == "12,50"
    assert fmt.number(Decimal("0.60")) == "0,60" and fmt.number(1234567) == "1.234.567"


# CLI at 80 columns -----------------------------------------------------------------------------------------------
@pytest.fixture
def cli80(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(cli.console, "width", 80)
    env = {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}", "COLUMNS": "80"}

    def run(*args: str, code: int = 0) -> str:
        out = runner.invoke(app, list(args), env=env)
        assert out.exit_code == code, out.output
        return out.output
    return run


def assert_readable(text: str) -> None:
    assert "…" not in text, text
    assert not FRACTION.findall(text), FRACTION.findall(text)
    assert not re.search(r"\d,\d{3}\b", text), "a number grouped with commas"
    for m in re.finditer(r"Rp", text):  # every Rp starts an amount in the one format, whole
        found = MONEY.match(text, m.start() - (text[m.start() - 1] == "-"))
        assert found, text[m.start():m.start() + 30]
        assert not re.match(r"[\d.,]\d", text[found.end():]), text[m.start():found.end() + 10]
    assert all(len(line) <= 80 for line in text.splitlines() if "│" in line or "┃" in line), "a table over 80"


def test_metro_month_at_80_columns_shows_every_nip_and_amount_whole(cli80: Any) -> None:
    cli80("demo")
    results = json.loads(cli80("results", "-t", "metro", "-p", "2026-03", "--json"))
    assert len(results) == 50
    table = cli80("results", "-t", "metro", "-p", "2026-03")
    assert_readable(table)
    for r in results:
        assert r["nip"] in table and fmt.rupiah(r["amount"]) in table
        assert fmt.score(r["score"]) in table
    assert fmt.rupiah(sum(r["amount"] for r in results)) in table
    metro = Scenario.bundled("metro")
    opds = {u.id: u.name for u in metro.units if u.id in {r["opd_id"] for r in results}}
    assert len(opds) == 4
    for opd_id, name in opds.items():
        assert opd_id[:8] not in table  # no id prefixes: names
        assert name.split()[0] in table
    assert "Dinas Kesehatan" in " ".join(table.replace("│", " ").split())

    for r in results:
        if r["status"] == "partial":
            shown = cli80("explain", "-t", "metro", "-p", "2026-03", "--nip", r["nip"])
            assert_readable(shown)
            assert r["nip"] in shown and f"score {fmt.score(r['score'])}" in shown
            assert fmt.rupiah(r["amount"]) in shown and opds[r["opd_id"]] in shown
            explained = json.loads(cli80("explain", "-t", "metro", "-p", "2026-03", "--nip", r["nip"], "--json"))
            assert explained["result"]["score"] == r["score"]  # exact inside: the fraction, unrounded

    listed = cli80("outbox", "list", "-t", "metro")
    assert_readable(listed)
    rows = json.loads(cli80("outbox", "list", "-t", "metro", "--json"))
    for row in rows:
        lines = row["payload"].get("lines", [])
        if lines:
            assert fmt.rupiah(sum(ln["amount"] for ln in lines)) in listed
            assert row["status"] in listed  # "delivered", not "deliver…"

    held = cli80("quarantine", "-t", "metro")
    assert_readable(held)
    for q in json.loads(cli80("quarantine", "-t", "metro", "--json")):
        assert q["record_id"] in held and q["rule"] in held
        nip = q["nip"] if q.get("nip") else q["record_id"][:18]
        assert nip in held
    assert json.loads(cli80("quarantine", "-t", "metro", "--all", "--json"))

    for args in (["status", "-t", "metro"], ["org", "-t", "metro", "--on", "2026-03-10"]):
        assert_readable(cli80(*args))
        assert json.loads(cli80(*args, "--json"))


def test_demo_has_json_too(cli80: Any) -> None:
    summary = json.loads(cli80("demo", "--json"))
    assert summary["results"] == 50 and type(summary["total_rupiah"]) is int
    assert summary["payroll_batches_acknowledged"] == summary["payroll_batches"] == 4


@pytest.mark.parametrize(("tenant", "period"), [("pekalongan", "2026-03"), ("dki", "2026-Q1")])
def test_every_explanation_of_the_other_cities_is_in_the_one_format(cli80: Any, tenant: str, period: str) -> None:
    cli80("demo", "--tenant", tenant)
    results = json.loads(cli80("results", "-t", tenant, "-p", period, "--json"))
    table = cli80("results", "-t", tenant, "-p", period)
    assert_readable(table)
    for r in results:
        assert r["nip"] in table and fmt.rupiah(r["amount"]) in table
        for line in r["lines"]:
            assert_readable(line["text"])
    worked = next(r for r in results if r["status"] == "partial")
    assert_readable(cli80("explain", "-t", tenant, "-p", period, "--nip", worked["nip"]))


def test_an_outbox_error_keeps_its_http_status_and_a_payroll_aggregate_names_its_opd() -> None:
    from gateway.cli import _format as show

    key = "9" * 64
    error = f"payroll batch {key}: payroll answered 503 to POST /batches: {'x' * 200}"
    assert show.error_summary(error) == "HTTP 503"  # the old 60-character cut ended inside the batch key
    assert show.error_summary("feed batch k: ConnectionError: refused") == "error"
    names = {"94A0DF05AC642A30C9E39659E5A34078": "Dinas Kesehatan"}
    assert show.aggregate("metro/2026-03/94A0DF05AC642A30C9E39659E5A34078", "metro", names) == "2026-03 Dinas Kesehatan"
    assert show.aggregate("metro/2026-03/spbe", "metro", names) == "2026-03 spbe"
    assert show.named(names, "FFFF") == "FFFF" and show.named(names, None) == ""
