"""Connectors: one module per upstream on one shared HTTP base. They know HTTP and the domain, not the database."""

from gateway.connectors.bkn import BknAuth, BknClient, BknCredentials, Page
from gateway.connectors.hr import HrClient
from gateway.connectors.payroll import PayrollClient
from gateway.connectors.tte import TteClient

__all__ = ["BknAuth", "BknClient", "BknCredentials", "HrClient", "Page", "PayrollClient", "TteClient"]
