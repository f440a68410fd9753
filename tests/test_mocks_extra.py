"""A production install without the mocks' weight: `pip install tpp-gateway` carries no dependency only the mocks
import; those come with the `mocks` extra, and a command that needs them says so in one line (exit 2)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from gateway.cli._errors import MOCK_ONLY_MODULES

ROOT = Path(__file__).resolve().parent.parent


def _import_roots(folder: Path) -> set[str]:
    roots = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots.update(a.name.partition(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.partition(".")[0])
    return roots - set(sys.stdlib_module_names) - {"__future__", "gateway", "mocks"}


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower().replace("-", "_") for r in requirements}


def test_the_base_install_carries_none_of_what_only_the_mocks_import() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    mock_only = _import_roots(ROOT / "mocks") - _import_roots(ROOT / "gateway")
    assert mock_only == MOCK_ONLY_MODULES  # the CLI's list of what needs the extra is the mocks' real imports
    assert _names(project["dependencies"]) & mock_only == set()
    assert _names(project["optional-dependencies"]["mocks"]) == mock_only
    assert "tpp-gateway[mocks]" in project["optional-dependencies"]["dev"]  # the Quick start's '.[dev]' has them


# Runs in a fresh interpreter where the mocks' own dependencies cannot be imported, as on `pip install tpp-gateway`
# (anyio and cryptography stay: httpx and pyhanko bring them to every install).
_DRIVER = r"""
import contextlib, importlib, io, json, pkgutil, sys

BLOCKED = {"respx", "starlette", "uvicorn"}

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

for name in list(sys.modules):
    if name.partition(".")[0] in BLOCKED:
        del sys.modules[name]
sys.meta_path.insert(0, Absent())

import gateway
unimportable = {}
for info in pkgutil.walk_packages(gateway.__path__, prefix="gateway."):
    if not info.name.startswith("gateway.store.migrations"):
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            unimportable[info.name] = str(exc)

from gateway.cli import main

runs = {}
for argv in json.loads(sys.argv[1]):
    sys.argv = ["gateway", *argv]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    runs[" ".join(argv)] = {"code": code, "out": out.getvalue(), "err": err.getvalue()}
print(json.dumps({"unimportable": unimportable, "runs": runs}))
"""

_NEED_MOCKS = [["demo"], ["demo", "--tenant", "dki"], ["run", "--mock", "--once"],
               ["mock", "generate", "-t", "metro", "-n", "5", "-p", "2026-03"], ["mock", "serve", "--port", "0"]]


def test_without_the_extra_the_gateway_runs_and_the_mock_commands_name_the_extra(tmp_path: Path) -> None:
    argvs = [["--help"], ["results", "-t", "metro", "-p", "2026-03"], ["status", "--json"], *_NEED_MOCKS]
    env = {**os.environ, "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}", "COLUMNS": "200"}
    env.pop("GATEWAY_CONFIG_FILE", None)
    done = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(argvs)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["unimportable"] == {}  # no gateway module imports a mock-only dependency at its top level
    runs = found["runs"]
    assert runs["--help"]["code"] == 0 and "demo" in runs["--help"]["out"]
    assert runs["results -t metro -p 2026-03"]["code"] == 0, runs["results -t metro -p 2026-03"]
    assert runs["status --json"]["code"] == 0, runs["status --json"]
    for argv in _NEED_MOCKS:
        run = runs[" ".join(argv)]
        said = (run["err"] + run["out"]).strip()
        assert run["code"] == 2, (argv, run)
        assert len(said.splitlines()) == 1 and "Traceback" not in said, (argv, said)
        assert "pip install 'tpp-gateway[mocks]'" in said and "respx" in said, (argv, said)
