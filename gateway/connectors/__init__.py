"""Connectors: one module per upstream on one shared HTTP base. They know HTTP and the domain, not the database.

The clients are loaded on first use (PEP 562), so that `gateway.connectors.wire`, the upstream shapes the mocks
share, imports on its own without the clients, httpx or tenacity behind it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.connectors.bkn import BknAuth, BknClient, BknCredentials, Page
    from gateway.connectors.hr import HrClient
    from gateway.connectors.payroll import PayrollClient
    from gateway.connectors.tte import TteClient

_WHERE = {"BknAuth": "bkn", "BknClient": "bkn", "BknCredentials": "bkn", "Page": "bkn", "HrClient": "hr",
          "PayrollClient": "payroll", "TteClient": "tte"}
__all__ = ["BknAuth", "BknClient", "BknCredentials", "HrClient", "Page", "PayrollClient", "TteClient"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"gateway.connectors.{module}"), name)
