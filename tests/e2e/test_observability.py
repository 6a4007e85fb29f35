"""What operators watch, on a service with two worker processes: one `/metrics` adding up
every process's figures, `/healthz` and `/readyz` (503 from SIGTERM on), and JSON log lines
that carry the id of the command being handled.

The service retries a transient failure once (PREPAY_RETRY_ATTEMPTS=1), so holding SQLite's
write lock from the test makes a command fail over to a redelivery within seconds, which the
log lines and the redelivery counter show. The last test stops the service.
"""

from __future__ import annotations

import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from e2e.conftest import Broker, Client, ServiceProcess, running_service, unique
from e2e.endpoints import Sample, get, log_lines, metrics_port, scrape, value, wait_for_log

pytestmark = pytest.mark.e2e

WORKERS = 2
ORDERS = 16  # spread over 4 shards: both workers get some (all on one: 2 in 65,536)


@pytest.fixture(scope="module")
def service(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    folder = tmp_path_factory.mktemp("observed-service")
    with running_service(
        broker,
        f"sqlite:///{folder / 'prepay.db'}",
        folder,
        WORKERS,
        env={"PREPAY_RETRY_ATTEMPTS": "1"},
    ) as started:
        yield started


@pytest.fixture(scope="module")
def port(service: ServiceProcess) -> int:
    return metrics_port(service.log_path)


@contextmanager
def write_lock(service: ServiceProcess) -> Iterator[None]:
    """SQLite's write lock, held: every command transaction waits, then fails as transient."""
    path = make_url(service.database_url).database
    assert path is not None
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def create_order(
    client: Client, order_id: str, customer: str, command_id: str | None = None
) -> str:
    return client.send(
        "order.create",
        {"order_id": order_id, "side": "sales", "party_id": customer, "currency": "EUR",
         "order_date": "2026-11-27",
         "lines": [{"line_no": 1, "item_id": "A", "quantity": "2", "unit_price": "50.00",
                    "vat_percent": "20"}]},
        command_id=command_id,
    )  # fmt: skip


def party(client: Client, customer: str, subject: str) -> str:
    return client.send(
        "party.upsert",
        {"party_id": customer, "side": "sales", "name": "C", "prepayment_percent": "20"},
        subject=subject,
    )


def grown(
    after: dict[Sample, float], before: dict[Sample, float], name: str, **labels: str
) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def wait_for_ready(port: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while (answer := get(port, "/readyz"))[0] != 200:
        assert time.monotonic() < deadline, answer
        time.sleep(0.1)
    return answer[1]


def test_one_endpoint_counts_the_commands_of_every_worker(
    service: ServiceProcess, port: int
) -> None:
    assert get(port, "/healthz") == (200, "loop ok\n")
    assert set(wait_for_ready(port).splitlines()) == {"database ok", "broker ok"}
    before = scrape(port)
    with service.client() as client:
        orders = [(unique("SO"), unique("C")) for _ in range(ORDERS)]
        for order_id, customer in orders:
            party(client, customer, subject=order_id)
            create_order(client, order_id, customer)
        invoices = [client.send("prepayment.invoice", {"order_id": o}) for o, _ in orders[:2]]
        for command_id in invoices:
            client.expect(
                command_id, ["prepayment_invoice.posted", "order.amended", "order.state_changed"]
            )
        unknown = client.send("prepayment.invoice", {"order_id": unique("SO-NONE")})
        (rejection,) = client.expect(unknown, ["command.rejected"])
        code = rejection.data["code"]
        client.sink.wait_until(lambda: len(client.sink.events) >= ORDERS + 7, what="all events")
        published = len(client.sink.events)

    commands = "prepay_commands_total"

    def handled(after: dict[Sample, float]) -> float:
        return sum(
            count - before.get((name, labels), 0.0)
            for (name, labels), count in after.items()
            if name == commands
        )

    # A worker counts a command right after its commit, and its batch after the ack: the
    # events may come first.
    deadline = time.monotonic() + 10
    while (after := scrape(port)) and (
        grown(after, before, commands, type="prepayment.invoice", outcome="rejected") < 1
        or grown(after, before, "prepay_batch_commands_sum") < handled(after)
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)

    assert grown(after, before, commands, type="party.upsert", outcome="applied") == ORDERS
    assert grown(after, before, commands, type="order.create", outcome="applied") == ORDERS
    assert grown(after, before, commands, type="prepayment.invoice", outcome="applied") == 2
    assert grown(after, before, commands, type="prepayment.invoice", outcome="rejected") == 1
    assert grown(after, before, "prepay_rejections_total", code=code) == 1
    moved = {"from_state": "draft", "to_state": "prepayment_invoiced"}
    assert grown(after, before, "prepay_state_transitions_total", **moved) == 2
    assert grown(after, before, "prepay_events_published_total") >= published
    latency = "prepay_command_seconds"
    assert grown(after, before, f"{latency}_count", type="order.create") == ORDERS
    assert 0 < grown(after, before, f"{latency}_sum", type="order.create") < ORDERS * 5
    buckets = sorted(
        (float(dict(labels)["le"]), count)
        for (name, labels), count in after.items()
        if name == f"{latency}_bucket" and dict(labels).get("type") == "order.create"
    )
    counts = [count for _, count in buckets]
    assert counts == sorted(counts)
    assert buckets[-1] == (float("inf"), value(after, f"{latency}_count", type="order.create"))
    assert grown(after, before, "prepay_batch_commands_sum") == handled(after)  # each once
    assert 1 <= grown(after, before, "prepay_batch_commands_count") <= handled(after)
    assert grown(after, before, "prepay_consumer_busy_seconds_total") > 0
    assert value(after, "prepay_redeliveries_total") >= 0
    assert value(after, "prepay_dead_letters_total") >= 0
    assert value(after, "prepay_outbox_pending") >= 0
    assert value(after, "prepay_outbox_oldest_age_seconds") >= 0
    assert ("prepay_outbox_pending", frozenset()) in after


def test_log_lines_carry_the_command_and_a_redelivery_is_counted(
    service: ServiceProcess, port: int
) -> None:
    order_id, customer = unique("SO"), unique("C")
    with service.client() as client:
        party(client, customer, subject=order_id)
        service.wait_for_party(customer)
        before = scrape(port)
        command_id = str(uuid.uuid4())
        with write_lock(service):
            create_order(client, order_id, customer, command_id)
            line: dict[str, Any] = wait_for_log(
                service.log_path,
                lambda x: (
                    x.get("event") == "command.retrying" and x.get("command_id") == command_id
                ),
            )
        client.expect(command_id, ["order.created"])
    assert line["correlation_id"] == command_id
    assert line["command_type"] == "order.create"
    assert line["order_id"] == order_id
    assert line["level"] == "warning" and line["logger"] == "prepay.worker"
    # The failed attempt handed the command back; it came again marked redelivered.
    deadline = time.monotonic() + 10
    while grown(scrape(port), before, "prepay_redeliveries_total") < 1:
        assert time.monotonic() < deadline, "no redelivery counted"
        time.sleep(0.1)
    wait_for_ready(port)


def taken_again(service: ServiceProcess, command_id: str) -> bool:
    """The command failed once (lock wait), its worker reconnected and got it back: its second
    attempt is waiting for the lock now, for the next few seconds."""
    lines = log_lines(service.log_path)
    events = [(x.get("event"), x.get("command_id")) for x in lines]
    if ("command.retrying", command_id) not in events:
        return False
    failed = events.index(("command.retrying", command_id))
    later = [event for event, _ in events[failed + 1 :]]
    return (
        "consumer.paused" in later and "consumer.started" in later[later.index("consumer.paused") :]
    )


def test_readyz_answers_503_from_sigterm_until_the_service_is_gone(
    service: ServiceProcess, port: int
) -> None:
    assert service.process is not None
    order_id, customer = unique("SO"), unique("C")
    with service.client() as client:
        party(client, customer, subject=order_id)
        service.wait_for_party(customer)
        with write_lock(service):
            command_id = create_order(client, order_id, customer)
            deadline = time.monotonic() + 30
            while not taken_again(service, command_id):  # in flight: the stop must wait for it
                assert time.monotonic() < deadline, "the command was not taken again"
                time.sleep(0.05)
            service.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 3
            while (ready := get(port, "/readyz"))[0] != 503 or "shutting down" not in ready[1]:
                assert time.monotonic() < deadline, ready
                time.sleep(0.02)
            assert get(port, "/healthz")[0] == 200  # alive while it drains
    assert service.process.wait(40) == 0
    with pytest.raises(OSError):
        get(port, "/readyz")
    assert Path(service.log_path).read_text().count("supervisor.stopped") == 1
