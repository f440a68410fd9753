"""`gateway mock ...`: the upstream mocks as tools (generate scenarios, serve them over HTTP).

Each command lives in its own module and registers itself here.
"""

from __future__ import annotations

import importlib

import typer

mock_app = typer.Typer(help="Mocks of BKN, BSrE, SPBE, payroll and the city apps.", no_args_is_help=True)

for _module in ("gateway.cli._generate", "gateway.cli._serve"):
    try:
        importlib.import_module(_module).register(mock_app)
    except ModuleNotFoundError as exc:
        if exc.name != _module:
            raise
