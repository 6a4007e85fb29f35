"""Sending commands the way the contract asks upstream systems to: a CloudEvents envelope on
`prepay.commands`, routing key = type, the `subject` header as the ordering key.

Publishes are confirmed and `mandatory`: when this returns, the broker has taken the message
into a queue (a nack or an unroutable return raises `PublishFailed`), so `prepay publish` never
reports an id the service will not see.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pika
from pika.exceptions import NackError, UnroutableError

from workers import topology
from workers.amqp import connect

CONTENT_TYPE = "application/cloudevents+json"
SUBJECT_HEADER = "subject"
# Setup commands have no order: their party or item id keeps them in sequence instead.
_SUBJECT_FIELDS = ("order_id", "party_id", "item_id")


class PublishFailed(Exception):
    """The broker did not take the message (nacked, or no queue to route it to)."""


def subject_of(data: Mapping[str, Any]) -> str | None:
    for name in _SUBJECT_FIELDS:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def command_envelope(
    command_type: str,
    data: Mapping[str, Any],
    *,
    command_id: str | None = None,
    subject: str | None = None,
    source: str = "prepay-cli",
    time: datetime | None = None,
) -> dict[str, Any]:
    message_id = command_id or str(uuid.uuid4())
    return {
        "specversion": "1.0",
        "id": message_id,
        "source": source,
        "type": command_type,
        "time": (time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "subject": subject or subject_of(data),
        "datacontenttype": "application/json",
        "correlationid": message_id,
        "data": dict(data),
    }


def command_properties(envelope: Mapping[str, Any]) -> pika.BasicProperties:
    headers = {SUBJECT_HEADER: envelope["subject"]} if envelope.get("subject") else {}
    return pika.BasicProperties(
        content_type=CONTENT_TYPE,
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=envelope["id"],
        correlation_id=envelope.get("correlationid") or envelope["id"],
        type=envelope["type"],
        headers=headers,
    )


class CommandPublisher:
    """One confirmed channel on an open connection (not thread-safe, like pika)."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    def publish(
        self,
        command_type: str,
        data: Mapping[str, Any],
        *,
        command_id: str | None = None,
        subject: str | None = None,
        source: str = "prepay-cli",
    ) -> str:
        """Publish one command; returns its id."""
        envelope = command_envelope(
            command_type, data, command_id=command_id, subject=subject, source=source
        )
        body = json.dumps(envelope, separators=(",", ":")).encode()
        self.publish_raw(command_type, body, command_properties(envelope))
        return str(envelope["id"])

    def publish_raw(self, routing_key: str, body: bytes, properties: pika.BasicProperties) -> None:
        """Any body, e.g. a dead letter being replayed or a deliberately broken message."""
        try:
            self.channel.basic_publish(
                topology.COMMANDS, routing_key, body, properties, mandatory=True
            )
        except UnroutableError as error:
            raise PublishFailed(f"no queue took the {routing_key} message") from error
        except NackError as error:
            raise PublishFailed(f"the broker refused the {routing_key} message") from error


@contextmanager
def command_publisher(amqp_url: str, shards: int) -> Iterator[CommandPublisher]:
    """A publisher on a fresh connection; declares the topology first (idempotent), so a
    command sent before the service ever started waits in its shard queue."""
    connection = connect(amqp_url)
    try:
        channel = connection.channel()
        topology.declare(channel, shards)
        channel.confirm_delivery()
        yield CommandPublisher(channel)
    finally:
        if connection.is_open:
            connection.close()
