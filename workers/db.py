"""Engines for the SQL store, and the schema: SQLite on one machine, PostgreSQL for many workers.

SQLite runs in WAL mode (readers never block the writer) with a busy timeout, and every write
transaction starts with BEGIN IMMEDIATE: it takes the write lock before the first read, so two
workers never both read an order and then race to write it; the second one waits instead.
`synchronous=FULL` by default because a command is acknowledged after its commit, and a commit
that a power cut can undo would break "nothing lost".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlmodel import SQLModel

import schemas.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_URL = "sqlite:///prepay.db"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# Execution option: a connection that only reads starts SQLite's transaction DEFERRED.
READ_ONLY = "prepay_read_only"


def database_url() -> str:
    return os.environ.get("PREPAY_DATABASE_URL", DEFAULT_URL)


def normalize_url(url: str | URL) -> URL:
    """PostgreSQL always through psycopg 3, whatever driver (or none) the URL names."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(
    url: str | URL,
    *,
    busy_timeout: float = 5.0,
    sqlite_synchronous: str = "FULL",
    lock_timeout_ms: int = 5000,
    **options: Any,
) -> Engine:
    """An engine with the settings the store relies on. `busy_timeout` (SQLite) and
    `lock_timeout_ms` (PostgreSQL) bound how long a write waits for a lock before the
    unit of work reports a retryable ConcurrencyConflict."""
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, busy_timeout, sqlite_synchronous, options)
    if backend == "postgresql":
        return _postgres_engine(parsed, lock_timeout_ms, options)
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def _sqlite_engine(url: URL, busy_timeout: float, synchronous: str, options: Any) -> Engine:
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"unknown SQLite synchronous setting {synchronous!r}")
    connect_args = {"timeout": busy_timeout, "check_same_thread": False}
    engine = create_engine(url, connect_args=connect_args, **options)
    pragmas = (
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={int(busy_timeout * 1000)}",
        f"PRAGMA synchronous={synchronous.upper()}",
        "PRAGMA foreign_keys=ON",
    )

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module (which would issue a deferred one lazily)
        # so that `on_begin` decides how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    def on_begin(connection: Connection) -> None:
        mode = "DEFERRED" if connection.get_execution_options().get(READ_ONLY) else "IMMEDIATE"
        connection.exec_driver_sql(f"BEGIN {mode}")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine


def _postgres_engine(url: URL, lock_timeout_ms: int, options: Any) -> Engine:
    # Merged into libpq's `options`, so a search_path given in the URL survives.
    server_options = f"-c lock_timeout={lock_timeout_ms}"
    given = url.query.get("options")
    if isinstance(given, str) and given:
        server_options = f"{given} {server_options}"
    url = url.update_query_dict({"options": server_options})
    connect_args = {"application_name": "prepay"}
    engine = create_engine(url, connect_args=connect_args, **options)
    # Many rows go through psycopg's executemany, which pipelines one prepared statement.
    # SQLAlchemy's alternative, one INSERT ... VALUES (...), (...) text per call, made psycopg
    # re-parse a new, long query text for every batch: a third of a batch's time (measured).
    engine.dialect.use_insertmanyvalues = False
    return engine


def create_all(engine: Engine) -> None:
    """Create the tables straight from the models (tests, quick local runs)."""
    SQLModel.metadata.create_all(engine)


def drop_all(engine: Engine) -> None:
    SQLModel.metadata.drop_all(engine)


def alembic_config(url: str | URL | None = None) -> Config:
    """Alembic configured in code: the migrations live in the top-level `migrations/`."""
    from alembic.config import Config  # imported here: workers start faster without it

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Passed as an attribute, not an ini option, so a URL with "%" needs no escaping.
    config.attributes["url"] = normalize_url(url or database_url())
    return config


def upgrade(url: str | URL | None = None, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (`prepay db upgrade`)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
