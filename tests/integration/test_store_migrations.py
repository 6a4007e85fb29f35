"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import URL, Engine, inspect, text
from sqlmodel import SQLModel

from workers.db import alembic_config, make_engine, upgrade
from workers.event_json import encode_stored, encode_wire
from workers.outbox import fetch_batch
from workers.store import SqlUnitOfWork
from workflows.events import Event

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


def _pending(engine: Engine, columns: str) -> list[tuple[str | None, ...]]:
    with engine.connect() as connection:
        query = f"SELECT {columns} FROM outbox WHERE published_at IS NULL ORDER BY id"
        return [tuple(row) for row in connection.execute(text(query))]


def test_events_pending_across_the_outbox_change_are_published_in_wire_form(
    sqlite_url: str,
) -> None:
    """0003: a row pending at the upgrade holds wire JSON, which the new relay sends as it is;
    a new row leaves `payload` empty, which a relay of the version before cannot send; on a
    downgrade, pending rows get their wire form back in `payload`."""
    config = alembic_config(sqlite_url)
    data = {"amount": Decimal("-0.00"), "total": Decimal("1E+3"), "day": date(2026, 11, 28)}
    command.upgrade(config, "0002")
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO outbox (event_id, type, subject, payload, created_at) "
                    "VALUES (:id, 'a', 'SO-1', :payload, '2026-11-28 07:00:00.000000')"
                ),
                {"id": uuid.uuid4().hex, "payload": encode_wire(data)},
            )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            (before,) = fetch_batch(connection)
            index = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'ix_outbox_pending'")
            ).scalar_one()
        assert before.wire_payload() == encode_wire(data)
        assert index.endswith("ON outbox (id) WHERE published_at IS NULL")  # rebuilt alike

        with SqlUnitOfWork(engine) as uow:
            uow.record_events([Event("b", "SO-1", data)])
            uow.commit()
        assert _pending(engine, "payload, stored_payload")[1] == (None, encode_stored(data))

        command.downgrade(config, "0002")
        assert _pending(engine, "payload") == [(encode_wire(data),)] * 2
    finally:
        engine.dispose()


def test_rows_marked_published_before_0004_are_deleted_where_the_history_has_them(
    sqlite_url: str,
) -> None:
    """0004: the outbox keeps what waits, and the published events about no order (which
    have no history row); a relay of the version before may still mark rows, which the new
    relay skips."""
    config = alembic_config(sqlite_url)
    command.upgrade(config, "0003")
    engine = make_engine(sqlite_url)
    insert = text(
        "INSERT INTO outbox (event_id, type, subject, stored_payload, created_at, published_at) "
        "VALUES (:id, :type, :subject, '{}', '2026-11-28 07:00:00.000000', :published)"
    )
    sent = "2026-11-28 07:00:01.000000"
    rows = [("sent", "SO-1", sent), ("waiting", "SO-1", None), ("refused", None, sent)]
    try:
        with engine.begin() as connection:
            for kind, subject, published in rows:
                values = {"type": kind, "subject": subject, "published": published}
                connection.execute(insert, {"id": uuid.uuid4().hex, **values})
        command.upgrade(config, "head")
        with engine.connect() as connection:
            kinds = connection.execute(text("SELECT type FROM outbox ORDER BY id")).scalars()
            assert list(kinds) == ["waiting", "refused"]
            assert [r.type for r in fetch_batch(connection)] == ["waiting"]
        command.downgrade(config, "0003")  # nothing to restore: the history has them
        with engine.connect() as connection:
            kinds = connection.execute(text("SELECT type FROM outbox ORDER BY id")).scalars()
            assert list(kinds) == ["waiting", "refused"]
    finally:
        engine.dispose()
