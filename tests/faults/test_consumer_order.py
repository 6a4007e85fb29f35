"""A consumer that stops (SIGTERM, or a pause while the database is away) hands back what it
had not processed so that the next consumer takes it in publish order. On a quorum queue a
polite AMQP close would not: pika rejects the deliveries still in flight one by one, and the
queue puts each behind the commands published after it."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pika
import pytest
from e2e.conftest import SHARDS, Broker

from workers import consumer as consumer_module
from workers import topology
from workers.amqp import connect, drop, settle_acks
from workers.consumer import CommandConsumer
from workers.processing import Result, TransientFailure
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


def take_ack_and_drop(amqp_url: str, queue: str, window: int) -> list[int]:
    """One consumer's life: take a full prefetch window, ack it, settle, drop the connection."""
    connection = connect(amqp_url)
    channel = connection.channel()
    channel.basic_qos(prefetch_count=window)
    taken: list[tuple[int, int]] = []

    def collect(_channel: object, method: Any, _properties: object, body: bytes) -> None:
        taken.append((method.delivery_tag, json.loads(body)["data"]["n"]))

    channel.basic_consume(queue, collect)
    while len(taken) < window:
        connection.process_data_events(time_limit=0.05)
    acknowledged = taken[:window]  # more arrive while it settles and drops: handed back
    channel.basic_ack(acknowledged[-1][0], multiple=True)
    settle_acks(channel, window)
    drop(connection)
    return [n for _tag, n in acknowledged]


def test_an_ack_settled_before_the_drop_is_never_undone(broker: Broker) -> None:
    """200 consumers in turn each take, ack and drop a window. Without `settle_acks` the broker
    handed acknowledged deliveries back in 3-14 of 300 such stops."""
    window, rounds = 20, 200
    with broker.vhost() as amqp_url:
        with command_publisher(amqp_url, 1) as publisher:
            for n in range(window * (rounds + 1)):
                publisher.publish("order.cancel", {"order_id": "SO-1", "n": n}, subject="SO-1")
        taken = [
            take_ack_and_drop(amqp_url, topology.shard_queue(0), window) for _ in range(rounds)
        ]
    assert [n for window_taken in taken for n in window_taken] == list(range(window * rounds))


class FailsOnce(Recorder):
    """The database goes away once, on the fifth batch: the consumer drops its connection and
    comes back; nothing it had taken on the old connection may be handled on the new one."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def handle_batch(self, bodies: list[bytes]) -> list[Result]:
        self.calls += 1
        if self.calls == 5:
            raise TransientFailure("the database is away")
        return super().handle_batch(bodies)


def test_a_consumer_back_from_a_pause_takes_each_command_once_in_order(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pika may hand the consumer deliveries while its connection is being dropped (8 of 200
    drops, measured): here it always does, commands trickling in, so they must not outlive the
    connection they came on."""

    def dispatching_drop(connection: pika.BlockingConnection) -> None:
        connection.process_data_events(time_limit=0.2)
        drop(connection)

    monkeypatch.setattr(consumer_module, "drop", dispatching_drop)
    with broker.vhost() as amqp_url:
        recorder, stop = FailsOnce(), threading.Event()
        thread = consume(amqp_url, recorder, stop)
        with command_publisher(amqp_url, SHARDS) as publisher:
            for n in range(300):
                publisher.publish("order.cancel", {"order_id": "SO-1", "n": n}, subject="SO-1")
                time.sleep(0.002)
        deadline = time.monotonic() + 30
        while len(recorder.seen) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        thread.join(30)
    assert recorder.calls > 5
    assert recorder.seen == list(range(300))
