"""The dead-letter queue as ops see it: list what is parked there and why, and replay it.

Listing takes messages with `basic.get` and hands every one back unacknowledged (nack with
requeue), so a look never loses or reorders anything for the next look. (RabbitMQ 4.0 to 4.2
count such returns against a quorum queue's delivery limit, 20 by default: on those versions
the dead-letter queue needs its limit lifted by a policy, or looks would wear letters out.)

Replaying publishes a copy to `prepay.commands` with the original routing key, type, id and
`subject` header (confirmed, mandatory) and only then acknowledges the dead letter: a crash in
between leaves the dead letter in place and the copy on its way, and the inbox makes a second
replay of the same command id a no-op.

Each dead letter is named by its `message_id`, or, for a body that came without one, by a
hash of the body (`sha256:` and 16 hex digits), so every listed letter can be replayed by name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pika

from workers import topology
from workers.amqp import connect
from workers.consumer import QUEUE_HEADER, REASON_HEADER
from workers.publishing import CommandPublisher

# Headers the dead-lettering added (ours and the broker's); a replay starts without them.
_DEAD_HEADERS = (REASON_HEADER, QUEUE_HEADER, "x-death", "x-delivery-count")
_DEAD_HEADER_PREFIXES = ("x-first-death-", "x-last-death-")
_UNKNOWN_ROUTING_KEY = "unknown"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    delivery_tag: int
    properties: pika.BasicProperties
    body: bytes
    received_with: str = ""  # the routing key the dead letter carries

    @property
    def headers(self) -> dict[str, Any]:
        return dict(self.properties.headers or {})

    @property
    def key(self) -> str:
        if self.properties.message_id:
            return str(self.properties.message_id)
        return "sha256:" + hashlib.sha256(self.body).hexdigest()[:16]

    @property
    def reason(self) -> str | None:
        reason = self.headers.get(REASON_HEADER)
        if reason is None:
            # Dead-lettered by the broker itself (delivery limit): say so from x-death.
            deaths = self.headers.get("x-death") or []
            if deaths and isinstance(deaths[0], dict):
                reason = f"broker: {_text(deaths[0].get('reason'))}"
        return None if reason is None else _text(reason)

    @property
    def routing_key(self) -> str:
        """The routing key the command was sent with (kept by the consumer when it parks a
        message, and by the broker when it dead-letters one itself), else its type (letters
        parked without a routing key)."""
        if self.received_with:
            return self.received_with
        if self.properties.type:
            return str(self.properties.type)
        try:
            envelope = json.loads(self.body)
        except ValueError:
            return _UNKNOWN_ROUTING_KEY
        kind = envelope.get("type") if isinstance(envelope, dict) else None
        return kind if isinstance(kind, str) and kind else _UNKNOWN_ROUTING_KEY

    def excerpt(self, limit: int = 200) -> str:
        text = self.body.decode("utf-8", errors="replace")
        return text if len(text) <= limit else text[:limit] + "…"

    def summary(self, excerpt_chars: int = 200) -> dict[str, Any]:
        return {
            "id": self.key,
            "type": self.properties.type,
            "routing_key": self.routing_key,
            "reason": self.reason,
            "queue": _optional_text(self.headers.get(QUEUE_HEADER)),
            "subject": _optional_text(self.headers.get("subject")),
            "correlation_id": self.properties.correlation_id,
            "body": self.excerpt(excerpt_chars),
        }

    def replay_properties(self) -> pika.BasicProperties:
        props = self.properties
        headers = {
            name: value
            for name, value in self.headers.items()
            if name not in _DEAD_HEADERS and not name.startswith(_DEAD_HEADER_PREFIXES)
        }
        return pika.BasicProperties(
            content_type=props.content_type,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=props.message_id,
            correlation_id=props.correlation_id,
            type=props.type,
            headers=headers,
        )


def _text(value: object) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


class DeadLetterQueue:
    """Operations on `prepay.dead-letters` over one confirmed channel."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    def count(self) -> int:
        declared = self.channel.queue_declare(topology.DEAD_LETTERS, passive=True)
        return int(declared.method.message_count)

    def replay(self, chosen: Callable[[DeadLetter], bool]) -> list[DeadLetter]:
        """Re-publish every chosen dead letter as a command, then remove it from the queue.
        Goes through the letters present when it starts (a replayed command that fails
        again comes back behind them and is not replayed twice)."""
        replayed: list[DeadLetter] = []
        publisher = CommandPublisher(self.channel)
        with self._taken(self.count()) as taken:
            for letter in taken.letters():
                if not chosen(letter):
                    continue
                publisher.publish_raw(letter.routing_key, letter.body, letter.replay_properties())
                taken.ack(letter)
                replayed.append(letter)
        return replayed

    def peek(self, limit: int = 100) -> list[DeadLetter]:
        """Up to `limit` dead letters, oldest first, all left in the queue."""
        with self._taken(limit) as taken:
            return list(taken.letters())

    @contextmanager
    def _taken(self, limit: int) -> Iterator[_Taken]:
        taken = _Taken(self.channel, limit)
        try:
            yield taken
        finally:
            taken.give_back()


class _Taken:
    """Dead letters taken one by one; whatever is not acknowledged goes back, in order."""

    def __init__(self, channel: Any, limit: int) -> None:
        self.channel = channel
        self.limit = limit
        self.taken = 0
        self.outstanding: set[int] = set()

    def letters(self) -> Iterator[DeadLetter]:
        while self.taken < self.limit:
            method, properties, body = self.channel.basic_get(topology.DEAD_LETTERS)
            if method is None:
                return
            self.taken += 1
            self.outstanding.add(method.delivery_tag)
            yield DeadLetter(method.delivery_tag, properties, body, method.routing_key or "")

    def ack(self, letter: DeadLetter) -> None:
        self.channel.basic_ack(letter.delivery_tag)
        self.outstanding.discard(letter.delivery_tag)

    def give_back(self) -> None:
        if self.outstanding and self.channel.is_open:
            # `multiple` covers every outstanding tag up to the highest; acked ones are gone.
            self.channel.basic_nack(max(self.outstanding), multiple=True, requeue=True)
        self.outstanding.clear()


@contextmanager
def dead_letter_queue(amqp_url: str, shards: int) -> Iterator[DeadLetterQueue]:
    connection = connect(amqp_url)
    try:
        channel = connection.channel()
        topology.declare(channel, shards)
        channel.confirm_delivery()
        yield DeadLetterQueue(channel)
    finally:
        if connection.is_open:
            connection.close()
