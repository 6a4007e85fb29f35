"""Hostile input to the running service (the generated messages of `faults.hostile`, sent
through RabbitMQ): each is answered by `command.rejected` or parked as a dead letter with its
reason, the worker never dies, no order changes, and `prepay reconcile` stays clean.
`tests/faults/test_hostile_input.py` runs many more of them through the worker's core."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pika
import pytest
from faults.hostile import Hostile, new_world, one_of_each
from hypothesis import HealthCheck, given, settings

from e2e.conftest import Client, ServiceProcess
from workers.store import SqlUnitOfWork

pytestmark = pytest.mark.e2e

WORLD = new_world()
TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def world(sqlite_service: ServiceProcess) -> ServiceProcess:
    with sqlite_service.client() as client:
        for command_type, data, command_id in WORLD.setup():
            client.send(command_type, data, command_id=command_id)
        client.expect(f"{WORLD.invoiced_order}-invoice", ["prepayment_invoice.posted",
                      "order.amended", "order.state_changed"])  # fmt: skip
    return sqlite_service


def state(service: ServiceProcess) -> Any:
    reports = []
    for order_id in (WORLD.draft_order, WORLD.invoiced_order):
        report = service.report(order_id)
        assert report is not None
        reports.append((report["order"], report["documents"], report["payments"]))
    with SqlUnitOfWork(service.engine, read_only=True) as uow:
        parties = [uow.parties.get(WORLD.customer), uow.parties.get(f"{WORLD.customer}-NEW")]
    return reports, parties


def send(client: Client, message: Hostile) -> None:
    properties = pika.BasicProperties(
        message_id=message.message_id,
        type=message.routing_key,
        delivery_mode=pika.DeliveryMode.Persistent,
        headers={"subject": message.subject},
    )
    client.publisher.publish_raw(message.routing_key, message.body, properties)


def dead_letter_ids(service: ServiceProcess) -> Counter[str]:
    return Counter(letter["id"] for letter in service.dead_letters())


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(messages=one_of_each(WORLD))
def test_hostile_messages_to_the_service(
    world: ServiceProcess, client: Client, messages: list[Hostile]
) -> None:
    before, parked_before = state(world), dead_letter_ids(world)
    for message in messages:
        send(client, message)
    expect_dead = Counter(m.message_id for m in messages if m.dead)
    expect_rejected = {m.message_id for m in messages if not m.dead}
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        client.sink.wait_until(lambda: True, 0.2)
        client.sink.connection.process_data_events(time_limit=0.2)
        answered = {
            e.data["command_id"] for e in client.sink.events if e.type == "command.rejected"
        }
        parked = dead_letter_ids(world) - parked_before
        if expect_rejected <= answered and all(parked[i] >= n for i, n in expect_dead.items()):
            break
        missing = sorted(expect_rejected - answered) + sorted(set(expect_dead) - set(parked))
        labels = [m.label for m in messages if m.message_id in missing]
        assert time.monotonic() < deadline, f"unanswered: {labels}"
    reasons = {x["id"]: x["reason"] for x in world.dead_letters() if x["id"] in expect_dead}
    assert all(
        r.startswith(("malformed message: ", "command id reused: ")) for r in reasons.values()
    )
    assert world.alive
    assert state(world) == before


def test_after_the_hostile_input_the_service_still_works_and_reconciles(
    world: ServiceProcess, client: Client
) -> None:
    client.run("prepayment.invoice", {"order_id": WORLD.draft_order},
               ["prepayment_invoice.posted", "order.amended", "order.state_changed"])  # fmt: skip
    result = world.cli("reconcile")
    assert result.exit_code == 0, result.output
