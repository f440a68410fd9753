"""The CLI's last line of defence: an error that reaches the top is one line on stderr, exit 2 for what the
operator can fix (settings, an argument, the database URL, a path) and 1 for the rest; `--debug` anywhere on the
command line shows the traceback instead."""

from __future__ import annotations

import sys
from collections.abc import Callable

from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from gateway.errors import ConfigurationError, GatewayError, InputError


def one_line(exc: BaseException) -> str:
    """The error in one line: every rule a setting broke, or the first line of the message."""
    if isinstance(exc, ValidationError):
        return f"{exc.title}: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# The modules only the mocks import: they come with the `mocks` extra, not with `pip install tpp-gateway`
# (pyproject's optional-dependencies; tests/test_mocks_extra.py keeps the two lists equal).
MOCK_ONLY_MODULES = frozenset({"respx", "starlette", "uvicorn", "anyio"})
MOCKS_EXTRA = "pip install 'tpp-gateway[mocks]'"


def explain(exc: BaseException) -> tuple[int, str]:
    """(exit code, the line to print) for an error that reached the top."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").partition(".")[0] in MOCK_ONLY_MODULES:
        # `gateway demo`, `mock serve|generate`, `run --mock` on a production install
        return 2, (f"this command runs the bundled mocks, whose dependencies are not installed (no module "
                   f"{exc.name!r}): {MOCKS_EXTRA}")
    if isinstance(exc, ValidationError):
        return 2, f"the settings are not valid: {one_line(exc)}"
    if isinstance(exc, (ConfigurationError, InputError)):
        return 2, one_line(exc)
    if isinstance(exc, (OperationalError, ArgumentError, NoSuchModuleError)):
        cause = one_line(getattr(exc, "orig", None) or exc)
        return 2, f"the database {_database()} cannot be used: {cause}; check GATEWAY_DATABASE_URL"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return 2, f"cannot use{where}: {exc.strerror or one_line(exc)}"
    if isinstance(exc, GatewayError):
        return 1, one_line(exc)
    return 1, f"internal error ({type(exc).__name__}): {one_line(exc)}; run again with --debug for the traceback"


def _database() -> str:
    from sqlalchemy.engine import make_url

    from gateway.settings import Settings

    try:
        return make_url(Settings().database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - naming the database must never fail the message itself
        return "(as configured)"


def run(app: Callable[[], object]) -> None:
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            raise
        code, line = explain(exc)
        print(line, file=sys.stderr)  # noqa: T201 - the CLI's own last word
        sys.exit(code)
