"""`prepay replay ORDER_ID`: publish an order's events again, for a downstream system that lost
them.

The order's history holds every event recorded about it with the id, correlation id and time
it was first published with; each is sent again exactly as the relay sent it (the same
envelope, `workers.relay.envelope_body` and `properties`), so a consumer that de-duplicates by
event id drops the ones it already has. Publishes are confirmed and `mandatory`, like the
relay's; the events exchange keeps what no queue takes (its alternate exchange).
"""

from __future__ import annotations

from collections.abc import Sequence

from pika.exceptions import NackError, UnroutableError
from sqlalchemy import Engine

from workers import topology
from workers.amqp import connect
from workers.event_json import encode_stored
from workers.outbox import OutboxRecord
from workers.relay import envelope_body, properties
from workers.store import SqlUnitOfWork
from workers.store_events import HistoryEntry


class ReplayFailed(Exception):
    """The broker did not take an event; the ones before it were sent."""


def history_records(engine: Engine, order_id: str, since: int = 0) -> list[OutboxRecord]:
    """The order's events as the relay would read them from the outbox, oldest first
    (`since`: only history entries with a higher sequence number)."""
    uow = SqlUnitOfWork(engine, read_only=True)
    with uow:
        entries = uow.history.entries(order_id)
    return [as_record(entry) for entry in entries if entry.sequence > since]


def as_record(entry: HistoryEntry) -> OutboxRecord:
    return OutboxRecord(
        id=entry.sequence,
        event_id=entry.event_id,
        type=entry.event.type,
        subject=entry.event.subject,
        correlation_id=entry.correlation_id,
        # Encoded as the outbox row was, so the relay's envelope is the one first published.
        stored_payload=encode_stored(entry.event.data),
        created_at=entry.created_at,
    )


def republish(amqp_url: str, shards: int, records: Sequence[OutboxRecord], source: str) -> int:
    connection = connect(amqp_url)
    try:
        channel = connection.channel()
        topology.declare(channel, shards)
        channel.confirm_delivery()
        for record in records:
            try:
                channel.basic_publish(
                    topology.EVENTS,
                    record.type,
                    envelope_body(record, source),
                    properties(record),
                    mandatory=True,
                )
            except (NackError, UnroutableError) as error:
                raise ReplayFailed(f"the broker refused event {record.event_id}") from error
        return len(records)
    finally:
        if connection.is_open:
            connection.close()
