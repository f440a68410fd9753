"""The upstream shapes stand alone, and the names of endpoints and credentials are written once."""

from __future__ import annotations

import subprocess
import sys

from gateway.settings import Settings
from mocks import DEMO_CREDENTIALS, SETTING_OF_ENDPOINT, Endpoints


def test_the_mocks_and_the_wire_models_import_without_the_connectors() -> None:
    code = ("import sys, mocks, mocks.payroll, mocks.tte, gateway.connectors.wire.bsre; "
            "loaded = sorted(m for m in sys.modules if m.startswith('gateway.connectors.') "
            "and not m.startswith('gateway.connectors.wire')); "
            "assert not loaded and 'tenacity' not in sys.modules, loaded")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_every_endpoint_and_credential_name_is_a_gateway_setting_and_the_defaults_agree() -> None:
    known = Settings.model_fields
    assert set(SETTING_OF_ENDPOINT.values()) | set(DEMO_CREDENTIALS) <= set(known)
    defaults = Endpoints()
    for field, setting in SETTING_OF_ENDPOINT.items():
        assert getattr(defaults, field) == known[setting].default
    assert set(Endpoints.loopback("127.0.0.1", 8000).urls()) == set(SETTING_OF_ENDPOINT)


def test_gateway_mock_serve_and_the_in_process_mocks_point_the_gateway_the_same_way() -> None:
    from gateway.bootstrap import mock_settings
    from gateway.cli._serve import gateway_env
    from mocks import MockWorld, Scenario

    endpoints = Endpoints.loopback("127.0.0.1", 8000)
    env = gateway_env(endpoints)
    world = MockWorld(Scenario.bundled("metro"), endpoints)
    settings = mock_settings(Settings(database_url="sqlite://"), world)
    for variable, value in env.items():
        current = getattr(settings, variable.removeprefix("GATEWAY_").lower())
        assert (current.get_secret_value() if hasattr(current, "get_secret_value") else current) == value
