"""The outbox relay: publishes committed events to `prepay.events` with publisher confirms,
and settles their outbox rows only after the broker confirmed them: deleted where the order
history holds the event, marked published where the event is about no order.

Confirms are asynchronous (pika's SelectConnection): batches are published as they commit,
the broker's acks arrive meanwhile (often one `multiple` ack for many), and confirmed rows are
settled a little later, in one transaction per interval. A nack or a return leaves the row
pending, to be sent again. A crash between the confirm and the removal re-sends those
events on restart with the same `message_id` (the event id), so a consumer de-duplicating by
id sees each event once. Only one relay publishes at a time (a PostgreSQL advisory lock; on
SQLite the one service process), which keeps each order's events in the order they were
recorded.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import pika
import structlog
from pika.exceptions import AMQPError
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from workers import faults, topology
from workers.amqp import SelectConnection, backoff_delays, parameters
from workers.db import READ_ONLY
from workers.outbox import OutboxRecord, fetch_batch, remove_marked, settle_published

log = structlog.get_logger("prepay.relay")

RELAY_LOCK_KEY = 0x70726570  # "prep": the advisory lock that elects the one relay
REMOVE_INTERVAL_S = 0.05  # confirmed rows are removed in one transaction per interval at most
LOCKED_RETRY_S = 0.005  # SQLite: the next try to remove after finding the write lock taken
MAX_IN_FLIGHT_BATCHES = 4  # batches published and not yet confirmed, at most
LEADER_RETRY_S = 1.0  # PostgreSQL: how often a relay that does not lead asks again
BUSY_TIMEOUT_AT_END_MS = 5000  # SQLite: the last removal of a session waits for the lock
_SQLITE_BUSY = 5


def envelope_body(record: OutboxRecord, source: str) -> bytes:
    """The CloudEvents envelope around the payload's wire form. orjson writes the id (a
    UUID) and the time (UTC as "Z") itself, as `str` and `isoformat` would."""
    head = {
        "specversion": "1.0",
        "id": record.event_id,
        "source": source,
        "type": record.type,
        "time": record.created_at,
        "subject": record.subject,
        "datacontenttype": "application/json",
        "correlationid": record.correlation_id,
    }
    body = orjson.dumps(head, option=orjson.OPT_UTC_Z)
    return body[:-1] + b',"data":' + record.wire_payload().encode() + b"}"


def properties(record: OutboxRecord) -> pika.BasicProperties:
    headers: dict[str, Any] = {"subject": record.subject} if record.subject else {}
    return pika.BasicProperties(
        content_type="application/cloudevents+json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=str(record.event_id),
        correlation_id=record.correlation_id,
        type=record.type,
        timestamp=int(record.created_at.timestamp()),
        headers=headers,
    )


class Relay:
    def __init__(
        self,
        engine: Engine,
        amqp_url: str,
        *,
        batch: int = 500,
        source: str = "prepay",
        idle_wait_s: float = 0.01,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.amqp_url = amqp_url
        self.batch = batch
        self.source = source
        self.idle_wait_s = idle_wait_s
        self.on_published = on_published or (lambda n: None)
        self.stop = threading.Event()
        self._session: _Session | None = None

    def kick(self) -> None:
        """Publish now rather than at the next poll (called after a batch commits)."""
        session = self._session
        if session is not None:
            session.kick()

    def shutdown(self) -> None:
        self.stop.set()
        self.kick()

    def run(self) -> None:
        """Publish until stopped, reconnecting to the broker and the database as needed."""
        delays = backoff_delays(self.stop)
        while not self.stop.is_set():
            session: _Session | None = None
            try:
                session = _Session(self)  # connects to the database: in the try, it may be away
                self._session = session
                session.run()
                delays = backoff_delays(self.stop)
            except (AMQPError, SQLAlchemyError, OSError) as error:
                delay = next(delays, 0.0)
                log.warning(
                    "relay.reconnecting", error=str(error) or type(error).__name__, retry_in_s=delay
                )
                self.stop.wait(delay)
            finally:
                self._session = None
                if session is not None:
                    session.remove_remaining()
                    session.close_database()


class _Session:
    """One broker connection's worth of relaying, driven by pika's I/O loop.

    On SQLite, publishing does not wait for removing. Writers take turns there (each holds the
    write lock from its first statement to its commit), so ids are committed in order, and the
    relay fetches the rows after the last one it handed to the broker (`cursor`) while earlier
    ones still await their confirms: an event leaves as soon as its transaction committed.
    Confirmed rows are removed at most every `REMOVE_INTERVAL_S`, without waiting for
    the write lock: a worker's batch holds it for tens of milliseconds, SQLite's busy handler
    sleeps in growing steps, and a relay waiting there published nothing for up to a second
    (measured). A removal that lags only means a re-send after a crash, which the ids make
    harmless.

    On PostgreSQL several workers commit concurrently, so a row can become visible below ids
    already published; a cursor would publish the next events of its order before it. There
    the relay settles before each fetch (everything in flight confirmed and removed) and
    fetches from the oldest pending row, which keeps each order's events in order. A nack or
    a return makes the SQLite relay do the same once, so nothing stays behind. What a nack
    cannot keep is the order around the nacked event: later events already sent (at most
    `MAX_IN_FLIGHT_BATCHES` batches) arrive before its re-send. RabbitMQ nacks only on an
    internal error of a queue, and the relay logs each one (`relay.nacked`).
    """

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.reader: Connection = relay.engine.connect().execution_options(**{READ_ONLY: True})
        try:
            self.writer: Connection = relay.engine.connect()
        except SQLAlchemyError:
            self.reader.close()
            raise
        self.sqlite = self.writer.dialect.name == "sqlite"
        self.channel: Any = None
        self.next_tag = 0
        self.cursor = 0  # the highest outbox id handed to the broker in this session
        self.in_flight: dict[int, tuple[int, str]] = {}  # delivery tag -> (row id, event id)
        self.confirmed: list[int] = []  # confirmed by the broker, not yet removed
        self.no_history: set[int] = set()  # rows handed over whose event is about no order
        self.returned: set[str] = set()
        self.resend = False
        self.timer: Any = None
        self.timer_due = 0.0
        self.remove_timer: Any = None
        self.leader = False
        self.next_leader_try = 0.0
        self.closing = False
        self.failure: BaseException | None = None
        try:
            self.connection = SelectConnection(
                parameters(relay.amqp_url),
                on_open_callback=lambda c: c.channel(on_open_callback=self._on_channel),
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_closed,
            )
        except BaseException:
            self.close_database()
            raise
        if self.sqlite:  # the relay's own connection: a held lock is retried, not waited for
            self._busy_timeout(0)

    def run(self) -> None:
        try:
            self.connection.ioloop.start()
        finally:
            self.connection.ioloop.close()
        if self.failure is not None:
            raise self.failure

    def kick(self) -> None:
        try:
            self.connection.ioloop.add_callback_threadsafe(lambda: self._schedule(0))
        except Exception:  # the loop is closing; the next session publishes
            return

    def remove_remaining(self) -> None:
        """The session ends (a reconnect, a stop): remove what the broker confirmed, waiting for
        the lock this time, so that a reconnect does not send those events again."""
        if not self.confirmed:
            return
        try:
            if self.sqlite:
                self._busy_timeout(BUSY_TIMEOUT_AT_END_MS)
            self._settle(self.confirmed)
            self.writer.commit()
            self.confirmed = []
        except Exception as error:  # best effort, the session is over: those events go out again
            log.warning("relay.unremoved", count=len(self.confirmed), error=str(error))

    def close_database(self) -> None:
        """The writer is never handed back to the pool: on SQLite its busy timeout was
        changed, on PostgreSQL it holds the relay's session-level advisory lock (a pooled
        connection holding it would keep every relay, this one included, from leading)."""
        try:
            self.reader.close()
        except SQLAlchemyError:
            self.reader.invalidate()
        self.writer.invalidate()

    def _busy_timeout(self, milliseconds: int) -> None:
        driver: Any = self.writer.connection.driver_connection
        driver.execute(f"PRAGMA busy_timeout={int(milliseconds)}")

    def _on_closed(self, connection: Any, reason: BaseException) -> None:
        self._note_unexpected_close(reason)
        connection.ioloop.stop()

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        self._note_unexpected_close(reason)
        self.channel = None
        self._close()

    def _note_unexpected_close(self, reason: BaseException) -> None:
        """The broker closed the connection or the channel: unless we are stopping, that is a
        failure, so the next session comes after a back-off, not at once."""
        if self.failure is None and not self.relay.stop.is_set() and not self.closing:
            self.failure = reason if isinstance(reason, AMQPError) else AMQPError(str(reason))

    def _on_open_error(self, connection: Any, error: BaseException) -> None:
        self.failure = error if isinstance(error, AMQPError | OSError) else AMQPError(str(error))
        connection.ioloop.stop()

    def _on_channel(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_return_callback(self._on_return)
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._schedule(0))
        log.info("relay.started")

    def _schedule(self, delay: float) -> None:
        """Publish after `delay`, or sooner if already planned sooner (a kick must not wait
        behind an idle poll)."""
        due = time.monotonic() + delay
        if self.timer is not None:
            if self.timer_due <= due:
                return
            self.connection.ioloop.remove_timeout(self.timer)
        self.timer_due = due
        self.timer = self.connection.ioloop.call_later(delay, self._publish_batch)

    def _publish_batch(self) -> None:
        self.timer = None
        try:
            if self.relay.stop.is_set():
                self._finish()
                return
            if (
                self.closing
                or self.channel is None
                or not self.channel.is_open
                or len(self.in_flight) >= MAX_IN_FLIGHT_BATCHES * self.relay.batch
            ):
                return  # the confirms schedule the next one (or the session is ending)
            if not self._ready_to_fetch():
                return
            if not self._is_leader():
                self._schedule(max(0.0, self.next_leader_try - time.monotonic()))
                return
            records = fetch_batch(self.reader, self.relay.batch, self.cursor, lock=False)
            self.reader.commit()
            if not records:
                self._schedule(self.relay.idle_wait_s)
                return
            with self.connection.coalesced():
                for record in records:
                    self.next_tag += 1
                    props = properties(record)
                    self.in_flight[self.next_tag] = (record.id, props.message_id)
                    if record.subject is None:
                        self.no_history.add(record.id)
                    self.channel.basic_publish(
                        topology.EVENTS,
                        record.type,
                        envelope_body(record, self.relay.source),
                        props,
                        mandatory=True,
                    )
            self.cursor = records[-1].id
            self._schedule(0 if len(records) == self.relay.batch else self.relay.idle_wait_s)
        except SQLAlchemyError as error:
            self.failure = error
            self._close()

    def _ready_to_fetch(self) -> bool:
        """False while a fetch from the oldest pending row (always on PostgreSQL; on SQLite
        after a nack or a return) waits for what is in flight to be confirmed and removed; the
        confirms and the removal schedule the next attempt."""
        if self.sqlite and not self.resend:
            if not self.in_flight and not self.confirmed:
                # Nothing outstanding: the oldest pending row is as cheap a start, and SQLite
                # gives ids below the cursor again once the newest rows were removed.
                self.cursor = 0
            return True
        if self.in_flight or self.confirmed:
            if not self.in_flight:
                self._schedule_removal(0)
            return False
        self.cursor, self.resend = 0, False
        return True

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        last = method.delivery_tag
        tags = (
            list(itertools.takewhile(lambda t: t <= last, self.in_flight))
            if method.multiple
            else [last]
        )
        published = 0
        for tag in tags:
            row = self.in_flight.pop(tag, None)
            if row is None:
                continue
            row_id, event_id = row
            if acked and event_id not in self.returned:
                self.confirmed.append(row_id)
                published += 1
            else:
                self.resend = True
            self.returned.discard(event_id)
        if not acked:
            log.warning("relay.nacked", count=len(tags))
        self.relay.on_published(published)  # confirmed by the broker: out of our hands
        if self.sqlite:
            self._schedule_removal(REMOVE_INTERVAL_S)
        elif not self.in_flight:
            self._schedule_removal(0)
        self._schedule(0)

    def _on_return(self, _channel: Any, _method: Any, props: Any, _body: bytes) -> None:
        # Unroutable despite the alternate exchange: keep it pending and say so loudly.
        log.error("relay.returned", event_id=props.message_id, type=props.type)
        self.returned.add(props.message_id)

    def _schedule_removal(self, delay: float) -> None:
        if self.remove_timer is None and self.confirmed:
            self.remove_timer = self.connection.ioloop.call_later(delay, self._remove_confirmed)

    def _remove_confirmed(self) -> None:
        self.remove_timer = None
        busy = bool(self.in_flight)
        ids, withheld = removable(self.confirmed, self.cursor, sqlite=self.sqlite, busy=busy)
        if not ids:
            return
        try:
            faults.relay_crash.before_mark(len(ids))  # off unless a fault test sets it
            self._settle(ids)
            self.writer.commit()
        except OperationalError as error:
            if not (self.sqlite and _locked(error)):
                self.failure = error
                self._close()
                return
            try:
                self.writer.rollback()  # a worker holds the write lock: try again shortly
            except SQLAlchemyError as broken:
                self.failure = broken
                self._close()
                return
            self.remove_timer = self.connection.ioloop.call_later(
                LOCKED_RETRY_S, self._remove_confirmed
            )
            return
        except SQLAlchemyError as error:
            self.failure = error
            self._close()
            return
        self.confirmed = withheld
        self._schedule(0)

    def _settle(self, ids: list[int]) -> None:
        """Delete the rows of events the history holds, mark the others published."""
        kept = [x for x in ids if x in self.no_history]
        removed = [x for x in ids if x not in self.no_history] if kept else ids
        settle_published(self.writer, removed, kept=kept)
        self.no_history.difference_update(kept)

    def _finish(self) -> None:
        """Stopping: let the confirms arrive, remove their rows, then close."""
        if self.in_flight:
            return
        if self.confirmed:
            self._schedule_removal(0)
            return
        self._close()

    def _is_leader(self) -> bool:
        """On PostgreSQL, hold the session-level advisory lock for this connection's life."""
        if self.leader or self.sqlite:  # SQLite has one service process, hence one relay
            return True
        now = time.monotonic()
        if now < self.next_leader_try:  # a kick must not make a follower ask on every commit
            return False
        self.next_leader_try = now + LEADER_RETRY_S
        self.leader = self.writer.execute(
            # Keyed by schema too: two prepay setups in one database each get their relay.
            text("SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))"),
            {"key": RELAY_LOCK_KEY},
        ).scalar_one()
        if self.leader:
            # A relay of the version before 0004 may have led until now, marking rows.
            cleared = remove_marked(self.writer)
            if cleared:
                log.info("relay.cleared_marked_rows", count=cleared)
        self.writer.commit()
        return self.leader

    def _close(self) -> None:
        self.closing = True
        if self.connection.is_open:
            self.connection.close()
        elif not self.connection.is_closing:
            self.connection.ioloop.stop()


def removable(
    confirmed: list[int], cursor: int, *, sqlite: bool, busy: bool
) -> tuple[list[int], list[int]]:
    """(confirmed rows to settle now, rows to keep for later), `busy` while rows are in flight.

    SQLite numbers a new row after the highest one left, so deleting the row at the cursor
    (the highest id handed to the broker) while rows before it are still in flight (the
    broker may confirm out of order) would give the next events ids the cursor has passed:
    they would wait, and later events of their order would overtake them. That row waits
    until nothing is in flight; the next fetch then starts again from the oldest pending row."""
    if sqlite and busy and cursor in confirmed:
        return [x for x in confirmed if x != cursor], [cursor]
    return confirmed, []


def _locked(error: OperationalError) -> bool:
    """SQLite's "database is locked" (SQLITE_BUSY, extended codes included)."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == _SQLITE_BUSY
