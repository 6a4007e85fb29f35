"""What the fault tests share: a downstream consumer and an upstream publisher that both ride
out a broker restart, a TCP proxy that can cut PostgreSQL off, the broker's stop and start,
and the final comparison with a single clean worker (the in-memory model).

The downstream keeps its events in a durable queue of its own, so nothing published while it
reconnects is missed, and de-duplicates by event id as the contract asks consumers to.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import pika
from e2e.conftest import SHARDS, Broker, ServiceProcess, unavailable
from e2e.reference import Model, Step, without_document_numbers
from pika.exceptions import AMQPError
from sqlalchemy import select as sql_select

from schemas.events import decode_event
from schemas.tables import ORDER_HISTORY, OUTBOX
from workers import topology
from workers.amqp import connect
from workers.publishing import CommandPublisher, PublishFailed

# --- downstream ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    id: str
    type: str
    subject: str | None
    correlation_id: str | None
    data: dict[str, Any]
    redelivered: bool


class DurableSink:
    """Every event from its creation on, in a durable queue that survives a broker restart;
    reconnects by itself. Acknowledges each event after recording it, so a copy can only be
    lost never, and repeated by the broker (`redelivered`) or by the relay."""

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self.queue = f"faults.downstream-{uuid.uuid4().hex[:8]}"
        self.received: list[Received] = []
        self.ids: set[str] = set()
        self.reconnects = 0
        self._connection: pika.BlockingConnection | None = None
        self._connect()

    def _connect(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        channel = connection.channel()
        topology.declare(channel, SHARDS)
        channel.queue_declare(self.queue, durable=True)
        channel.queue_bind(self.queue, topology.EVENTS, "#")
        channel.basic_qos(prefetch_count=500)
        channel.basic_consume(self.queue, self._on_message)
        self._connection = connection

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        envelope, _model = decode_event(body)  # raises if an event breaks the contract
        assert properties.message_id == envelope.id
        self.received.append(
            Received(
                envelope.id,
                envelope.type,
                envelope.subject,
                envelope.correlationid,
                json.loads(body)["data"],
                bool(method.redelivered),
            )
        )
        self.ids.add(envelope.id)
        channel.basic_ack(method.delivery_tag)

    def pump(self, seconds: float) -> None:
        """Take what arrives for `seconds`, reconnecting if the broker went away."""
        try:
            if self._connection is None or not self._connection.is_open:
                self._connect()
                self.reconnects += 1
            assert self._connection is not None
            self._connection.process_data_events(time_limit=seconds)
        except (AMQPError, OSError):
            self._drop()
            time.sleep(seconds)

    def wait_until(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            self.pump(0.05)

    def settle(self, seconds: float = 1.0) -> None:
        """Anything sent twice follows within moments."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.pump(0.05)

    @property
    def duplicates(self) -> int:
        return len(self.received) - len(self.ids)

    def first_copies(self) -> list[Received]:
        seen: set[str] = set()
        kept = []
        for event in self.received:
            if event.id not in seen:
                seen.add(event.id)
                kept.append(event)
        return kept

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and connection.is_open:
            with suppress(AMQPError, OSError):
                connection.close()

    def close(self) -> None:
        self._drop()


# --- upstream --------------------------------------------------------------------------------


class StreamPublisher(threading.Thread):
    """Publishes the steps in order on a thread of its own (pika connections are per thread),
    each confirmed by the broker. When the broker goes away it reconnects and sends the
    unconfirmed command again under the same id: the inbox makes that harmless."""

    def __init__(
        self,
        amqp_url: str,
        steps: Sequence[Step],
        timeout: float = 120.0,
        rate: float | None = None,
    ) -> None:
        super().__init__(name="faults-publisher", daemon=True)
        self.amqp_url = amqp_url
        self.steps = list(steps)
        self.timeout = timeout
        self.pause = 1 / rate if rate else 0.0  # spread the stream over the fault
        self.sent = 0
        self.resends = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        connection: pika.BlockingConnection | None = None
        publisher: CommandPublisher | None = None
        try:
            while self.sent < len(self.steps):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"published only {self.sent} of {len(self.steps)}")
                try:
                    if publisher is None:
                        connection = connect(self.amqp_url)
                        channel = connection.channel()
                        topology.declare(channel, SHARDS)
                        channel.confirm_delivery()
                        publisher = CommandPublisher(channel)
                    command_type, data, command_id = self.steps[self.sent]
                    publisher.publish(command_type, data, command_id=command_id, source="faults")
                    self.sent += 1
                    if self.pause:
                        time.sleep(self.pause)
                except (AMQPError, OSError, PublishFailed):
                    self.resends += 1
                    publisher = None
                    if connection is not None and connection.is_open:
                        with suppress(AMQPError, OSError):
                            connection.close()
                    time.sleep(0.2)
        except BaseException as error:
            self.error = error
        finally:
            if connection is not None and connection.is_open:
                connection.close()

    def finish(self, timeout: float = 120.0) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the publisher did not finish"
        if self.error is not None:
            raise self.error


# --- the broker ------------------------------------------------------------------------------


def rabbitmqctl() -> str:
    found = shutil.which("rabbitmqctl")
    if found is None:
        unavailable("rabbitmqctl is not on the PATH: cannot stop and start the broker")
    assert found is not None
    return found


def _broker_running(broker: Broker) -> bool:
    try:
        pika.BlockingConnection(pika.URLParameters(broker.amqp_url)).close()
        broker.management("GET", "/api/overview")
    except Exception:
        return False
    return True


def restart_broker(broker: Broker, down_s: float) -> None:
    """`rabbitmqctl stop_app`, a pause, `start_app`; returns once AMQP and the management API
    answer again. The broker is always started again, whatever fails."""
    command = rabbitmqctl()
    try:
        subprocess.run([command, "stop_app"], check=True, capture_output=True, timeout=120)
        time.sleep(down_s)
    finally:
        subprocess.run([command, "start_app"], check=True, capture_output=True, timeout=180)
        deadline = time.monotonic() + 120
        while not _broker_running(broker):
            assert time.monotonic() < deadline, "RabbitMQ did not come back after start_app"
            time.sleep(0.5)


# --- PostgreSQL behind a proxy ---------------------------------------------------------------


class TcpProxy:
    """127.0.0.1:`port` forwarded to `target`. `cut()` resets every open connection and turns
    new ones away (the database is unreachable) until `restore()`; nobody else using the
    database notices."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.down = threading.Event()
        self.closing = threading.Event()
        self.turned_away = 0
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="faults-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.down.is_set():
                self.turned_away += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        ends = {client: upstream, upstream: client}
        try:
            while not self.closing.is_set():
                ready, _, _ = select.select(list(ends), [], [], 0.2)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    ends[source].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            _reset(client)
            _reset(upstream)
            with self._lock:
                if (client, upstream) in self._pairs:
                    self._pairs.remove((client, upstream))

    def cut(self) -> int:
        """Reset every connection; returns how many there were."""
        self.down.set()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            _reset(client)
            _reset(upstream)
        return len(pairs)

    def restore(self) -> None:
        self.down.clear()

    def close(self) -> None:
        self.closing.set()
        self.cut()
        self.listener.close()
        self._thread.join(2)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a crashed host or a dropped link would."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with suppress(OSError):
        sock.close()


@contextmanager
def proxied(url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of the PostgreSQL `url` points at; yields it and the URL through it."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    try:
        yield (
            proxy,
            parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        )
    finally:
        proxy.close()


# --- the stream and the verdict --------------------------------------------------------------


@dataclass
class Figures:
    """What a faulty run did, for the test's report."""

    commands: int = 0
    events: int = 0
    copies_received: int = 0
    duplicates: int = 0
    publisher_resends: int = 0
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    def line(self, name: str) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.notes.items())
        return (
            f"[{name}] commands={self.commands} events={self.events} "
            f"copies={self.copies_received} duplicates={self.duplicates} "
            f"resends={self.publisher_resends} seconds={self.seconds:.1f} {extra}"
        ).rstrip()


def set_up(service: ServiceProcess, setup: Sequence[Step]) -> None:
    """The parties, before any order needs them (setup commands answer with no event)."""
    publisher = StreamPublisher(service.amqp_url, setup)
    publisher.start()
    publisher.finish()
    for _, data, _ in setup:
        service.wait_for_party(data["party_id"])


def run_stream(
    service: ServiceProcess,
    model: Model,
    steps: Sequence[Step],
    faults: Sequence[tuple[float, Callable[[], None]]] = (),
    timeout: float = 180.0,
    rate: float | None = None,
) -> tuple[DurableSink, Figures]:
    """Publish `steps`; at each fraction of the expected events received downstream, inject
    its fault; return once every expected event arrived (and a moment more for copies)."""
    started = time.monotonic()
    sink = DurableSink(service.amqp_url)
    publisher = StreamPublisher(service.amqp_url, steps, timeout=timeout, rate=rate)
    publisher.start()
    expected = model.event_count
    try:
        for fraction, inject in sorted(faults, key=lambda x: x[0]):
            target = int(expected * fraction)
            sink.wait_until(
                lambda target=target: len(sink.ids) >= target,
                timeout,
                f"{target} events",
            )
            inject()
        sink.wait_until(
            lambda: len(sink.ids) >= expected and not publisher.is_alive(),
            timeout,
            f"all {expected} events (have {len(sink.ids)})",
        )
        sink.settle()
        publisher.finish()
    finally:
        sink.close()
    figures = Figures(
        commands=len(steps),
        events=len(sink.ids),
        copies_received=len(sink.received),
        duplicates=sink.duplicates,
        publisher_resends=publisher.resends,
        seconds=time.monotonic() - started,
    )
    return sink, figures


def differences(
    service: ServiceProcess, model: Model, plans: Sequence[Sequence[Step]], sink: DurableSink
) -> list[str]:
    """Where the run differs from a single clean worker (the model): events recorded but never
    delivered or delivered but never recorded; per order, events (after de-duplication by id),
    documents, payments and state; commands left unanswered; dead letters."""
    found: list[str] = []
    with service.engine.connect() as connection:
        # The relay deletes a published event's outbox row; the history keeps every event
        # about an order, and the outbox those about none (marked published) and the pending.
        recorded = {
            str(x)
            for table in (OUTBOX, ORDER_HISTORY)
            for x in connection.execute(sql_select(table.c.event_id)).scalars()
        }
    if sink.ids != recorded:
        found.append(
            f"{len(recorded - sink.ids)} recorded events never arrived, "
            f"{len(sink.ids - recorded)} arrived that were never recorded"
        )
    events = sink.first_copies()
    per_order: dict[str | None, list[dict[str, Any]]] = {}
    for event in events:
        per_order.setdefault(event.subject, []).append({"type": event.type, "data": event.data})
    for plan in plans:
        order_id = plan[0][1]["order_id"]
        wire = without_document_numbers(per_order.get(order_id, []))
        expected = without_document_numbers(model.events[order_id])
        if wire != expected:
            found.append(f"{order_id} events: {_first_difference(wire, expected)}")
        stored = service.report(order_id)
        if stored is None:
            found.append(f"{order_id} was not stored")
            continue
        stored = {k: v for k, v in stored.items() if k != "history"}
        reference = {k: v for k, v in model.report(order_id).items() if k != "history"}
        stored, reference = without_document_numbers(stored), without_document_numbers(reference)
        if stored != reference:
            found.append(f"{order_id} stored: {_first_difference(stored, reference)}")
    # Every order command is answered: by its events, or by `command.rejected`.
    answered = Counter(e.correlation_id for e in events)
    unanswered = [cid for plan in plans for _, _, cid in plan if not answered[cid]]
    if unanswered:
        found.append(f"{len(unanswered)} commands unanswered, e.g. {unanswered[0]}")
    dead = service.dead_letters()
    if dead:
        found.append(f"{len(dead)} dead letters, e.g. {dead[0]['reason']}")
    return found


def assert_same_as_one_clean_worker(
    service: ServiceProcess, model: Model, plans: Sequence[Sequence[Step]], sink: DurableSink
) -> None:
    """No `differences`, and `prepay reconcile` clean."""
    found = differences(service, model, plans, sink)
    assert not found, "\n".join(found[:10])
    assert_reconciled(service)


def _first_difference(actual: Any, expected: Any, path: str = "") -> str:
    """Where two runs' events part: the first path whose values differ."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(actual) | set(expected)):
            if actual.get(key) != expected.get(key):
                return _first_difference(actual.get(key), expected.get(key), f"{path}.{key}")
    if isinstance(expected, list) and isinstance(actual, list):
        for index, (a, e) in enumerate(zip(actual, expected, strict=False)):
            if a != e:
                return _first_difference(a, e, f"{path}[{index}]")
        if len(actual) != len(expected):
            return f"{path}: {len(actual)} items, expected {len(expected)}"
    return f"{path}: {actual!r}, expected {expected!r}"


def assert_reconciled(service: ServiceProcess) -> str:
    result = service.cli("reconcile", "--outbox-grace", "0")
    assert result.exit_code == 0, result.output
    assert " 0 violation(s), 0 event(s) awaiting the relay" in result.output, result.output
    return result.output.strip().splitlines()[-1]


def kill_hard(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, 9)
