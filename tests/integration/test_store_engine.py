"""The engine settings the store relies on."""

from __future__ import annotations

import pytest
from sqlalchemy import URL, Engine, text

from workers.db import READ_ONLY, make_engine, normalize_url
from workers.store import SqlUnitOfWork
from workflows.errors import ConcurrencyConflict
from workflows.setup import Party

pytestmark = pytest.mark.integration


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
            for name in ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")
        }
    assert pragma == {
        "journal_mode": "wal",
        "busy_timeout": 5000,
        "synchronous": 2,
        "foreign_keys": 1,
    }


def test_sqlite_write_transactions_take_the_lock_up_front(
    sqlite_engine: Engine, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url, busy_timeout=0.05)  # sqlite_engine made the tables
    try:
        with SqlUnitOfWork(engine) as writer:
            writer.parties.get("C1")  # only a read, yet BEGIN IMMEDIATE holds the write lock
            with SqlUnitOfWork(engine) as other, pytest.raises(ConcurrencyConflict):
                other.parties.get("C1")
            with SqlUnitOfWork(engine, read_only=True) as reader:
                assert reader.parties.get("C1") is None  # readers are never blocked
            with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
                assert connection.execute(text("SELECT count(*) FROM orders")).scalar_one() == 0
    finally:
        engine.dispose()


def test_reads_see_only_committed_rows(sqlite_engine: Engine) -> None:
    with SqlUnitOfWork(sqlite_engine) as writer:
        writer.parties.upsert(Party("C1", "sales", "Customer"))
        with SqlUnitOfWork(sqlite_engine, read_only=True) as reader:
            assert reader.parties.get("C1") is None
        writer.commit()
    with SqlUnitOfWork(sqlite_engine, read_only=True) as reader:
        assert reader.parties.get("C1") is not None


def test_postgresql_urls_use_psycopg_3() -> None:
    for given in ("postgresql://u@h/db", "postgresql+psycopg2://u@h/db"):
        assert normalize_url(given).drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


def test_postgresql_sessions_keep_the_search_path_and_bound_lock_waits(pg_url: URL) -> None:
    engine = make_engine(pg_url, lock_timeout_ms=1500)
    try:
        with engine.connect() as connection:
            assert connection.dialect.driver == "psycopg"
            assert connection.execute(text("SHOW lock_timeout")).scalar_one() == "1500ms"
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        assert schema.startswith("prepay_test_")
    finally:
        engine.dispose()


def test_postgresql_lock_timeout_is_a_conflict(pg_engine: Engine, pg_url: URL) -> None:
    impatient = make_engine(pg_url, lock_timeout_ms=100)
    try:
        with SqlUnitOfWork(pg_engine) as first:
            assert first.numbers.next("sales.invoice") == 1  # locks the series
            with SqlUnitOfWork(impatient) as second, pytest.raises(ConcurrencyConflict):
                second.numbers.next("sales.invoice")  # waits for the first, then gives up
    finally:
        impatient.dispose()
