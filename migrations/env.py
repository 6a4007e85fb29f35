"""Alembic environment. The URL comes from `workers.db.upgrade(url)` (as a config attribute),
else from `sqlalchemy.url` in alembic.ini, else from PREPAY_DATABASE_URL. A caller may also
hand over an open connection as `config.attributes["connection"]`."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from workers.db import database_url, make_engine, normalize_url

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    given = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    url = normalize_url(given or database_url())
    return url.render_as_string(hide_password=False)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite alters tables by copying them; batch mode does that for later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
