"""A consumer that stops (SIGTERM, or a pause while the database is away) hands back what it
had not processed so that the next consumer takes it in publish order. On a quorum queue a
polite AMQP close would not: pika rejects the deliveries still in flight one by one, and the
queue puts each behind the commands published after it."""

from __future__ import annotations

import json
import threading
import time

import pytest
from e2e.conftest import SHARDS, Broker

from workers import topology
from workers.consumer import CommandConsumer
from workers.processing import Result
from workers.publishing import command_publisher

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


class Recorder:
    """Stands in for the command processor: notes each body, slowly, so deliveries pile up."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def handle_batch(self, bodies: list[bytes]) -> list[Result]:
        time.sleep(0.02)
        self.seen += [json.loads(b)["data"]["n"] for b in bodies]
        return [Result("applied") for _ in bodies]


def consume(amqp_url: str, recorder: Recorder, until: threading.Event) -> threading.Thread:
    consumer = CommandConsumer(
        recorder,  # type: ignore[arg-type]
        amqp_url,
        [topology.shard_queue(s) for s in range(SHARDS)],
        shards=SHARDS,
        prefetch=50,
        batch_size=10,
    )
    consumer.stop = until
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return thread


def test_a_stopped_consumer_hands_back_in_order(broker: Broker) -> None:
    with broker.vhost() as amqp_url:
        with command_publisher(amqp_url, SHARDS) as publisher:
            for n in range(400):  # one order: one shard queue, one sequence
                publisher.publish("order.cancel", {"order_id": "SO-1", "n": n}, subject="SO-1")
        first, stop_first = Recorder(), threading.Event()
        thread = consume(amqp_url, first, stop_first)
        deadline = time.monotonic() + 30
        while len(first.seen) < 60:
            assert time.monotonic() < deadline, "the first consumer took nothing"
            time.sleep(0.01)
        stop_first.set()  # with deliveries in flight: the prefetch window is full
        thread.join(30)
        second, stop_second = Recorder(), threading.Event()
        thread = consume(amqp_url, second, stop_second)
        while len(first.seen) + len(second.seen) < 400:
            assert time.monotonic() < deadline + 30, (len(first.seen), len(second.seen))
            time.sleep(0.05)
        stop_second.set()
        thread.join(30)
    assert 60 <= len(first.seen) < 400
    assert first.seen + second.seen == list(range(400))
