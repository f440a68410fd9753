"""One exception tree: every error the gateway raises on purpose is a GatewayError, and callers catch at the level
they care about (an operator's mistake is exit 2 in the CLI)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine

import gateway
from gateway.cli import main
from gateway.cli._errors import explain
from gateway.domain import Period
from gateway.errors import (
    ConfigurationError,
    GatewayError,
    InputError,
    InvalidPeriod,
    UnknownKind,
    UnknownScheme,
)
from gateway.mappings import get_scheme
from gateway.settings import Settings, TenantConfig
from gateway.store import repository as repo
from gateway.store.tables import metadata


def _gateway_modules() -> list[str]:
    names = [gateway.__name__]
    for info in pkgutil.walk_packages(gateway.__path__, prefix="gateway."):
        if info.name.startswith("gateway.store.migrations"):
            continue  # Alembic's scripts run only inside an Alembic context
        names.append(info.name)
    return names


def test_every_exception_class_defined_in_the_gateway_is_a_gateway_error() -> None:
    found: dict[str, type[BaseException]] = {}
    for name in _gateway_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name:
                found[f"{name}.{attr}"] = value
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, GatewayError))
    assert outside == []
    # the walk did see the tree (a walk that imported nothing would pass the line above)
    assert {"gateway.domain.errors.InvalidPeriod", "gateway.mappings._checks.Refusal",
            "gateway.connectors._polite.CircuitOpen", "gateway.outbox.operations.OperationError"} <= set(found)


def test_a_bad_period_is_an_input_error_and_still_a_value_error() -> None:
    with pytest.raises(InvalidPeriod, match="'2026-13' is neither a month") as raised:
        Period.parse("2026-13")
    assert isinstance(raised.value, InputError) and isinstance(raised.value, ValueError)


def test_an_unknown_scheme_is_a_configuration_error_with_its_message_unquoted() -> None:
    with pytest.raises(UnknownScheme) as raised:
        get_scheme("surabaya")
    assert isinstance(raised.value, ConfigurationError) and isinstance(raised.value, KeyError)
    assert str(raised.value) == "unknown scheme 'surabaya'; installed: dki, metro, pekalongan"


def test_an_unknown_record_kind_is_an_input_error() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.connect() as conn:
        for read in (lambda: repo.staged(conn, "metro", "employe"),
                     lambda: repo.staged_by_id(conn, "metro", "employe", ["1"]),
                     lambda: repo.get_records(conn, "metro", "employe", ["1"]),
                     lambda: repo.load_period(conn, "metro", "2026-03", kinds=["employe"])):
            with pytest.raises(UnknownKind, match="employe") as raised:
                read()
            assert isinstance(raised.value, InputError)


def test_a_tenant_secret_file_that_cannot_be_read_is_a_configuration_error(tmp_path: Path) -> None:
    settings = Settings(tenants={"metro": TenantConfig(display_name="Kota Metro", scheme="metro",
                                                       endpoints={"bkn_password_file": str(tmp_path / "nope")})})
    with pytest.raises(ConfigurationError, match=r"\[tenants.metro.endpoints\]: bkn_password_file: cannot read"):
        settings.for_tenant("metro")


@pytest.mark.parametrize(("error", "code"), [
    (InvalidPeriod("period '2026-13' is neither a month (YYYY-MM) nor a quarter (YYYY-Qn)"), 2),
    (UnknownKind("unknown record kind 'employe'"), 2),
    (UnknownScheme("unknown scheme 'surabaya'; installed: dki, metro, pekalongan"), 2),
    (ConfigurationError("GATEWAY_CONFIG_FILE x: no such file"), 2),
    (GatewayError("payroll dead-lettered"), 1),
])
def test_the_cli_maps_each_branch_to_its_exit_code(error: GatewayError, code: int) -> None:
    assert explain(error) == (code, str(error))


def test_an_unknown_scheme_through_the_cli_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[tenants.metro]\ndisplay_name = "Kota Metro"\nscheme = "surabaya"\n')
    monkeypatch.setenv("GATEWAY_CONFIG_FILE", str(config))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'g.db'}")
    monkeypatch.setattr(sys, "argv", ["gateway", "compute", "-t", "metro", "-p", "2026-03"])
    with pytest.raises(SystemExit) as stopped:
        main()
    out = capsys.readouterr()
    assert stopped.value.code == 2 and "Traceback" not in out.err + out.out
    assert len(out.err.strip().splitlines()) == 1 and "unknown scheme 'surabaya'" in out.err
