"""Persistence: SQLAlchemy 2.x Core tables, Alembic migrations applied on start-up, tenant-scoped repositories."""

from gateway.store import repository
from gateway.store.engine import make_engine, upgrade

__all__ = ["make_engine", "repository", "upgrade"]
