"""The RabbitMQ command consumer.

Why acks happen where they do: a delivery is acknowledged only after the transaction holding
its effects (inbox id, state, outbox events) committed, so a crash at any point leads to a
redelivery, which the inbox turns into a no-op. Deliveries are handled in the order they
arrive from a shard queue that has a single active consumer, so one order's commands take
effect in publish order. A message that cannot be read is re-published to the dead-letter
exchange with its reason (confirmed by the broker) before the original is acknowledged.
When the database stays unreachable beyond the in-place retries, or on a graceful stop, the
acks sent are settled (`amqp.settle_acks`) and the connection is dropped (`amqp.drop`, not
closed politely): the broker puts every unacknowledged delivery back at the head of its queue
in order, and we reconnect later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
import structlog
from pika.exceptions import AMQPError, ChannelClosed

from workers import topology
from workers.amqp import backoff_delays, connect, drop, settle_acks
from workers.processing import CommandProcessor, Result, TransientFailure

log = structlog.get_logger("prepay.consumer")

REASON_HEADER = "x-prepay-reason"
QUEUE_HEADER = "x-prepay-queue"


@dataclass(frozen=True, slots=True)
class Delivery:
    queue: str
    tag: int
    redelivered: bool
    properties: pika.BasicProperties
    body: bytes
    routing_key: str = ""


class CommandConsumer:
    def __init__(
        self,
        processor: CommandProcessor,
        amqp_url: str,
        queues: list[str],
        *,
        shards: int,
        prefetch: int = 200,
        batch_size: int = 50,
        batch_wait_s: float = 0.0,
        on_result: Callable[[Result, Delivery, float], None] | None = None,
        on_batch_committed: Callable[[], None] | None = None,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.processor = processor
        self.amqp_url = amqp_url
        self.queues = queues
        self.shards = shards
        self.prefetch = prefetch
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.on_result = on_result or (lambda result, delivery, seconds: None)
        self.on_batch_committed = on_batch_committed or (lambda: None)
        self.on_batch = on_batch or (lambda commands, seconds: None)  # once acked
        self.stop = threading.Event()
        self.connected = threading.Event()
        self._buffer: list[Delivery] = []

    def run(self) -> None:
        """Consume until `stop` is set; reconnect with back-off when the broker goes away."""
        delays = backoff_delays(self.stop)
        while not self.stop.is_set():
            try:
                self._consume()
                delays = backoff_delays(self.stop)
            except (AMQPError, OSError) as error:
                self.connected.clear()
                delay = next(delays, 0.0)
                log.warning(
                    "consumer.reconnecting",
                    error=str(error) or type(error).__name__,
                    retry_in_s=delay,
                )
                self.stop.wait(delay)
            except TransientFailure as error:
                self.connected.clear()
                delay = next(delays, 0.0)
                log.warning("consumer.paused", error=str(error), retry_in_s=delay)
                self.stop.wait(delay)

    def _consume(self) -> None:
        connection = connect(self.amqp_url)
        channel = None
        try:
            channel = connection.channel()
            topology.declare(channel, self.shards)
            dead_channel = connection.channel()
            dead_channel.confirm_delivery()
            channel.basic_qos(prefetch_count=self.prefetch)
            for queue in self.queues:
                channel.basic_consume(queue, self._collector(queue), auto_ack=False)
            self.connected.set()
            log.info("consumer.started", queues=self.queues)
            while not self.stop.is_set():
                connection.process_data_events(time_limit=self._time_to_wait())
                if not channel.is_open:  # closed by the broker: pika does not raise for it
                    raise ChannelClosed(0, "the broker closed the consuming channel")
                if self._buffer and self._batch_ready():
                    self._handle_batch(channel, dead_channel)
            # Graceful stop: finish what was taken, give the rest back (dropping the connection
            # returns every unacknowledged delivery to its queue, in order).
            if self._buffer:
                self._handle_batch(channel, dead_channel)
        finally:
            self.connected.clear()
            try:
                if channel is not None:
                    settle_acks(channel, self.prefetch)  # or the drop may undo the last ack
            finally:
                try:
                    drop(connection)  # not close(): `drop` says how that would reorder an order
                finally:
                    # Only now: until the connection is gone pika may still hand deliveries
                    # to `collect`, whose tags mean nothing (or another delivery) on the next.
                    self._buffer.clear()

    def _collector(self, queue: str) -> Callable[..., None]:
        def collect(_channel: Any, method: Any, properties: Any, body: bytes) -> None:
            if not self._buffer:
                self._first_arrival = time.monotonic()
            self._buffer.append(
                Delivery(
                    queue,
                    method.delivery_tag,
                    method.redelivered,
                    properties,
                    body,
                    method.routing_key,
                )
            )

        return collect

    def _batch_ready(self) -> bool:
        waited = time.monotonic() - self._first_arrival
        return len(self._buffer) >= self.batch_size or waited >= self.batch_wait_s

    def _time_to_wait(self) -> float:
        """How long the I/O loop may block: until the waiting batch is due (pika returns
        sooner when a delivery arrives), or a while with nothing buffered (`stop` is checked
        in between). Never zero while a batch fills: that would spin, taking the CPU the
        batch is waiting to save."""
        if not self._buffer:
            return 0.05
        return max(0.0, self.batch_wait_s - (time.monotonic() - self._first_arrival))

    def _handle_batch(self, channel: Any, dead_channel: Any) -> None:
        batch, self._buffer = self._buffer, []
        started = time.perf_counter()
        results = self.processor.handle_batch([d.body for d in batch])
        # Committed. Park the unreadable ones (confirmed by the broker) before the one ack
        # that covers the whole batch.
        seconds = (time.perf_counter() - started) / len(batch)
        for delivery, result in zip(batch, results, strict=True):
            if result.kind == "dead":
                self._dead_letter(dead_channel, delivery, result.reason or "unknown")
            self.on_result(result, delivery, seconds)
        channel.basic_ack(delivery_tag=batch[-1].tag, multiple=True)
        self.on_batch_committed()
        self.on_batch(len(batch), time.perf_counter() - started)

    def _dead_letter(self, dead_channel: Any, delivery: Delivery, reason: str) -> None:
        props = delivery.properties
        headers = dict(props.headers or {})
        headers[REASON_HEADER] = reason[:1000]
        headers[QUEUE_HEADER] = delivery.queue
        dead_channel.basic_publish(
            topology.DEAD,
            delivery.routing_key,  # the fanout ignores it; kept so a replay routes as sent
            delivery.body,
            pika.BasicProperties(
                content_type=props.content_type,
                message_id=props.message_id,
                type=props.type,
                correlation_id=props.correlation_id,
                delivery_mode=pika.DeliveryMode.Persistent,
                headers=headers,
            ),
        )
        log.warning(
            "command.dead_lettered",
            reason=reason,
            queue=delivery.queue,
            command_id=props.message_id,
            command_type=props.type,
        )
