"""Every operator mistake is one clear line and exit 2, never a traceback; `--debug` shows the traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app, main
from mocks.scenario import SCENARIOS

runner = CliRunner()


@pytest.mark.parametrize(("text", "said"), [
    ("page_sise = 3\n", "unknown setting(s) page_sise"),
    ("[tenants.metro\nx = 1\n", "is not valid TOML"),
    ('[tenants.metro]\ndisplay_nme = "Kota Metro"\n', "display_nme"),
])
def test_a_bad_settings_file_is_named_with_the_rule(text: str, said: str, tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(text)
    out = runner.invoke(app, ["results", "-t", "metro", "-p", "2026-03"],
                        env={"GATEWAY_CONFIG_FILE": str(config), "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/g"})
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert said in " ".join(out.output.replace("│", " ").split())
    if "TOML" in said:
        assert "line 1" in " ".join(out.output.replace("│", " ").split())


def test_a_missing_settings_file_is_not_ignored(tmp_path: Path) -> None:
    out = runner.invoke(app, ["status", "-t", "metro"], env={"GATEWAY_CONFIG_FILE": str(tmp_path / "nope.toml")})
    said = " ".join(out.output.replace("│", " ").split())
    assert out.exit_code == 2 and "nope.toml: no such file" in said and "Traceback" not in out.output


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["gateway", *argv])
    with pytest.raises(SystemExit) as stopped:
        main()
    captured = capsys.readouterr()
    return int(stopped.value.code or 0), captured.err + captured.out


def test_an_unreachable_database_is_named_with_its_password_masked(monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql+psycopg://gateway:s3cret-pw@127.0.0.1:1/tpp")
    code, output = _main(["status", "-t", "metro"], monkeypatch, capsys)
    assert code == 2 and len(output.strip().splitlines()) == 1 and "Traceback" not in output
    assert "127.0.0.1:1/tpp" in output and "s3cret-pw" not in output and "***" in output


def test_an_unwritable_output_path_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'g.db'}")
    assert runner.invoke(app, ["demo"]).exit_code == 0  # results to report on
    code, output = _main(["report", "-t", "metro", "-p", "2026-03", "-f", "html", "--out",
                          str(tmp_path / "missing" / "r.html")], monkeypatch, capsys)
    assert code == 2 and "No such file or directory" in output and "Traceback" not in output


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "nosuchdriver://x")
    monkeypatch.setattr(sys, "argv", ["gateway", "status", "-t", "metro", "--debug"])
    with pytest.raises(Exception, match="nosuchdriver"):
        main()


def test_a_scenario_with_a_bad_period_is_one_line(tmp_path: Path) -> None:
    data = json.loads(next(SCENARIOS.glob("metro-*.json")).read_text())
    data["period"] = "2026-13"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    out = runner.invoke(app, ["demo", "--scenario", str(bad)], env={"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path}/g"})
    assert out.exit_code == 2 and "2026-13" in out.output and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1
