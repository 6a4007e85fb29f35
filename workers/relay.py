"""The outbox relay: publishes committed events to `prepay.events` with publisher confirms,
and marks them published only after the broker confirmed them.

Confirms are asynchronous (pika's SelectConnection): a whole batch is published, then the
broker's acks arrive (often one `multiple` ack for many), and the batch is marked published
when every message of it is confirmed. A nack or a return leaves the row pending, to be sent
again. A crash between the confirm and the mark re-sends those events on restart with the same
`message_id` (the event id), so a consumer de-duplicating by id sees each event once. Only one
relay publishes at a time (a PostgreSQL advisory lock; on SQLite the one service process),
which keeps each order's events in the order they were recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import orjson
import pika
import structlog
from pika.exceptions import AMQPError
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from workers import faults, topology
from workers.amqp import SelectConnection, backoff_delays, parameters
from workers.db import READ_ONLY
from workers.outbox import OutboxRecord, fetch_batch, mark_published

log = structlog.get_logger("prepay.relay")

_RELAY_LOCK_KEY = 0x70726570  # "prep": the advisory lock that elects the one relay


def envelope_body(record: OutboxRecord, source: str) -> bytes:
    """The CloudEvents envelope around the stored payload, which is already wire JSON."""
    head = {
        "specversion": "1.0",
        "id": str(record.event_id),
        "source": source,
        "type": record.type,
        "time": record.created_at.isoformat().replace("+00:00", "Z"),
        "subject": record.subject,
        "datacontenttype": "application/json",
        "correlationid": record.correlation_id,
    }
    return orjson.dumps(head)[:-1] + b',"data":' + record.payload.encode() + b"}"


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
                    session.close_database()


class _Session:
    """One broker connection's worth of relaying, driven by pika's I/O loop."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.reader: Connection = relay.engine.connect().execution_options(**{READ_ONLY: True})
        try:
            self.writer: Connection = relay.engine.connect()
        except SQLAlchemyError:
            self.reader.close()
            raise
        self.channel: Any = None
        self.next_tag = 0
        self.unconfirmed: dict[int, int] = {}  # delivery tag -> outbox row id
        self.confirmed: list[int] = []
        self.returned: set[str] = set()
        self.scheduled = False
        self.leader = False
        self.failure: BaseException | None = None
        self.connection = SelectConnection(
            parameters(relay.amqp_url),
            on_open_callback=lambda c: c.channel(on_open_callback=self._on_channel),
            on_open_error_callback=self._on_open_error,
            on_close_callback=lambda c, reason: c.ioloop.stop(),
        )

    def run(self) -> None:
        self.connection.ioloop.start()
        if self.failure is not None:
            raise self.failure

    def kick(self) -> None:
        try:
            self.connection.ioloop.add_callback_threadsafe(lambda: self._schedule(0))
        except Exception:  # the loop is closing; the next session publishes
            return

    def close_database(self) -> None:
        for connection in (self.reader, self.writer):
            try:
                connection.close()
            except SQLAlchemyError:
                connection.invalidate()

    def _on_open_error(self, connection: Any, error: BaseException) -> None:
        self.failure = error if isinstance(error, AMQPError | OSError) else AMQPError(str(error))
        connection.ioloop.stop()

    def _on_channel(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_return_callback(self._on_return)
        channel.add_on_close_callback(lambda ch, reason: self._close())
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._schedule(0))
        log.info("relay.started")

    def _schedule(self, delay: float) -> None:
        if not self.scheduled:
            self.scheduled = True
            self.connection.ioloop.call_later(delay, self._publish_batch)

    def _publish_batch(self) -> None:
        self.scheduled = False
        try:
            if self.relay.stop.is_set():
                if not self.unconfirmed:
                    self._close()
                return
            if self.unconfirmed or self.channel is None:
                return  # the confirms of the batch in flight schedule the next one
            if not self._is_leader():
                self._schedule(1.0)
                return
            records = fetch_batch(self.reader, self.relay.batch)
            self.reader.commit()
            if not records:
                self._schedule(self.relay.idle_wait_s)
                return
            with self.connection.coalesced():
                for record in records:
                    self.next_tag += 1
                    self.unconfirmed[self.next_tag] = record.id
                    self.channel.basic_publish(
                        topology.EVENTS,
                        record.type,
                        envelope_body(record, self.relay.source),
                        properties(record),
                        mandatory=True,
                    )
        except SQLAlchemyError as error:
            self.failure = error
            self._close()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        tags = (
            [t for t in self.unconfirmed if t <= method.delivery_tag]
            if method.multiple
            else [method.delivery_tag]
        )
        for tag in tags:
            row_id = self.unconfirmed.pop(tag, None)
            if row_id is not None and acked:
                self.confirmed.append(row_id)
        if not acked:
            log.warning("relay.nacked", count=len(tags))
        if not self.unconfirmed:
            self._mark_confirmed()

    def _on_return(self, _channel: Any, _method: Any, props: Any, _body: bytes) -> None:
        # Unroutable despite the alternate exchange: keep it pending and say so loudly.
        log.error("relay.returned", event_id=props.message_id, type=props.type)
        self.returned.add(props.message_id)

    def _mark_confirmed(self) -> None:
        ids, self.confirmed = self.confirmed, []
        if self.returned:
            self.returned.clear()
            ids = []  # which rows were returned is not worth tracking: resend the batch
        try:
            if ids:
                faults.relay_crash.before_mark(len(ids))  # off unless a fault test sets it
                mark_published(self.writer, ids)
                self.writer.commit()
                self.relay.on_published(len(ids))
        except SQLAlchemyError as error:
            self.failure = error
            self._close()
            return
        self._schedule(0)

    def _is_leader(self) -> bool:
        """On PostgreSQL, hold the session-level advisory lock for this connection's life."""
        if self.leader or self.writer.dialect.name != "postgresql":
            return True
        self.leader = self.writer.execute(
            # Keyed by schema too: two prepay setups in one database each get their relay.
            text("SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))"),
            {"key": _RELAY_LOCK_KEY},
        ).scalar_one()
        self.writer.commit()
        return self.leader

    def _close(self) -> None:
        if self.connection.is_open:
            self.connection.close()
        elif not self.connection.is_closing:
            self.connection.ioloop.stop()
