"""`gateway mock ...`: the upstream mocks as tools (generate scenarios, serve them over HTTP).

Each command lives in its own module and registers itself here.
"""

from __future__ import annotations

import typer

from gateway.cli import _generate, _serve

mock_app = typer.Typer(help="Mocks of BKN, BSrE, SPBE, payroll and the city apps.", no_args_is_help=True)
_generate.register(mock_app)
_serve.register(mock_app)
