"""The unit of work over SQL: the storage port of `workflows.unit_of_work`, on SQLite or
PostgreSQL, behaving like the in-memory reference (`workflows.memory`).

A transaction begins lazily at the first statement and ends with `commit()` or `rollback()`;
entering the unit of work again (as `bus.process` does for a rejection after a rollback)
simply runs the next transaction, and entering it while a transaction is open continues that
one, as the in-memory unit of work does. One unit of work serves one thread at a time.
Statements are SQLAlchemy Core on the SQLModel tables, mapped to the domain's dataclasses by
explicit functions, so nothing loads lazily.

Conflicts are retryable `ConcurrencyConflict`s, never lost updates: a stale order version, a
unique key another transaction took first, a lock wait that timed out, a deadlock.

The correlation id of recorded events is the id of the command being processed:
`inbox.claim(command_id)`, which `bus.process` calls first in each transaction, sets
`correlation_id`; a caller recording events without a claim may set it by hand. It is
cleared when the transaction ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

from sqlalchemy import Engine, Executable
from sqlalchemy.engine import Connection, CursorResult, NestedTransaction
from sqlalchemy.exc import DBAPIError

from workers.db import READ_ONLY
from workers.store_documents import SqlDocuments
from workers.store_events import EventRows, SqlHistory, event_rows, insert_rows, write_events
from workers.store_orders import SqlOrders
from workers.store_repos import (
    SqlExternalNumbers,
    SqlInbox,
    SqlNumbers,
    SqlParties,
    SqlRules,
)
from workflows.errors import ConcurrencyConflict, LockConflict
from workflows.events import Event
from workflows.setup import PostingAccounts
from workflows.unit_of_work import AbstractUnitOfWork

# PostgreSQL: unique violation, serialization failure, deadlock, lock timeout.
_PG_CONFLICTS = {"23505", "40001", "40P01", "55P03"}
# Deadlock, lock timeout: the waiting transaction must release its own locks to get past.
_PG_LOCKS = {"40P01", "55P03"}
_SQLITE_CONFLICTS = {
    "SQLITE_BUSY",
    "SQLITE_BUSY_SNAPSHOT",
    "SQLITE_BUSY_TIMEOUT",
    "SQLITE_LOCKED",
    "SQLITE_CONSTRAINT_PRIMARYKEY",
    "SQLITE_CONSTRAINT_UNIQUE",
}


def is_conflict(error: DBAPIError) -> bool:
    """Would the same command succeed if retried? (Someone else got there first.)"""
    state = getattr(error.orig, "sqlstate", None)
    if state is not None:
        return state in _PG_CONFLICTS
    return getattr(error.orig, "sqlite_errorname", None) in _SQLITE_CONFLICTS


def _conflict(error: DBAPIError) -> ConcurrencyConflict:
    detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    kind = (
        LockConflict if getattr(error.orig, "sqlstate", None) in _PG_LOCKS else ConcurrencyConflict
    )
    return kind(f"a concurrent transaction got in the way ({detail}); retry")


class SqlUnitOfWork(AbstractUnitOfWork):
    parties: SqlParties
    rules: SqlRules
    orders: SqlOrders
    documents: SqlDocuments
    numbers: SqlNumbers
    external_numbers: SqlExternalNumbers
    inbox: SqlInbox
    history: SqlHistory

    def __init__(
        self,
        engine: Engine,
        *,
        posting_accounts: dict[str, PostingAccounts] | None = None,
        read_only: bool = False,
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        if posting_accounts is not None:
            self.posting_accounts = posting_accounts
        self.read_only = read_only
        self.correlation_id: str | None = None
        self._connection: Connection | None = None
        self._in_batch = False
        self._savepoint: NestedTransaction | None = None
        # In a batch, events are inserted once at its end: those of the command in its
        # savepoint (`_staged`), and those of the commands already released (`_batched`).
        self._staged = EventRows()
        self._batched = EventRows()
        self.parties = SqlParties(self)
        self.rules = SqlRules(self)
        self.orders = SqlOrders(self)
        self.documents = SqlDocuments(self)
        self.numbers = SqlNumbers(self)
        self.external_numbers = SqlExternalNumbers(self)
        self.inbox = SqlInbox(self)
        self.history = SqlHistory(self)

    def __enter__(self) -> Self:
        if self._in_batch:
            try:
                self._savepoint = self.connection().begin_nested()
            except DBAPIError as error:
                if is_conflict(error):
                    raise _conflict(error) from error
                raise
        return self

    @contextmanager
    def batch(self) -> Iterator[Self]:
        """Group commit: several commands in one database transaction, each in a savepoint.

        Inside, `commit()` releases the command's savepoint and `rollback()` rolls back to it,
        so a refused or failing command leaves the others intact, while the batch pays for one
        real commit (one fsync on SQLite) instead of one per command. If the batch itself
        fails (the connection drops, the final commit conflicts), nothing of it is kept and
        the caller must redo all of it: the inbox makes the redo exact."""
        if self._in_batch or self._connection is not None:
            raise RuntimeError("a batch needs a unit of work with no open transaction")
        self.connection()
        self._in_batch = True
        try:
            yield self
        except BaseException:
            self._in_batch = False
            self._savepoint = None
            self._batched.clear()
            self._staged.clear()
            self.rollback()
            raise
        self._in_batch = False
        self._savepoint = None
        try:
            insert_rows(self, self._batched)
        except BaseException:
            self.rollback()
            raise
        finally:
            self._batched.clear()
            self._staged.clear()
        self.commit()

    @property
    def in_transaction(self) -> bool:
        return self._connection is not None

    def connection(self) -> Connection:
        """The connection of the current transaction, beginning one if none is open."""
        if self._connection is None:
            self._connection = self._begin()
        return self._connection

    def _begin(self) -> Connection:
        connection = None
        try:
            connection = self.engine.connect()
            if self.read_only:
                connection = connection.execution_options(**{READ_ONLY: True})
            connection.begin()
        except DBAPIError as error:
            if connection is not None:
                connection.close()
            if is_conflict(error):
                raise _conflict(error) from error
            raise
        return connection

    def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        try:
            return self.connection().execute(statement, parameters)
        except DBAPIError as error:
            if is_conflict(error):
                raise _conflict(error) from error
            raise

    def record_events(self, events: list[Event]) -> None:
        if self._in_batch:
            event_rows(self.correlation_id, events, self._staged)
        else:
            write_events(self, events)

    def commit(self) -> None:
        if self._in_batch:
            if self._savepoint is not None:
                savepoint, self._savepoint = self._savepoint, None
                savepoint.commit()
                self._batched.extend(self._staged)
                self._staged.clear()
            return
        connection = self._connection
        if connection is None:
            return
        try:
            connection.commit()
        except DBAPIError as error:
            if is_conflict(error):
                raise _conflict(error) from error
            raise
        finally:
            self._end(connection)

    def rollback(self) -> None:
        if self._in_batch:
            if self._savepoint is not None:
                savepoint, self._savepoint = self._savepoint, None
                if savepoint.is_active:
                    savepoint.rollback()
                self._staged.clear()
                # What this command loaded may have been changed in memory: reload it.
                self.orders.forget()
            return
        connection = self._connection
        if connection is None:
            return
        try:
            connection.rollback()
        except DBAPIError:
            # A connection that cannot even roll back is broken: drop it, and let the error
            # that led here (not this one) reach the caller.
            connection.invalidate()
        finally:
            self._end(connection)

    def _end(self, connection: Connection) -> None:
        self._connection = None
        self.correlation_id = None
        self.orders.forget()
        connection.close()
