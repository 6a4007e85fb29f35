"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import URL, Engine, inspect, text
from sqlmodel import SQLModel

from workers.db import alembic_config, make_engine, upgrade

pytestmark = pytest.mark.integration


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str | URL]:
    """A database migrated to head: a new SQLite file, or this session's PostgreSQL schema
    (which the session fixture migrated with `workers.db.upgrade`)."""
    if request.param == "sqlite":
        upgrade(sqlite_url)
        yield sqlite_url
    else:
        yield request.getfixturevalue("pg_url")


def test_models_and_migrations_agree(migrated_url: str | URL) -> None:
    engine = make_engine(migrated_url)
    try:
        assert _differences(engine) == []
        assert set(inspect(engine).get_table_names()) >= set(SQLModel.metadata.tables)
    finally:
        engine.dispose()


def test_the_comparison_would_see_a_difference(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_outbox_pending"))
        assert _differences(engine) != []
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    command.downgrade(alembic_config(sqlite_url), "base")
    engine = make_engine(sqlite_url)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade(sqlite_url)
        assert _differences(engine) == []
    finally:
        engine.dispose()
