"""Logs never carry secrets or personal data in clear: one processor masks them for every call site."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from gateway.logsetup import configure, mask_nip


def test_nip_keeps_only_its_first_and_last_four_digits() -> None:
    assert mask_nip("employee 198803032012032003 refused") == "employee 1988**********2003 refused"
    assert mask_nip("order 12345") == "order 12345"


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    configure("WARNING")


def test_configured_logger_masks_nips_names_and_secrets() -> None:
    out = io.StringIO()
    configure("INFO", json=True)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(out))
    log = structlog.get_logger("test")
    log.info("payroll.line", nip="198803032012032003", nama="Dewi Lestari", bank_account="1234567890",
             api_key="secret-key", url="https://x/pns/data-utama/198803032012032003")
    event = json.loads(out.getvalue())
    assert event["nip"] == "1988**********2003"
    assert event["nama"] == event["bank_account"] == event["api_key"] == "***"
    assert "198803032012032003" not in out.getvalue() and "secret-key" not in out.getvalue()
    assert event["url"].endswith("1988**********2003")


def test_nested_values_and_tax_ids_are_masked_too() -> None:
    from gateway.logsetup import mask_personal_data

    event = mask_personal_data(None, "info", {"event": "x", "lines": [{"nip": "198803032012032003", "npwp": "1"}],
                                              "payload": {"nama": "Dewi", "note": "for 198803032012032003"}})
    assert event["lines"] == [{"nip": "1988**********2003", "npwp": "***"}]
    assert event["payload"] == {"nama": "***", "note": "for 1988**********2003"}


def test_nik_birth_dates_and_bank_accounts_are_masked_in_every_spelling() -> None:
    from gateway.logsetup import mask_personal_data

    event = mask_personal_data(None, "info", {
        "event": "hr.row", "nik": "3375014101800001", "birth_date": "1980-01-01", "tglLahir": "01-01-1980",
        "account_number": "0012345678", "nomorRekening": "0012345678", "nomor_rekening": "0012345678",
        "namaRekening": "Dewi Lestari", "account_name": "Dewi Lestari",
        "payload": {"nipBaru": "198001012005012001", "nik": "3375014101800001", "kodeBank": "113"},
        "note": "row for NIK 3375014101800001 refused"})

    for key in ("nik", "birth_date", "tglLahir", "account_number", "nomorRekening", "nomor_rekening", "namaRekening",
                "account_name"):
        assert event[key] == "***", key
    assert event["payload"] == {"nipBaru": "1980**********2001", "nik": "***", "kodeBank": "113"}
    assert event["note"] == "row for NIK 3375************ refused"


def test_a_traceback_is_masked_before_it_is_written() -> None:
    out = io.StringIO()
    configure("INFO", json=True)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(out))
    try:
        raise ValueError("line for 198803032012032003 refused; Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIi.c2ln")
    except ValueError:
        structlog.get_logger("test").exception("relay.crashed")
    written = out.getvalue()
    (exc,) = json.loads(written)["exception"]  # structured: type, value, frames
    assert exc["exc_type"] == "ValueError" and exc["frames"] and "Bearer [token]" in exc["exc_value"]
    assert "198803032012032003" not in written and "eyJ" not in written


def test_a_failing_postgresql_statement_logs_no_nip_and_no_name() -> None:
    import pytest as _pytest
    from sqlalchemy import insert
    from sqlalchemy.exc import DBAPIError

    from gateway.store.tables import payroll_ledger
    from tests.conftest import IN_CI, PG_URL, _reset_postgres

    try:
        url = _reset_postgres(PG_URL)
    except Exception as exc:  # noqa: BLE001 - unreachable: skipped outside CI
        if IN_CI:
            raise
        _pytest.skip(f"PostgreSQL not reachable: {exc}")
    from gateway.store import make_engine

    engine = make_engine(url)
    out = io.StringIO()
    configure("INFO", json=True)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(out))
    try:
        with engine.begin() as conn:  # a NIP one character too long for varchar(18), with a name beside it
            conn.execute(insert(payroll_ledger).values(
                tenant="metro", period="2026-03", nip="198803032012032003\n", opd_id="OPD", outbox_id=1,
                line_id="k:Dewi Lestari", amount=1, kind="tpp", fate="pending", created_at=None, updated_at=None))
    except DBAPIError:
        structlog.get_logger("test").exception("store.failed")
    finally:
        engine.dispose()
    written = out.getvalue()
    assert json.loads(written)["event"] == "store.failed" and json.loads(written)["exception"][0]["frames"]
    assert "198803032012032003" not in written and "Dewi Lestari" not in written


def test_other_libraries_lines_are_json_masked_and_carry_the_bound_context() -> None:
    import logging

    from gateway.logsetup import foreign_formatter

    handler = logging.StreamHandler(out := io.StringIO())
    handler.setFormatter(foreign_formatter(json=True))
    library = logging.getLogger("kombu.connection")
    library.addHandler(handler)
    try:
        with structlog.contextvars.bound_contextvars(tenant="metro", period="2026-03"):
            library.warning("lost 198803032012032003's channel")
    finally:
        library.removeHandler(handler)
    event = json.loads(out.getvalue())
    assert event == {**event, "event": "lost 1988**********2003's channel", "logger": "kombu.connection",
                     "level": "warning", "tenant": "metro", "period": "2026-03"}


def test_a_python_warning_is_a_json_line_too() -> None:
    """A library's warning (pyhanko's import under a newer cryptography, say) must not put plain text into a JSON
    stderr: warnings go through logging."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import warnings\nfrom gateway import logsetup\n"
                           "logsetup.configure('INFO', json=True)\nwarnings.warn('an old API', UserWarning)"],
                          capture_output=True, text=True, timeout=60, check=True)
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert any("an old API" in line["event"] and line["logger"] == "py.warnings" for line in lines)
