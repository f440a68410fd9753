"""Public reports: aggregated per OPD, exact sums, no personal data; the HTML page as a browser shows it."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway import reports
from gateway.bootstrap import build_mock_pipeline
from gateway.settings import Settings
from gateway.store import repository as repo
from mocks import MockWorld, Scenario
from tests.conftest import IN_CI, FakeClock

NIP_LIKE = re.compile(r"\d{18}")


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
    assert len(built.opds) == 4
    assert sum(o.employees for o in built.opds) == len(results) == sum(built.score_histogram)
    assert sum(o.total_rupiah for o in built.opds) == sum(r.amount for r in results)
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
    assert [r["opd"] for r in rows] == [o["opd"] for o in data["opds"]]
    assert [int(r["total_rupiah"]) for r in rows] == [o["total_rupiah"] for o in data["opds"]]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_page_as_a_reader_sees_it_in_headless_chromium(metro_report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    browser = _chromium()
    if browser is None:
        if IN_CI:
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    built, _ = metro_report
    page = tmp_path / "report.html"
    page.write_text(reports.to_html(built), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1400"]
    env = {**os.environ, "HOME": str(tmp_path)}
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, env=env, check=True).stdout
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120,
                   env=env, check=True)
    visible = re.sub(r"<[^>]+>", " ", dom)
    assert "TPP Kota Metro, 2026-03" in visible
    for opd in built.opds:
        assert opd.opd in visible and f"{opd.total_rupiah:,}".replace(",", ".") in visible
    assert dom.count("<rect") == len(built.opds) + 10  # one bar per OPD, ten score bands
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000  # a drawn page
