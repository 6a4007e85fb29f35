"""The consumer's batching window (`batch_wait_ms`) against the real broker: a batch that is
still filling waits for deliveries in the I/O loop, without spinning."""

from __future__ import annotations

import json
import threading
import time

import pytest

from e2e.conftest import SHARDS, Broker, consuming
from workers.processing import Result
from workers.publishing import command_publisher

pytestmark = pytest.mark.e2e


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.handled = threading.Event()

    def handle_batch(self, bodies: list[bytes]) -> list[Result]:
        self.batches.append([json.loads(b)["data"]["n"] for b in bodies])
        self.handled.set()
        return [Result("applied") for _ in bodies]


def test_a_batch_waiting_to_fill_leaves_the_cpu_alone(broker: Broker) -> None:
    wait_s = 0.6
    with broker.vhost() as amqp_url:
        recorder = Recorder()
        with consuming(amqp_url, recorder, batch_size=100, batch_wait_s=wait_s) as (
            consumer,
            thread,
        ):
            assert consumer.connected.wait(30) and thread.ident is not None
            consumer_cpu = time.pthread_getcpuclockid(thread.ident)  # its CPU time alone
            with command_publisher(amqp_url, SHARDS) as publisher:
                cpu_before, sent_at = time.clock_gettime(consumer_cpu), time.monotonic()
                for n in range(3):
                    publisher.publish("order.cancel", {"order_id": "SO-1", "n": n}, subject="SO-1")
            assert recorder.handled.wait(10)
            waited = time.monotonic() - sent_at
            cpu = time.clock_gettime(consumer_cpu) - cpu_before
    assert recorder.batches == [[0, 1, 2]]  # one batch, when the window closed
    assert wait_s * 0.9 <= waited < wait_s + 1.0
    # Spinning through the window (the I/O loop polled with no timeout) took the whole of it.
    assert cpu < wait_s / 3, f"{cpu:.2f} s of CPU while a batch waited {waited:.2f} s"
