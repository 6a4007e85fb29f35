"""The unit of work over SQL: the storage port of `workflows.unit_of_work`, on SQLite or
PostgreSQL, behaving like the in-memory reference (`workflows.memory`).

A transaction begins lazily at the first statement and ends with `commit()` or `rollback()`;
entering the unit of work again (as `bus.process` does for a rejection after a rollback)
simply runs the next transaction, and entering it while a transaction is open continues that
one, as the in-memory unit of work does. One unit of work serves one thread at a time.
Statements are SQLAlchemy Core on the SQLModel tables, mapped to the domain's dataclasses by
explicit functions, so nothing loads lazily.

Reads go to the database when asked (and are remembered for the transaction); writes are held
back (`workers.store_writes`) and sent at commit, one statement per table. So a stale order
version or a key another transaction took first surfaces at `commit()` (as a conflict), not at
`orders.save()`, as with any ORM's flush.

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
from types import TracebackType
from typing import Any, Self

import psycopg
from sqlalchemy import Engine, Executable
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import DBAPIError

from workers.db import READ_ONLY
from workers.store_documents import SqlDocuments
from workers.store_events import SqlHistory, event_rows, insert_rows
from workers.store_orders import SqlOrders
from workers.store_repos import (
    SqlExternalNumbers,
    SqlInbox,
    SqlNumbers,
    SqlParties,
    SqlRules,
)
from workers.store_writes import Writes
from workflows.errors import ConcurrencyConflict, DomainError, LockConflict
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


@contextmanager
def _conflicts_retryable() -> Iterator[None]:
    """A driver error that means "someone else got there first" becomes a conflict."""
    try:
        yield
    except DBAPIError as error:
        if is_conflict(error):
            raise _conflict(error) from error
        raise


class BatchAbandoned(Exception):
    """A command of a batch failed in a way that may have left an order half-changed in
    memory (a bug, not a refusal): nothing of the batch was kept, and its commands must be
    redone one transaction each, so that only the failing one is affected."""


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
        self._abandoned = False
        self._custom_plans = False
        # The writes of the command being handled, and those of the transaction's commands
        # already committed (several in a batch); reads look at both before the database.
        self.staged = Writes()
        self.held = Writes()
        self.parties = SqlParties(self)
        self.rules = SqlRules(self)
        self.orders = SqlOrders(self)
        self.documents = SqlDocuments(self)
        self.numbers = SqlNumbers(self)
        self.external_numbers = SqlExternalNumbers(self)
        self.inbox = SqlInbox(self)
        self.history = SqlHistory(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._in_batch and not isinstance(exc, DomainError | ConcurrencyConflict | None):
            self._abandoned = True  # a bug may have changed an order it had loaded
        self.rollback()

    @contextmanager
    def batch(self) -> Iterator[Self]:
        """Group commit: several commands in one database transaction.

        Inside, `commit()` keeps the command's writes for the batch and `rollback()` drops
        them, so a refused command leaves the others intact, while the batch pays for one
        set of statements and one real commit (one fsync) instead of one per command. If the
        batch itself fails (the connection drops, the final commit conflicts), nothing of it
        is kept and the caller must redo all of it: the inbox makes the redo exact. If one of
        its commands failed unexpectedly, `BatchAbandoned` says to redo them one by one."""
        if self._in_batch or self._connection is not None:
            raise RuntimeError("a batch needs a unit of work with no open transaction")
        self._in_batch = True
        try:
            yield self
            if self._abandoned:
                raise BatchAbandoned("a command of the batch failed unexpectedly")
        except BaseException:
            self._in_batch = False
            self._abandoned = False
            self._discard()
            raise
        self._in_batch = False
        self.commit()

    def prefetch(self, command_ids: list[str], order_ids: list[str]) -> None:
        """Load what a batch's commands will read (their inbox records and orders) with one
        query each, instead of one query per command."""
        with self.planned_for_their_lists():
            self.inbox.prefetch(command_ids)
            self.orders.prefetch(order_ids)

    @contextmanager
    def planned_for_their_lists(self) -> Iterator[None]:
        """PostgreSQL plans the reads inside for the list of ids they are given.

        The driver prepares a statement it runs often, and the server may then settle on one
        generic plan for it. A read by a list of ids (`= ANY(:ids)`) prepared while its table
        was nearly empty keeps the plan made for that, a sequential scan comparing every row
        with every id, until the table's statistics change (autovacuum's analyze: a minute or
        more on a new database). Measured on a fresh database, 20,000 commands in batches of
        200: reading a batch's orders took 15-18 ms with the generic plan, 1.3-1.8 ms planned
        each time, and the server's CPU per command fell from 246-268 to 176-191 us. Writes
        keep their generic plans: re-planning every row of an `executemany` costs more than
        it saves."""
        if self.dialect != "postgresql" or self._custom_plans:
            yield
            return
        connection = self.connection()
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
        self._custom_plans = True
        try:
            yield
        finally:
            self._custom_plans = False
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = DEFAULT")

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
        with _conflicts_retryable():
            return self.connection().execute(statement, parameters)

    def execute_driver_sql(self, sql: str, parameters: list[tuple[Any, ...]]) -> int:
        """A statement in the driver's own dialect, run for each tuple of `parameters`;
        returns the rows it changed in all."""
        with _conflicts_retryable():
            return self.connection().exec_driver_sql(sql, parameters).rowcount

    def copy_rows(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """PostgreSQL's `COPY ... FROM STDIN` of `rows`, in the current transaction. The
        driver's errors come out as SQLAlchemy's, like those of every other statement (a
        lost connection is an OperationalError, a taken key a conflict)."""
        driver: psycopg.Connection[Any] | None = self.connection().connection.driver_connection
        assert driver is not None, "a connection in a transaction has its driver connection"
        try:
            with driver.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as error:
            dialect = self.engine.dialect
            wrapped = DBAPIError.instance(sql, None, error, psycopg.Error, dialect=dialect)
            if isinstance(wrapped, DBAPIError) and is_conflict(wrapped):
                raise _conflict(wrapped) from error
            raise wrapped from error

    def record_events(self, events: list[Event]) -> None:
        event_rows(self.correlation_id, events, self.staged.events)

    def commit(self) -> None:
        self.held.absorb(self.staged)
        self.staged.clear()
        self.correlation_id = None
        if self._in_batch:
            return
        try:
            self._flush(self.held)
            connection = self._connection
            if connection is not None:
                connection.commit()
        except DBAPIError as error:
            self._discard()
            if is_conflict(error):
                raise _conflict(error) from error
            raise
        except BaseException:
            self._discard()
            raise
        self._end()

    def rollback(self) -> None:
        if self._in_batch:
            if self.staged.orders:
                self._abandoned = True  # an order of the batch may be half-changed
            self.staged.clear()
            self.correlation_id = None
            return
        self._discard()

    def _flush(self, writes: Writes) -> None:
        """Send held writes, one statement per table, parents before children."""
        self.inbox.flush(writes.inbox)
        self.parties.flush(writes.parties)
        self.rules.flush(writes.rules)
        self.orders.flush(writes.orders)
        self.numbers.flush(writes.numbers)
        self.external_numbers.flush(writes.external_numbers)
        self.documents.flush(writes.documents, writes.payments)
        insert_rows(self, writes.events)

    def _discard(self) -> None:
        """End the transaction keeping nothing."""
        connection = self._connection
        if connection is not None:
            try:
                connection.rollback()
            except DBAPIError:
                # A connection that cannot even roll back is broken: drop it, and let the
                # error that led here (not this one) reach the caller.
                connection.invalidate()
        self._end()

    def _end(self) -> None:
        self.staged.clear()
        self.held.clear()
        self.correlation_id = None
        for repository in (self.orders, self.inbox, self.parties, self.rules, self.numbers):
            repository.forget()
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
