"""The running service, driven from outside: `prepay serve` as a child process against a real
RabbitMQ and a real database, commands in through `prepay.commands`, events out of
`prepay.events` into a queue of the test's own.

Each service gets a RabbitMQ virtual host of its own (created through the management API,
deleted afterwards): the shard queues have a single active consumer, so a prepay process
anyone else runs on the same vhost would otherwise take our commands while ours stands by.
Within its vhost a service also starts from empty shard and dead-letter queues.

Without a reachable broker (or management API, or PostgreSQL for the PostgreSQL service) the
tests skip on a laptop but fail when CI=true: CI must never pass by silently skipping them.
"""

from __future__ import annotations

import base64
import decimal
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, make_url
from typer.testing import CliRunner, Result

from schemas.events import decode_event
from workers import topology
from workers.cli import app as cli_app
from workers.config import Settings
from workers.consumer import CommandConsumer
from workers.db import make_engine, normalize_url
from workers.dead_letters import dead_letter_queue
from workers.order_report import as_json, load_report
from workers.publishing import CommandPublisher, command_publisher
from workers.store import SqlUnitOfWork

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SHARDS = Settings().shards
START_TIMEOUT_S = 90.0
EVENT_TIMEOUT_S = 30.0

pytestmark = pytest.mark.e2e


def unavailable(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


# --- the broker: one vhost per service ----------------------------------------------------


@dataclass(frozen=True)
class Broker:
    amqp_url: str
    management_url: str

    @classmethod
    def from_environment(cls) -> Broker:
        amqp_url = os.environ.get("PREPAY_AMQP_URL", DEFAULT_AMQP_URL)
        parsed = urllib.parse.urlsplit(amqp_url)
        default = f"http://{parsed.hostname or '127.0.0.1'}:15672"
        return cls(amqp_url, os.environ.get("PREPAY_MANAGEMENT_URL", default))

    def _credentials(self) -> tuple[str, str]:
        parsed = urllib.parse.urlsplit(self.amqp_url)
        return (
            urllib.parse.unquote(parsed.username or "guest"),
            urllib.parse.unquote(parsed.password or "guest"),
        )

    def management(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        user, password = self._credentials()
        request = urllib.request.Request(
            self.management_url.rstrip("/") + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": "Basic "
                + base64.b64encode(f"{user}:{password}".encode()).decode(),
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def check(self) -> str | None:
        """None if both AMQP and the management API answer, else why not."""
        try:
            pika.BlockingConnection(pika.URLParameters(self.amqp_url)).close()
        except Exception as error:
            return f"RabbitMQ at {self.amqp_url} is unreachable: {error!r}"
        try:
            self.management("GET", "/api/overview")
        except (OSError, urllib.error.URLError) as error:
            return f"the RabbitMQ management API at {self.management_url} is unreachable: {error}"
        return None

    @contextmanager
    def vhost(self) -> Iterator[str]:
        """A fresh virtual host; yields its AMQP URL."""
        name = f"prepay-e2e-{uuid.uuid4().hex[:10]}"
        quoted = urllib.parse.quote(name, safe="")
        user, _ = self._credentials()
        self.management("PUT", f"/api/vhosts/{quoted}", {})
        self.management(
            "PUT",
            f"/api/permissions/{quoted}/{urllib.parse.quote(user, safe='')}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
        parsed = urllib.parse.urlsplit(self.amqp_url)
        try:
            yield urllib.parse.urlunsplit(parsed._replace(path="/" + quoted))
        finally:
            self.management("DELETE", f"/api/vhosts/{quoted}")


@pytest.fixture(scope="session")
def broker() -> Broker:
    found = Broker.from_environment()
    problem = found.check()
    if problem is not None:
        unavailable(problem)
    return found


@contextmanager
def consuming(
    amqp_url: str, processor: Any, **options: Any
) -> Iterator[tuple[CommandConsumer, threading.Thread]]:
    """A consumer of every shard queue (`processor` stands in for the command processor)
    running on its own thread, stopped and joined however the block ends: a leaked consumer
    would go on reconnecting to a deleted vhost for the rest of the run."""
    consumer = CommandConsumer(
        processor,
        amqp_url,
        [topology.shard_queue(s) for s in range(SHARDS)],
        shards=SHARDS,
        **options,
    )
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        yield consumer, thread
    finally:
        consumer.stop.set()
        thread.join(30)
    assert not thread.is_alive(), "the consumer did not stop"


# --- databases ------------------------------------------------------------------------------


def postgres_base_url() -> URL:
    given = os.environ.get("PREPAY_DATABASE_URL", "")
    return normalize_url(given if given.startswith("postgres") else DEFAULT_PG_URL)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A schema of its own in the PostgreSQL database; yields a URL that uses it."""
    base = postgres_base_url()
    conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        psycopg.connect(conninfo, connect_timeout=3).close()
    except psycopg.Error as error:
        unavailable(f"PostgreSQL at {base.render_as_string()} is unreachable: {error}")
    schema = f"prepay_e2e_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# --- events as a downstream consumer sees them -----------------------------------------------


@dataclass(frozen=True)
class WireEvent:
    id: str
    type: str
    subject: str | None
    correlation_id: str | None
    data: dict[str, Any]


class EventSink:
    """An exclusive queue bound to `prepay.events` with "#": every event from its creation on,
    each checked against the contract's models as it arrives."""

    def __init__(self, amqp_url: str) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.connection.channel()
        topology.declare(self.channel, SHARDS)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.queue, topology.EVENTS, "#")
        self.events: list[WireEvent] = []
        self.channel.basic_consume(self.queue, self._on_message, auto_ack=True)

    def _on_message(self, _channel: Any, _method: Any, properties: Any, body: bytes) -> None:
        envelope, _model = decode_event(body)  # raises if an event breaks the contract
        assert properties.message_id == envelope.id
        assert properties.type == envelope.type
        assert properties.correlation_id == envelope.correlationid
        self.events.append(
            WireEvent(
                envelope.id,
                envelope.type,
                envelope.subject,
                envelope.correlationid,
                json.loads(body)["data"],  # amounts as the wire carries them: strings
            )
        )

    def wait_until(
        self, done: Callable[[], bool], timeout: float = EVENT_TIMEOUT_S, what: str = ""
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or 'events'}")
            self.connection.process_data_events(time_limit=0.05)

    def answering(self, command_id: str) -> list[WireEvent]:
        return [e for e in self.events if e.correlation_id == command_id]

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


# --- the service and a client of it ----------------------------------------------------------


@dataclass
class Client:
    """Publishes commands like an upstream system and reads events like downstream."""

    publisher: CommandPublisher
    sink: EventSink
    sent: list[str] = field(default_factory=list)

    def send(
        self,
        command_type: str,
        data: dict[str, Any],
        *,
        command_id: str | None = None,
        subject: str | None = None,
    ) -> str:
        sent = self.publisher.publish(
            command_type, data, command_id=command_id, subject=subject, source="e2e"
        )
        self.sent.append(sent)
        return sent

    def send_raw(
        self, routing_key: str, body: bytes, *, subject: str, message_id: str | None = None
    ) -> None:
        properties = pika.BasicProperties(
            message_id=message_id,
            delivery_mode=pika.DeliveryMode.Persistent,
            headers={"subject": subject},
        )
        self.publisher.publish_raw(routing_key, body, properties)

    def expect(
        self, command_id: str, types: list[str], timeout: float = EVENT_TIMEOUT_S
    ) -> list[WireEvent]:
        """The events answering a command, once as many as expected arrived; their types in
        the contract's order."""
        self.sink.wait_until(
            lambda: len(self.sink.answering(command_id)) >= len(types),
            timeout,
            f"{types} answering {command_id}",
        )
        got = self.sink.answering(command_id)
        assert [e.type for e in got] == types
        return got

    def run(self, command_type: str, data: dict[str, Any], types: list[str]) -> list[WireEvent]:
        return self.expect(self.send(command_type, data), types)


@dataclass
class ServiceProcess:
    """`prepay serve` running as a child process in a vhost of its own."""

    amqp_url: str
    database_url: str
    workers: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _engine: Engine | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. settings or fault hooks

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PREPAY_DATABASE_URL": self.database_url,
            "PREPAY_AMQP_URL": self.amqp_url,
            "PREPAY_METRICS_PORT": "0",
            **self.extra_env,
        }

    def start(self) -> None:
        script = Path(sys.executable).with_name("prepay")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "workers.cli"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "serve", "--workers", str(self.workers)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until every shard queue has a consumer."""
        deadline = time.monotonic() + timeout
        while self.consumer_counts().count(0):
            if not self.alive:
                raise AssertionError(f"prepay serve exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"prepay serve did not start consuming:\n{self.log_tail()}")
            time.sleep(0.2)

    def consumer_counts(self) -> list[int]:
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            channel = connection.channel()
            return [
                channel.queue_declare(topology.shard_queue(s), passive=True).method.consumer_count
                for s in range(SHARDS)
            ]
        finally:
            connection.close()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"prepay serve ignored SIGTERM:\n{self.log_tail()}") from None
        finally:
            if self._engine is not None:
                self._engine.dispose()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.database_url)
        return self._engine

    def report(self, order_id: str) -> dict[str, Any] | None:
        """What `prepay order show ID --json` prints (amounts as decimal strings)."""
        report = load_report(self.engine, order_id)
        return None if report is None else dict(json.loads(as_json(report)))

    def wait_for_party(self, party_id: str, timeout: float = EVENT_TIMEOUT_S) -> None:
        """Setup commands answer with no event: look in the database instead."""
        deadline = time.monotonic() + timeout
        while True:
            uow = SqlUnitOfWork(self.engine, read_only=True)
            with uow:
                if uow.parties.get(party_id) is not None:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"party {party_id} was not stored:\n{self.log_tail()}")
            time.sleep(0.05)

    def dead_letters(self) -> list[dict[str, Any]]:
        with dead_letter_queue(self.amqp_url, SHARDS) as queue:
            return [letter.summary() for letter in queue.peek(1000)]

    def wait_for_dead_letter(
        self, matches: Callable[[dict[str, Any]], bool], timeout: float = EVENT_TIMEOUT_S
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = [x for x in self.dead_letters() if matches(x)]
            if found:
                assert len(found) == 1, found
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no such dead letter:\n{self.log_tail()}")
            time.sleep(0.1)

    def cli(self, *args: str) -> Result:
        """The `prepay` CLI in-process, configured for this service."""
        env = {"PREPAY_DATABASE_URL": self.database_url, "PREPAY_AMQP_URL": self.amqp_url}
        return CliRunner().invoke(cli_app, list(args), env=env, catch_exceptions=False)

    @contextmanager
    def client(self) -> Iterator[Client]:
        sink = EventSink(self.amqp_url)
        try:
            with command_publisher(self.amqp_url, SHARDS) as publisher:
                yield Client(publisher, sink)
        finally:
            sink.close()


@contextmanager
def running_service(
    broker: Broker,
    database_url: str,
    log_dir: Path,
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> Iterator[ServiceProcess]:
    with broker.vhost() as amqp_url:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        topology.declare(channel, SHARDS)  # so commands sent before the start wait for it
        for queue in [*map(topology.shard_queue, range(SHARDS)), topology.DEAD_LETTERS]:
            channel.queue_purge(queue)
        connection.close()
        service = ServiceProcess(
            amqp_url,
            database_url,
            workers,
            log_dir / f"serve-{make_url(database_url).get_backend_name()}-{workers}.log",
            extra_env=env or {},
        )
        service.start()
        try:
            service.wait_ready()
            yield service
        finally:
            code = service.stop()
            print(f"--- prepay serve (exit {code}), last lines:\n{service.log_tail()}")
            assert code == 0, f"prepay serve exited with {code}"


@pytest.fixture(scope="session")
def sqlite_service(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("sqlite-service")
    with running_service(broker, f"sqlite:///{folder / 'prepay.db'}", folder) as service:
        yield service


@pytest.fixture(scope="session")
def postgres_service(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("postgres-service")
    with postgres_schema() as url, running_service(broker, url, folder) as service:
        yield service


@pytest.fixture
def client(sqlite_service: ServiceProcess) -> Iterator[Client]:
    with sqlite_service.client() as connected:
        yield connected


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def _as_decimal(value: object) -> decimal.Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        return decimal.Decimal(value)
    except decimal.InvalidOperation:
        return None


def mismatches(actual: Any, expected: Any, path: str = "") -> list[str]:
    """Where `actual` (wire JSON) differs from `expected`: only the keys `expected` names are
    compared, lists element by element, and decimal strings by value ("0" equals "0.00")."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        found: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                found.append(f"{path}.{key}: missing")
            else:
                found += mismatches(actual[key], value, f"{path}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {actual!r}"]
        return [m for i, x in enumerate(expected) for m in mismatches(actual[i], x, f"{path}.{i}")]
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if actual is expected else [f"{path}: {actual!r} is not {expected!r}"]
    numbers = _as_decimal(actual), _as_decimal(expected)
    if None not in numbers:
        return [] if numbers[0] == numbers[1] else [f"{path}: {actual} != {expected}"]
    return [] if actual == expected else [f"{path}: {actual!r} != {expected!r}"]


def assert_matches(actual: Any, expected: Any) -> None:
    found = mismatches(actual, expected)
    assert not found, "\n".join(found)


def ledger(event: WireEvent) -> dict[str, tuple[decimal.Decimal, decimal.Decimal]]:
    """A posted document's ledger as {account: (debit, credit)}."""
    return {
        e["account"]: (decimal.Decimal(e["debit"]), decimal.Decimal(e["credit"]))
        for e in event.data["ledger"]
    }
