"""Every exchange, queue and binding prepay uses, declared in this one place.

Commands arrive on the topic exchange `prepay.commands` (routing key = command type). An
exchange-to-exchange binding copies them into a consistent-hash exchange that hashes the
`subject` header (the order id), so all commands of one order land in the same shard queue.
Each shard queue is a quorum queue with a single active consumer: one consumer applies an
order's commands in publish order, however many workers stand by. What cannot be processed is
dead-lettered to `prepay.dead` with the reason in its headers."""

from __future__ import annotations

from typing import Any

from pika.exceptions import ChannelClosedByBroker

COMMANDS = "prepay.commands"
COMMANDS_SHARDED = "prepay.commands.sharded"
EVENTS = "prepay.events"
DEAD = "prepay.dead"
DEAD_LETTERS = "prepay.dead-letters"
# Events nobody has bound a queue for yet are kept here rather than dropped (the events
# exchange's alternate exchange), so the relay can publish with `mandatory` and still never
# lose or block on an event; the oldest are dropped beyond the cap.
UNROUTED = "prepay.events.unrouted"
UNROUTED_CAP = 100_000
# Beyond this many deliveries a message is poison: RabbitMQ dead-letters it itself.
DELIVERY_LIMIT = 50


def shard_queue(index: int) -> str:
    return f"prepay.commands.shard-{index}"


def declare(channel: Any, shards: int) -> None:
    """Idempotent: every process declares the whole topology at start."""
    channel.exchange_declare(COMMANDS, exchange_type="topic", durable=True)
    channel.exchange_declare(UNROUTED, exchange_type="fanout", durable=True)
    channel.queue_declare(UNROUTED, durable=True, arguments={"x-max-length": UNROUTED_CAP})
    channel.queue_bind(UNROUTED, UNROUTED)
    channel.exchange_declare(
        EVENTS, exchange_type="topic", durable=True, arguments={"alternate-exchange": UNROUTED}
    )
    channel.exchange_declare(DEAD, exchange_type="fanout", durable=True)
    channel.queue_declare(DEAD_LETTERS, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(DEAD_LETTERS, DEAD)
    _declare_sharded_exchange(channel)
    channel.exchange_bind(destination=COMMANDS_SHARDED, source=COMMANDS, routing_key="#")
    for index in range(shards):
        queue = shard_queue(index)
        channel.queue_declare(
            queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-single-active-consumer": True,
                "x-dead-letter-exchange": DEAD,
                "x-delivery-limit": DELIVERY_LIMIT,
            },
        )
        channel.queue_bind(queue, COMMANDS_SHARDED, routing_key="1")  # the shard's weight


class MissingPlugin(RuntimeError):
    """The broker lacks the consistent-hash exchange that keeps each order's commands in order."""


def _declare_sharded_exchange(channel: Any) -> None:
    try:
        channel.exchange_declare(
            COMMANDS_SHARDED,
            exchange_type="x-consistent-hash",
            durable=True,
            arguments={"hash-header": "subject"},
        )
    except ChannelClosedByBroker as error:
        if "x-consistent-hash" in str(error):
            raise MissingPlugin(
                "RabbitMQ has no x-consistent-hash exchange type: enable the plugin that ships "
                "with it (rabbitmq-plugins enable rabbitmq_consistent_hash_exchange)"
            ) from error
        raise


def shards_of(worker_index: int, worker_count: int, shards: int) -> list[int]:
    """The shard queues one worker of several consumes; together they cover every shard."""
    return [s for s in range(shards) if s % worker_count == worker_index % worker_count]
