"""Database fixtures for the integration tests.

SQLite: a fresh file per test. PostgreSQL: `PREPAY_DATABASE_URL` (default
postgresql+psycopg://postgres@127.0.0.1:5432/test); each test session migrates its own
schema, every test starts from empty tables, and the schema is dropped at the end. Without a
reachable PostgreSQL the tests skip on a laptop but fail when CI=true: CI must never pass by
silently skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlmodel import SQLModel

from workers.db import create_all, make_engine, normalize_url, upgrade

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> URL:
    given = os.environ.get("PREPAY_DATABASE_URL", "")
    return normalize_url(given if given.startswith("postgres") else DEFAULT_PG_URL)


def with_search_path(url: URL, schema: str) -> URL:
    return url.update_query_dict({"options": f"-csearch_path={schema}"})


def _reachable(url: URL) -> str | None:
    """None if PostgreSQL answers, else why not."""
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        psycopg.connect(conninfo, connect_timeout=3).close()
    except psycopg.Error as error:
        return str(error).strip()
    return None


@pytest.fixture(scope="session")
def pg_url() -> Iterator[URL]:
    """A migrated schema of its own for this test session."""
    base = postgres_base_url()
    problem = _reachable(base)
    if problem is not None:
        message = f"PostgreSQL at {base.render_as_string()} is unreachable: {problem}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    schema = f"prepay_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = with_search_path(base, schema)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_session_engine(pg_url: URL) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(pg_session_engine: Engine) -> Engine:
    """The session's PostgreSQL engine, its tables emptied."""
    with pg_session_engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
    return pg_session_engine


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'prepay.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    create_all(engine)
    yield engine
    engine.dispose()
