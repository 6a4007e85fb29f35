"""A consumer that stops (SIGTERM, or a pause while the database is away) hands back what it
had not processed so that the next consumer takes it in publish order. On a quorum queue a
polite AMQP close would not: pika rejects the deliveries still in flight one by one, and the
queue puts each behind the commands published after it. What it acknowledged stays
acknowledged, what it held on the old connection is not handled on the next, and a channel
the broker closed makes it reconnect."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pika
import pytest
from e2e.conftest import SHARDS, Broker
from e2e.conftest import consuming as shard_consumer

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


def consuming(
    amqp_url: str, recorder: Recorder
) -> AbstractContextManager[tuple[CommandConsumer, threading.Thread]]:
    """Small windows, so that deliveries are in flight when the consumer stops."""
    return shard_consumer(amqp_url, recorder, prefetch=50, batch_size=10)


def wait_until(done: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_stopped_consumer_hands_back_in_order(broker: Broker) -> None:
    with broker.vhost() as amqp_url:
        with command_publisher(amqp_url, SHARDS) as publisher:
            for n in range(400):  # one order: one shard queue, one sequence
                publisher.publish("order.cancel", {"order_id": "SO-1", "n": n}, subject="SO-1")
        first, second = Recorder(), Recorder()
        with consuming(amqp_url, first):
            wait_until(lambda: len(first.seen) >= 60, 30, "the first consumer took nothing")
        # stopped with deliveries in flight: the prefetch window was full
        with consuming(amqp_url, second):
            wait_until(
                lambda: len(first.seen) + len(second.seen) >= 400,
                30,
                "the second consumer did not take the rest",
            )
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
    deadline = time.monotonic() + 30
    while len(taken) < window:
        assert time.monotonic() < deadline, f"took {len(taken)} of {window}"
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
    """pika may hand the consumer deliveries while its connection is being dropped (9 of 200
    drops, measured): here it always does, commands trickling in, so they must not outlive the
    connection they came on."""

    def dispatching_drop(connection: pika.BlockingConnection) -> None:
        connection.sleep(0.2)  # pika hands over whatever arrives meanwhile
        drop(connection)

    monkeypatch.setattr(consumer_module, "drop", dispatching_drop)
    with broker.vhost() as amqp_url:
        recorder = FailsOnce()
        with consuming(amqp_url, recorder):
            with command_publisher(amqp_url, SHARDS) as publisher:
                for n in range(300):
                    publisher.publish("order.cancel", {"order_id": "SO-1", "n": n}, subject="SO-1")
                    time.sleep(0.002)
            wait_until(lambda: len(recorder.seen) >= 300, 30, "not all 300 handled")
    assert recorder.calls > 5
    assert recorder.seen == list(range(300))


def test_a_stopping_consumer_settles_its_acks_before_it_drops_the_connection(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []

    def settling(channel: Any, prefetch: int) -> None:
        steps.append(f"settle prefetch={prefetch} open={channel.is_open}")
        settle_acks(channel, prefetch)

    def dropping(connection: pika.BlockingConnection) -> None:
        steps.append(f"drop open={connection.is_open}")
        drop(connection)

    monkeypatch.setattr(consumer_module, "settle_acks", settling)
    monkeypatch.setattr(consumer_module, "drop", dropping)
    with broker.vhost() as amqp_url:
        recorder = Recorder()
        with consuming(amqp_url, recorder) as (consumer, _thread):
            with command_publisher(amqp_url, SHARDS) as publisher:
                publisher.publish("order.cancel", {"order_id": "SO-1", "n": 0}, subject="SO-1")
            wait_until(lambda: recorder.seen == [0], 30, "nothing handled")
    assert steps == ["settle prefetch=50 open=True", "drop open=True"]
    assert consumer._buffer == []


def test_a_consumer_whose_channel_the_broker_closed_reconnects(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker closes a channel on a protocol error (here an ack of a delivery tag the
    channel never had: PRECONDITION_FAILED); pika does not raise for it, and the consumer
    went on polling a dead channel, taking nothing more."""
    real_handle_batch = CommandConsumer._handle_batch
    closed: list[bool] = []

    def handle_then_break(self: CommandConsumer, channel: Any, dead_channel: Any) -> None:
        real_handle_batch(self, channel, dead_channel)
        if not closed:
            closed.append(True)
            channel.basic_ack(delivery_tag=1_000_000)

    monkeypatch.setattr(CommandConsumer, "_handle_batch", handle_then_break)
    with broker.vhost() as amqp_url:
        recorder = Recorder()
        with consuming(amqp_url, recorder), command_publisher(amqp_url, SHARDS) as publisher:
            publisher.publish("order.cancel", {"order_id": "SO-1", "n": 0}, subject="SO-1")
            wait_until(lambda: closed == [True], 30, "the first batch was not handled")
            time.sleep(0.5)  # the channel is closed by now
            for n in range(1, 20):
                publisher.publish("order.cancel", {"order_id": "SO-1", "n": n}, subject="SO-1")
            wait_until(lambda: len(recorder.seen) >= 20, 30, "nothing handled after the close")
    assert recorder.seen == list(range(20))
