"""The relay against a real broker and database: it publishes while a worker holds the SQLite
write lock (removing published rows waits, publishing does not), and on PostgreSQL it finds
rows that became visible below ids already published because their transaction committed
late."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pika
import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.engine import Connection

from schemas.tables import OUTBOX
from workers import topology
from workers.config import Settings
from workers.db import READ_ONLY
from workers.outbox import pending_count
from workers.relay import RELAY_LOCK_KEY, Relay, removable

pytestmark = pytest.mark.integration


@pytest.fixture
def amqp_url() -> str:
    url = Settings().amqp_url
    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
    except Exception as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"RabbitMQ at {url} is unreachable: {error!r}")
        pytest.skip(f"RabbitMQ at {url} is unreachable: {error!r}")
    return url


class Sink:
    """The ids of the events published about `subjects`, in the order they arrive."""

    def __init__(self, amqp_url: str, subjects: set[str]) -> None:
        self.subjects = subjects
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = self.connection.channel()
        topology.declare(channel, Settings().shards)
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, topology.EVENTS, "#")
        channel.basic_consume(queue, self._on_message, auto_ack=True)
        self.ids: list[str] = []

    def _on_message(self, _channel: Any, _method: Any, properties: Any, _body: bytes) -> None:
        if (properties.headers or {}).get("subject") in self.subjects:
            self.ids.append(properties.message_id)

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.ids) < count:
            assert time.monotonic() < deadline, f"{len(self.ids)} of {count} events arrived"
            self.connection.process_data_events(time_limit=0.05)

    def close(self) -> None:
        self.connection.close()


@contextmanager
def running_relay(engine: Engine, amqp_url: str) -> Iterator[Relay]:
    relay = Relay(engine, amqp_url, batch=50, idle_wait_s=0.01)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        relay.shutdown()
        thread.join(10)
        assert not thread.is_alive(), "the relay did not stop"


def add_events(connection: Connection, subject: str, count: int) -> list[str]:
    """Outbox rows as a worker's transaction writes them; returns their event ids."""
    ids = [uuid.uuid4() for _ in range(count)]
    now = datetime.now(UTC)
    connection.execute(
        insert(OUTBOX),
        [
            {
                "event_id": event_id,
                "type": "order.created",
                "subject": subject,
                "correlation_id": f"cmd-{subject}",
                "stored_payload": f'{{"n":{n}}}',
                "created_at": now,
            }
            for n, event_id in enumerate(ids)
        ],
    )
    return [str(event_id) for event_id in ids]


def pending(engine: Engine) -> int:
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        return pending_count(connection)


def leader_locks(engine: Engine) -> int:
    """Sessions holding this schema's relay lock (`workers.relay`: key, hash of the schema)."""
    with engine.connect() as connection:
        held: int = connection.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid::bigint = :key"
                " AND objid::bigint = (hashtext(current_schema())::bigint & 4294967295)"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": RELAY_LOCK_KEY},
        ).scalar_one()
        return held


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_publishing_goes_on_while_a_worker_holds_the_sqlite_write_lock(
    sqlite_engine: Engine, amqp_url: str
) -> None:
    subjects = [f"SO-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    with sqlite_engine.begin() as connection:
        first = add_events(connection, subjects[0], 120)
    sink = Sink(amqp_url, set(subjects))
    try:
        with running_relay(sqlite_engine, amqp_url), sqlite_engine.connect() as worker:
            sink.wait_for(120)
            wait_for(lambda: pending(sqlite_engine) == 0, 10, "the first events removed")
            # A worker commits batch after batch, taking the write lock again at once.
            second = add_events(worker, subjects[1], 80)
            worker.commit()
            worker.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock again
            sink.wait_for(200, timeout=3)
            time.sleep(0.3)  # the relay tries to remove and finds the lock taken, again and again
            assert pending(sqlite_engine) == 80, "removed while the lock was held?"
            third = add_events(worker, subjects[2], 40)
            worker.commit()
            worker.execute(text("SELECT 1"))
            sink.wait_for(240, timeout=3)  # published although the removals are still waiting
            # The 80 may have been removed in the instant between that commit and the next
            # BEGIN; the 40 were confirmed under the lock and cannot have been.
            assert pending(sqlite_engine) in (40, 120)
            worker.rollback()
            wait_for(lambda: pending(sqlite_engine) == 0, 10, "the removals after the lock")
    finally:
        sink.close()
    assert sink.ids == first + second + third  # in the order recorded, once each


def test_rows_committed_late_go_out_before_later_events_of_their_order_on_postgresql(
    pg_engine: Engine, amqp_url: str
) -> None:
    """Two workers: one order's transaction takes the lower ids but commits after another
    order's; its order's next events must still follow it, not overtake it."""
    slow, quick = f"SO-{uuid.uuid4().hex[:8]}", f"SO-{uuid.uuid4().hex[:8]}"
    sink = Sink(amqp_url, {slow, quick})
    late = pg_engine.connect()
    try:
        with running_relay(pg_engine, amqp_url):
            late.begin()
            slow_first = add_events(late, slow, 3)  # takes the lower ids, commits last
            with pg_engine.begin() as connection:
                quick_ids = add_events(connection, quick, 5)
            sink.wait_for(5)
            late.commit()
            with pg_engine.begin() as connection:  # the slow order's next command
                slow_next = add_events(connection, slow, 2)
            sink.wait_for(10)
            wait_for(lambda: pending(pg_engine) == 0, 10, "every row removed")
    finally:
        late.close()
        sink.close()
    assert sink.ids == quick_ids + slow_first + slow_next


def test_ids_sqlite_gives_again_once_the_outbox_emptied_are_published(
    sqlite_engine: Engine, amqp_url: str
) -> None:
    """Without AUTOINCREMENT SQLite numbers a new row after the highest one left: once the
    relay removed every published row, new events get ids the relay has already passed."""
    first_subject, second_subject = f"SO-{uuid.uuid4().hex[:8]}", f"SO-{uuid.uuid4().hex[:8]}"
    sink = Sink(amqp_url, {first_subject, second_subject})
    try:
        with running_relay(sqlite_engine, amqp_url):
            with sqlite_engine.begin() as connection:
                add_events(connection, first_subject, 30)
            sink.wait_for(30)
            wait_for(lambda: pending(sqlite_engine) == 0, 10, "the first events removed")
            with sqlite_engine.begin() as connection:
                assert connection.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 0
                again = add_events(connection, second_subject, 5)
                reused = connection.execute(text("SELECT min(id) FROM outbox")).scalar_one()
            assert reused == 1
            sink.wait_for(35)
    finally:
        sink.close()
    assert sink.ids[30:] == again


def test_a_relay_that_ends_leaves_the_leadership_free_on_postgresql(
    pg_engine: Engine, amqp_url: str
) -> None:
    """The leader holds a session-level advisory lock on its writer connection; a writer
    handed back to the pool would keep holding it, and the next relay, given that
    connection as its reader, could never lead."""
    subject = f"SO-{uuid.uuid4().hex[:8]}"
    sink = Sink(amqp_url, {subject})
    try:
        with running_relay(pg_engine, amqp_url):
            with pg_engine.begin() as connection:
                first = add_events(connection, subject, 3)
            sink.wait_for(3)
        # The server lets go when it notices the connection closed: a moment later at most.
        wait_for(lambda: leader_locks(pg_engine) == 0, 5, "the ended relay's lock released")
        with running_relay(pg_engine, amqp_url):
            with pg_engine.begin() as connection:
                second = add_events(connection, subject, 2)
            sink.wait_for(5, timeout=5)
    finally:
        sink.close()
    assert sink.ids == first + second


def test_events_about_no_order_stay_marked_and_the_others_are_deleted(
    sqlite_engine: Engine, amqp_url: str
) -> None:
    """An event about no order (a refused setup command's answer) has no history row: its
    outbox row is its one stored copy, so the relay marks it published instead of deleting."""
    subject = f"SO-{uuid.uuid4().hex[:8]}"
    sink = Sink(amqp_url, {subject})
    try:
        with running_relay(sqlite_engine, amqp_url):
            with sqlite_engine.begin() as connection:
                about_order = add_events(connection, subject, 2)
                connection.execute(
                    insert(OUTBOX),
                    {
                        "event_id": uuid.uuid4(),
                        "type": "command.rejected",
                        "subject": None,
                        "stored_payload": "{}",
                        "created_at": datetime.now(UTC),
                    },
                )
            sink.wait_for(2)
            wait_for(lambda: pending(sqlite_engine) == 0, 10, "every row settled")
    finally:
        sink.close()
    assert sink.ids == about_order
    with sqlite_engine.connect() as connection:
        left = connection.execute(text("SELECT type, published_at FROM outbox")).all()
    assert [(kind, published is not None) for kind, published in left] == [
        ("command.rejected", True)
    ]


def test_sqlite_gives_the_highest_id_again_once_deleted_so_the_cursor_row_waits(
    sqlite_engine: Engine,
) -> None:
    """Why the relay keeps the row at its cursor while earlier rows are in flight: deleted,
    its id goes to the next event, which a fetch after the cursor would pass over."""
    with sqlite_engine.begin() as connection:
        add_events(connection, "SO-1", 3)
        connection.execute(text("DELETE FROM outbox WHERE id = 3"))
        add_events(connection, "SO-1", 1)
        ids = connection.execute(text("SELECT id FROM outbox ORDER BY id")).scalars().all()
    assert ids == [1, 2, 3]
    # Rows 1 and 2 in flight, 3 (the cursor) confirmed first: 3 waits.
    assert removable([3], 3, sqlite=True, busy=True) == ([], [3])
    assert removable([2, 3], 3, sqlite=True, busy=True) == ([2], [3])
    assert removable([2, 3], 3, sqlite=True, busy=False) == ([2, 3], [])
    assert removable([2, 3], 3, sqlite=False, busy=True) == ([2, 3], [])  # ids never reused
    assert removable([1, 2], 3, sqlite=True, busy=True) == ([1, 2], [])
