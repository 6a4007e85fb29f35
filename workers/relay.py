"""The outbox relay: publishes committed events to `prepay.events` with publisher confirms,
and marks them published only after the broker confirmed them.

A crash between the confirm and the mark re-sends those events on restart, with the same
`message_id` (the event id), so a consumer de-duplicating by id sees each event once. Only one
relay publishes at a time (a PostgreSQL advisory lock; on SQLite the one service process),
which keeps each order's events in the order they were recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pika
import structlog
from pika.exceptions import AMQPError
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from workers import topology
from workers.amqp import backoff_delays, connect
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
    return (
        json.dumps(head, separators=(",", ":"))[:-1] + ',"data":' + record.payload + "}"
    ).encode()


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
        idle_wait_s: float = 0.02,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.amqp_url = amqp_url
        self.batch = batch
        self.source = source
        self.idle_wait_s = idle_wait_s
        self.on_published = on_published or (lambda n: None)
        self.stop = threading.Event()
        self.wakeup = threading.Event()

    def run(self) -> None:
        """Publish until stopped, reconnecting to the broker and the database as needed."""
        delays = backoff_delays(self.stop)
        while not self.stop.is_set():
            try:
                self._run_connected()
                delays = backoff_delays(self.stop)
            except (AMQPError, SQLAlchemyError, OSError) as error:
                delay = next(delays, 0.0)
                log.warning("relay.reconnecting", error=str(error), retry_in_s=delay)
                self.stop.wait(delay)

    def _run_connected(self) -> None:
        connection = connect(self.amqp_url)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            with self.engine.connect() as db:
                while not self.stop.is_set():
                    if not self._is_leader(db):
                        self.stop.wait(1.0)
                        continue
                    published = self.publish_pending(channel, db)
                    if published == 0:
                        connection.process_data_events(time_limit=0)
                        self.wakeup.wait(self.idle_wait_s)
                        self.wakeup.clear()
        finally:
            if connection.is_open:
                connection.close()

    def _is_leader(self, db: Any) -> bool:
        if db.dialect.name != "postgresql":
            return True
        leader: bool = db.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": _RELAY_LOCK_KEY}
        ).scalar_one()
        db.commit()
        return leader

    def publish_pending(self, channel: Any, db: Any) -> int:
        """One batch: read pending rows, publish each (the broker confirms each before the next
        is sent), then mark them published in a separate short transaction."""
        records = fetch_batch(db, self.batch)
        db.commit()  # keep SQLite's write lock free while waiting for the broker
        if not records:
            return 0
        for record in records:
            channel.basic_publish(
                topology.EVENTS,
                record.type,
                envelope_body(record, self.source),
                properties(record),
                mandatory=True,
            )
        mark_published(db, [r.id for r in records])
        db.commit()
        self.on_published(len(records))
        return len(records)
