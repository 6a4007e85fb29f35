"""The load generator of the benchmarks: publishes prepared messages and times their answers,
on one asynchronous pika connection (SelectConnection), so that the measuring costs little of
the machine it measures.

A blocking pika channel spends a poll and a socket write on every publish and a generator
round per delivery; on two cores that load generator took a third of the CPU the benchmark
had (measured: 5.7 s of CPU for 4,000 commands and their 9,000 events). Here publishes are
buffered and written when the socket is ready, and deliveries arrive by callback.

`prepay bench` and the naive worker (`bench/naive_worker.py`) both use it, so the two are
measured with the same yardstick.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pika

from workers.amqp import SelectConnection

CHUNK = 200  # messages published per turn of the I/O loop, between reads of the answers


@dataclass(frozen=True, slots=True)
class Message:
    exchange: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties
    answer_id: str  # the value the answer carries (as correlation id) for this message


@dataclass
class Timing:
    sent: int
    answered: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, in order of arrival
    # When each of `latencies` was published, seconds after the start: aligned with it (the
    # same arrival order), and like it without the commands never answered.
    sent_at: list[float] = field(default_factory=list)
    # With a `stamp`: per answer, (answer id, publish to answer, publish to when it was made).
    splits: list[tuple[str, float, float]] = field(default_factory=list)


class AnswerTimeout(Exception):
    pass


class Driver:
    """Publish `messages` (at `rate` per second, or as fast as possible) and wait until each
    has been answered on `listen` (exchange, binding key) by a message whose correlation id
    is its `answer_id`. Later answers to the same id are ignored.

    `stamp`, if given, reads from an answer's body the wall-clock time (Unix seconds) it was
    made, or None; each latency is then also split at that moment (`Timing.splits`). The
    answerer's clock must be this machine's."""

    def __init__(
        self,
        amqp_url: str,
        messages: list[Message],
        listen: tuple[str, str],
        *,
        rate: float | None = None,
        silence_timeout_s: float = 60.0,
        on_ready: Callable[[], None] | None = None,
        stamp: Callable[[bytes], float | None] | None = None,
    ) -> None:
        self.amqp_url = amqp_url
        self.messages = messages
        self.listen = listen
        self.rate = rate
        self.silence_timeout_s = silence_timeout_s
        self.on_ready = on_ready or (lambda: None)
        self.stamp = stamp
        self._wall_minus_counter = time.time() - time.perf_counter()
        self._splits: list[tuple[str, float, float]] = []
        self._pending: dict[str, float] = {}
        self._latencies: list[float] = []
        self._sent_at: list[float] = []
        self._next = 0
        self._started = 0.0
        self._last_answer = 0.0
        self._failure: BaseException | None = None
        self._channel: Any = None
        self._connection: SelectConnection | None = None

    def run(self) -> Timing:
        self._connection = SelectConnection(
            pika.URLParameters(self.amqp_url),
            on_open_callback=lambda c: c.channel(on_open_callback=self._on_channel),
            on_open_error_callback=self._on_open_error,
            on_close_callback=lambda c, reason: c.ioloop.stop(),
        )
        self._connection.ioloop.start()
        if self._failure is not None:
            raise self._failure
        return Timing(
            sent=self._next,
            answered=len(self._latencies),
            seconds=time.perf_counter() - self._started,
            latencies=self._latencies,
            sent_at=self._sent_at,
            splits=self._splits,
        )

    def _on_open_error(self, connection: Any, error: BaseException) -> None:
        self._failure = error
        connection.ioloop.stop()

    def _on_channel(self, channel: Any) -> None:
        self._channel = channel
        channel.queue_declare("", exclusive=True, callback=self._on_declared)

    def _on_declared(self, frame: Any) -> None:
        queue = frame.method.queue
        exchange, key = self.listen
        self._channel.queue_bind(queue, exchange, key, callback=lambda _f: self._consume(queue))

    def _consume(self, queue: str) -> None:
        self._channel.basic_qos(prefetch_count=0)
        self._channel.basic_consume(
            queue, self._on_answer, auto_ack=True, callback=lambda _f: self._start()
        )

    def _start(self) -> None:
        self.on_ready()
        self._started = self._last_answer = time.perf_counter()
        if not self.messages:
            self._close()
            return
        self._pump()
        self._watch()

    def _pump(self) -> None:
        """Publish what is due, then yield to the I/O loop (answers, socket writes)."""
        now = time.perf_counter()
        due = len(self.messages)
        if self.rate:
            due = min(due, int((now - self._started) * self.rate) + 1)
        end = min(due, self._next + CHUNK)
        publish = self._channel.basic_publish
        with self._connection_open().coalesced():
            for message in self.messages[self._next : end]:
                self._pending[message.answer_id] = time.perf_counter()
                publish(message.exchange, message.routing_key, message.body, message.properties)
        self._next = end
        if self._next < len(self.messages):
            delay = 0.0 if end < due or not self.rate else 0.001
            self._loop().call_later(delay, self._pump)

    def _on_answer(self, _channel: Any, _method: Any, properties: Any, body: bytes) -> None:
        answer_id = properties.correlation_id or ""
        sent = self._pending.pop(answer_id, None)
        if sent is None:
            return
        self._last_answer = now = time.perf_counter()
        self._latencies.append(now - sent)
        self._sent_at.append(sent - self._started)
        if self.stamp is not None:
            made = self.stamp(body)
            if made is not None:
                recorded = made - self._wall_minus_counter - sent
                self._splits.append((answer_id, now - sent, recorded))
        if self._next == len(self.messages) and not self._pending:
            self._close()

    def _watch(self) -> None:
        if time.perf_counter() - self._last_answer > self.silence_timeout_s:
            self._failure = AnswerTimeout(
                f"only {len(self._latencies)} of {len(self.messages)} messages answered"
            )
            self._close()
            return
        self._loop().call_later(1.0, self._watch)

    def _connection_open(self) -> SelectConnection:
        assert self._connection is not None
        return self._connection

    def _loop(self) -> Any:
        return self._connection_open().ioloop

    def _close(self) -> None:
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.close()
