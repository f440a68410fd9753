"""Shared fixtures. Store and outbox tests run on SQLite and, marked `postgres`, on PostgreSQL.

PostgreSQL comes from GATEWAY_TEST_DATABASE_URL (default: the local `test` database). Unreachable, it is
skipped on a developer's machine and fails the run when CI=true.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, text

from gateway.store import make_engine

PG_URL = os.environ.get("GATEWAY_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class FakeClock:
    """An injected clock: tests move time forward instead of sleeping."""

    def __init__(self, start: datetime = datetime(2026, 4, 2, 1, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# A schema of this test process's own, so that parallel runs on one database never see each other's tables.
PG_SCHEMA = f"gateway_test_{os.getpid()}"


def _reset_postgres(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    finally:
        engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{PG_SCHEMA}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    try:
        return _reset_postgres(PG_URL)
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not reachable"
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI and is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this process's PostgreSQL schema, if one was made."""
    try:
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        engine.dispose()
    except Exception:  # noqa: BLE001, S110 - nothing to clean when PostgreSQL is not there
        pass
