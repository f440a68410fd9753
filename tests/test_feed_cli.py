"""`gateway feed`: endpoints from the CLI; the operator's mistakes are one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.fernet import Fernet
from typer.testing import CliRunner

from gateway.cli import app

runner = CliRunner()
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def env(tmp_path: Path, key: str | None = None) -> dict[str, str]:
    out = {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"}
    if key:
        out["GATEWAY_WEBHOOK_SECRET_KEY"] = key
    return out


def test_endpoints_are_added_listed_disabled_and_enabled(tmp_path: Path) -> None:
    e = env(tmp_path, Fernet.generate_key().decode())
    added = runner.invoke(app, ["feed", "endpoint", "add", "-t", "metro", "https://dash.metro.go.id/hooks",
                                "--type", "id.go.tpp.result.computed", "--secret", SECRET], env=e)
    assert added.exit_code == 0, added.output
    assert SECRET not in added.output  # given by the operator: not echoed
    made = runner.invoke(app, ["feed", "endpoint", "add", "-t", "metro", "https://inspektorat.go.id/h"], env=e)
    assert made.exit_code == 0 and "secret (shown once): whsec_" in made.output
    listed = json.loads(runner.invoke(app, ["feed", "endpoint", "list", "-t", "metro", "--json"], env=e).output)
    assert [(r["id"], r["types"], r["status"]) for r in listed] == [
        (1, ["id.go.tpp.result.computed"], "active"), (2, [], "active")]
    assert "whsec_" not in json.dumps(listed) and all("secret" not in r for r in listed)
    assert runner.invoke(app, ["feed", "endpoint", "disable", "-t", "metro", "1"], env=e).exit_code == 0
    assert runner.invoke(app, ["feed", "endpoint", "list", "-t", "metro", "--json"], env=e).output.count("disabled")
    assert runner.invoke(app, ["feed", "endpoint", "enable", "-t", "metro", "1"], env=e).exit_code == 0
    assert runner.invoke(app, ["feed", "deliveries", "-t", "metro"], env=e).exit_code == 0
    replay = runner.invoke(app, ["feed", "replay", "-t", "metro", "--since", "2026-12-01T00:00+07:00"], env=e)
    assert replay.exit_code == 0 and "0 deliveries queued again" in replay.output


def test_operator_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    cases = [
        (["feed", "endpoint", "add", "-t", "metro", "https://x.go.id/h", "--secret", "whsec_QUFB"], key, "24-64"),
        (["feed", "endpoint", "add", "-t", "metro", "ftp://x.go.id/h"], key, "not an http(s) URL"),
        (["feed", "endpoint", "add", "-t", "metro", "https://x.go.id/h", "--type", "nope"], key, "unknown event type"),
        (["feed", "endpoint", "add", "-t", "metro", "https://x.go.id/h"], None, "GATEWAY_WEBHOOK_SECRET_KEY"),
        (["feed", "endpoint", "disable", "-t", "metro", "9"], key, "no webhook endpoint 9"),
        (["feed", "replay", "-t", "metro", "--since", "2026-12-01"], key, "zone"),
    ]
    for args, k, expected in cases:
        out = runner.invoke(app, args, env=env(tmp_path, k))
        assert out.exit_code == 2, (args, out.output)
        assert expected in out.output, (args, out.output)
        assert "Traceback" not in out.output
