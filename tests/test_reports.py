"""Public reports: aggregated per OPD, exact sums, no personal data, no figure from fewer than k employees; the HTML
page as a browser shows it, in Indonesian."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from gateway import reports
from gateway.bootstrap import build_mock_pipeline
from gateway.domain import Employee, Result, ResultStatus, Unit
from gateway.mappings._base import opd_of
from gateway.settings import Settings
from gateway.store import audit, make_engine
from gateway.store import repository as repo
from mocks import MockWorld, Scenario
from mocks.generator import ScenarioGenerator
from tests.conftest import IN_CI, FakeClock

NIP_LIKE = re.compile(r"\d{18}")
K = 5


@pytest.fixture(scope="module")
def metro_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[reports.Report, list]:
    db = tmp_path_factory.mktemp("report") / "r.db"
    settings = Settings(database_url=f"sqlite:///{db}")
    pipeline = build_mock_pipeline(settings, MockWorld(Scenario.bundled("metro")), clock=FakeClock())
    pipeline.cycle("metro", "2026-03")
    with pipeline.engine.connect() as conn:
        built = reports.build(conn, "metro", settings.tenants["metro"], "2026-03")
        results = repo.load_results(conn, "metro", "2026-03")
    return built, results


def test_summary_per_opd_adds_up_to_the_results(metro_report) -> None:  # type: ignore[no-untyped-def]
    built, results = metro_report
    assert len(built.opds) == 4 and built.other_opds is None  # every Metro OPD has 5 or more employees
    assert sum(o.employees for o in built.opds) == built.total.employees == len(results)
    assert sum(b.employees or 0 for b in built.bands) + built.bands_other == len(results)
    assert sum(o.total_rupiah or 0 for o in built.opds) == built.total.total_rupiah == sum(r.amount for r in results)
    for opd in built.opds:
        mine = [r for r in results if r.opd_id == opd.opd_id]
        assert (opd.paid_full, opd.paid_partly, opd.paid_nothing) == (
            sum(r.status == "full" for r in mine), sum(r.status == "partial" for r in mine),
            sum(r.status == "nothing" for r in mine))
        met = sum(int(r.metrics.get("indicators_met", 0)) for r in mine)
        total = sum(int(r.metrics["indicators"]) for r in mine)
        assert opd.share_met == f"{100 * met / total:.2f}"


@pytest.mark.parametrize("fmt", ["json", "csv", "html"])
def test_no_personal_data_in_any_format(metro_report, fmt: str) -> None:  # type: ignore[no-untyped-def]
    built, results = metro_report
    text = reports.RENDERERS[fmt](built)
    assert not NIP_LIKE.search(text)
    names = {e.name for e in Scenario.bundled("metro").employees}
    assert not any(name in text for name in names)


def test_csv_and_json_carry_the_same_rows(metro_report) -> None:  # type: ignore[no-untyped-def]
    built, _ = metro_report
    rows = list(csv.DictReader(io.StringIO(reports.to_csv(built))))
    data = json.loads(reports.to_json(built))
    assert [r["opd"] for r in rows] == [o["opd"] for o in data["opds"]] + ["Jumlah"]
    assert [int(r["total_rupiah"]) for r in rows] == [o["total_rupiah"] for o in data["opds"]] + [
        data["total"]["total_rupiah"]]


def test_indonesian_formats() -> None:
    assert reports.rupiah(1_234_567) == "Rp 1.234.567"
    assert reports.number("74.95") == "74,95" and reports.number(20000) == "20.000"
    assert reports.month_label("2026-03") == "Maret 2026" and reports.month_label("2026-Q1") == "Triwulan I 2026"
    assert reports.number(None) == "–" and reports.rupiah(None) == "–"


def _result(tenant: str, period: str, nip: str, opd: str, score: int, amount: int) -> Result:
    status = ResultStatus.FULL if score >= 90 else ResultStatus.NOTHING if score == 0 else ResultStatus.PARTIAL
    return Result(tenant=tenant, period=period, nip=nip, opd_id=opd, amount=amount, ceiling=10_000_000,
                  score=str(score), status=status, scheme="dki", settings_version="test", lines=(), input_ids=())


def seed_generated(engine: Engine, employees: int, period: str, clock: FakeClock) -> int:
    """A generated DKI organisation (mocks/generator.py) staged as a sync would, with seeded results: the
    report reads headcounts and results, so the month's activities are not needed."""
    gen = ScenarioGenerator("dki", employees, period, seed=1, bad_share=0.0)
    raw_units, raw_people = [], []
    for kind, record in gen.records():
        if kind == "document":
            break
        (raw_units if kind == "unit" else raw_people if kind == "employee" else []).append(record)
    parent = {u["id"]: u.get("parent_id") for u in raw_units}

    def depth(uid: str) -> int:
        return 0 if parent[uid] is None else 1 + depth(parent[uid])

    units = [Unit(id=u["id"], name=u["name"], parent_id=u.get("parent_id"), head_nip=u.get("head_nip"),
                  level={0: "pemda", 1: "opd", 2: "bidang"}.get(depth(u["id"]), "seksi")) for u in raw_units]
    fields = set(Employee.model_fields)
    people = [Employee.model_validate({k: v for k, v in p.items() if k in fields}) for p in raw_people]
    by_id = {u.id: u for u in units}
    rnd = random.Random(7)
    results = []
    for p in people:
        opd = opd_of(by_id, p.unit_id)
        if opd is None:
            continue
        score = rnd.choice([0, rnd.randint(1, 100), 100, rnd.randint(60, 100)])
        results.append(_result("dki", period, p.nip, opd, score, 10_000_000 * score // 100))
    with engine.begin() as conn:
        repo.stage(conn, "dki", "unit", units, None, clock())
        repo.stage(conn, "dki", "employee", people, None, clock())
        repo.save_results(conn, results, clock())
        audit.append(conn, "dki", "gateway", "result.computed", [(r.nip, {"amount": r.amount}) for r in results[:3]],
                     clock())
    return len(results)


@pytest.fixture(scope="module")
def dki_month(tmp_path_factory: pytest.TempPathFactory) -> tuple[reports.Report, int, Settings]:
    """A generated 20,000-employee DKI month (about a quarter of DKI's units have one member)."""
    db = tmp_path_factory.mktemp("dki") / "r.db"
    settings = Settings(database_url=f"sqlite:///{db}")
    engine = make_engine(settings.database_url)
    seeded = seed_generated(engine, 20_000, "2026-03", FakeClock())
    with engine.connect() as conn:
        built = reports.build(conn, "dki", settings.tenants["dki"], "2026-03")
    engine.dispose()
    return built, seeded, settings


def test_no_published_cell_of_a_generated_dki_month_comes_from_fewer_than_k(dki_month) -> None:  # type: ignore[no-untyped-def]
    built, seeded, _ = dki_month
    (month,) = built.units
    small = [u for u in (*month.rows, *(() if month.other is None else (month.other,))) if u.headcount < K]
    assert month.other is not None and month.other.units > 400  # the one-member units are folded, not shown
    assert all(u.total_points is None and u.mean_attainment is None for u in small)
    assert min(n for _, n in built.published_cells()) >= K
    assert built.total.employees == seeded and month.total.headcount == month.other.headcount + sum(
        u.headcount for u in month.rows)
    assert built.candidates == () and built.period_label == "Maret 2026"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _render(page_html: str, tmp_path: Path, shot: Path | None = None) -> str:
    browser = _chromium()
    if browser is None:
        if IN_CI:
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    page = tmp_path / "report.html"
    page.write_text(page_html, encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1400"]
    env = {**os.environ, "HOME": str(tmp_path)}
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, env=env, check=True).stdout
    if shot is not None:
        subprocess.run([browser, *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120,
                       env=env, check=True)
    return dom


class _Cells(HTMLParser):
    """Each table row as the browser holds it: its employees, its visible cells (and which hold a figure); each
    bar with the employees it is drawn from."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, list[str], list[bool]]] = []
        self.bars: list[int] = []
        self._row: tuple[int, list[str], list[bool]] | None = None
        self._cell: list[str] | None = None
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "tr" and a.get("data-employees") is not None:
            self._row = (int(a["data-employees"] or 0), [], [])
        elif tag == "td" and self._row is not None:
            self._cell = []
            self._row[2].append(a.get("class") == "fig")
        elif tag == "rect":
            self.bars.append(int(a["data-employees"] or 0))

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None


def test_a_generated_dki_month_as_chromium_shows_it_has_no_cell_below_k(dki_month, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    built, seeded, _ = dki_month
    shot = Path(os.environ.get("REPORT_SCREENSHOT", tmp_path / "report.png"))
    dom = _render(reports.to_html(built), tmp_path, shot)
    cells = _Cells()
    cells.feed(dom)
    assert cells.lang == "id"
    published = [(n, visible) for n, visible, fig in cells.rows if any(
        f and v != "–" for v, f in zip(visible, fig, strict=True))]
    assert len(published) > 100
    for employees, visible in published:
        assert employees >= K, f"row {visible} shows a figure from {employees} employees"
        assert visible[1] == reports.number(employees)  # the Pegawai column says the same
    assert cells.bars and min(cells.bars) >= K
    visible_text = re.sub(r"<[^>]+>", " ", dom)
    assert "TPP Provinsi DKI Jakarta, Maret 2026" in visible_text and "Lainnya (" in visible_text
    assert any(v[0].startswith("Jumlah (") and v[1] == reports.number(seeded) for _, v in published)  # the total
    assert "Kandidat" not in visible_text and "closure" not in visible_text.lower()
    assert built.audit_head in visible_text
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_html_page_as_a_reader_sees_it_in_headless_chromium(metro_report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    built, results = metro_report
    dom = _render(reports.to_html(built), tmp_path)
    visible = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert "TPP Kota Metro, Maret 2026" in visible and 'lang="id"' in dom
    for opd in built.opds:
        assert opd.opd in visible and reports.rupiah(opd.total_rupiah) in visible
    assert reports.rupiah(sum(r.amount for r in results)) in visible  # the total row
    shown_bands = sum(bool(b.employees) for b in built.bands)
    assert dom.count("<rect") == len(built.opds) + shown_bands  # a bar per OPD and per band shown
    assert all(f">{t}%<" in dom for t in ("0", "20", "40", "60", "80", "100"))  # the score axis, in percent
    assert "rata-rata skor (% dari pagu)" in visible and "jumlah pegawai" in visible
    assert "Average" not in visible and "Employees" not in visible  # no English left


def test_closure_candidates_only_for_the_internal_audience(tmp_path: Path) -> None:
    """A quarter with no activities: every unit stays below the threshold every month, so every unit with members
    is a candidate. The public report names none of them; the internal one lists them."""
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    seed_generated(engine, 300, "2026-Q1", FakeClock())
    config = Settings(database_url=str(engine.url)).tenants["dki"]
    with engine.connect() as conn:
        public = reports.build(conn, "dki", config, "2026-Q1")
        internal = reports.build(conn, "dki", config, "2026-Q1", "internal")
    engine.dispose()
    assert public.candidates == () and len(internal.candidates) > 10
    assert [m.month_label for m in public.units] == ["Januari 2026", "Februari 2026", "Maret 2026"]
    page = reports.to_html(public)
    assert "Kandidat" not in page
    assert "Kandidat penggabungan" in reports.to_html(internal)
    assert json.loads(reports.to_json(public))["candidates"] == []


def test_k_is_the_tenants_setting(dki_month) -> None:  # type: ignore[no-untyped-def]
    built, _, settings = dki_month
    db_url = settings.database_url
    config = settings.tenants["dki"].model_copy(update={"report_min_employees": 200})
    engine = make_engine(db_url)
    with engine.connect() as conn:
        strict = reports.build(conn, "dki", config, "2026-03")
    engine.dispose()
    assert strict.k == 200 and min(n for _, n in strict.published_cells()) >= 200
    assert len(strict.opds) < len(built.opds) and strict.other_opds is not None


def test_report_cli_audience_and_head(metro_report, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from gateway.cli import app

    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    bad = CliRunner().invoke(app, ["report", "-t", "metro", "-p", "2026-03", "--audience", "press"])
    assert bad.exit_code == 2 and "--audience must be one of public, internal" in bad.output
