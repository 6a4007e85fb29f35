"""Several worker processes (`prepay serve --workers 3`): orders published interleaved end
exactly as the domain applying each order's commands serially says they must, every event
once; a worker killed mid-stream is started again and nothing is lost or done twice.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.conftest import Broker, Client, ServiceProcess, WireEvent, running_service, unique
from e2e.reference import (
    Model,
    compare_reports,
    publish_interleaved,
    without_document_numbers,
    worker_pids,
)

pytestmark = pytest.mark.e2e

WORKERS = 3
ORDERS = 200
EVENTS_PER_ORDER = [
    ["order.created"],
    ["prepayment_invoice.posted", "order.amended", "order.state_changed"],
    ["payment.recorded", "order.state_changed"],
    ["invoice.posted", "order.amended", "order.state_changed"],
]
PER_ORDER = sum(map(len, EVENTS_PER_ORDER))


@pytest.fixture(scope="module")
def workers(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("workers")
    url = f"sqlite:///{folder / 'prepay.db'}"
    with running_service(broker, url, folder, workers=WORKERS) as service:
        yield service


def life_cycle(model: Model, customer: str, index: int) -> list[tuple[str, dict[str, Any], str]]:
    """Create (2 lines), prepayment invoice, pay it in full, final invoice; the figures vary
    with `index`, the payment is whatever the model says the prepayment invoice is."""
    order_id = f"SO-{index:04d}-{uuid.uuid4().hex[:6]}"
    steps: list[tuple[str, dict[str, Any], str]] = []

    def step(command_type: str, data: dict[str, Any]) -> list[Any]:
        command_id = str(uuid.uuid4())
        steps.append((command_type, data, command_id))
        return model.apply(command_type, data, command_id).events

    step(
        "order.create",
        {
            "order_id": order_id, "side": "sales", "party_id": customer, "currency": "EUR",
            "order_date": "2026-11-27", "prepayment_percent": ["10", "25", "30", "50"][index % 4],
            "lines": [
                {"line_no": 1, "item_id": "A", "quantity": str(1 + index % 5),
                 "unit_price": f"{10 + index % 17}.{index % 100:02d}", "vat_percent": "19"},
                {"line_no": 2, "item_id": "B", "quantity": str(2 + index % 3),
                 "unit_price": "7.35", "line_discount_percent": str(index % 4 * 5),
                 "vat_percent": "7"},
            ],
        },
    )  # fmt: skip
    posted = step("prepayment.invoice", {"order_id": order_id})[0]
    payment = {"order_id": order_id, "payment_id": f"P-{index}", "currency": "EUR"}
    step("payment.record", payment | {"amount": str(posted.data["amount_due"])})
    step("order.invoice", {"order_id": order_id})
    return steps


def wait_for_all(client: Client, expected: int, timeout: float) -> list[WireEvent]:
    client.sink.wait_until(lambda: len(client.sink.events) >= expected, timeout, "every event")
    # Anything sent twice would follow within moments.
    settle = time.monotonic() + 1.0
    client.sink.wait_until(lambda: time.monotonic() > settle, 5.0)
    return client.sink.events


def set_up_customer(service: ServiceProcess, client: Client, model: Model) -> str:
    customer = unique("C")
    party = {"party_id": customer, "side": "sales", "name": "C", "prepayment_percent": "30"}
    model.apply("party.upsert", party, client.send("party.upsert", party))
    service.wait_for_party(customer)
    return customer


def check_against_model(
    service: ServiceProcess,
    model: Model,
    plans: list[list[tuple[str, dict[str, Any], str]]],
    events: list[WireEvent],
) -> None:
    assert not [e for e in events if e.type == "command.rejected"]
    assert len({e.id for e in events}) == len(events), "an event id was published twice"
    per_command = Counter(e.correlation_id for e in events)
    for plan in plans:
        order_id = plan[0][1]["order_id"]
        for (_, _, command_id), types in zip(plan, EVENTS_PER_ORDER, strict=True):
            assert per_command[command_id] == len(types), (order_id, command_id)
        wire = [{"type": e.type, "data": e.data} for e in events if e.subject == order_id]
        assert without_document_numbers(wire) == without_document_numbers(model.events[order_id])
        compare_reports(service.report(order_id), model, order_id)


def test_interleaved_orders_on_three_workers_end_as_on_one(workers: ServiceProcess) -> None:
    model = Model()
    with workers.client() as client:
        customer = set_up_customer(workers, client, model)
        plans = [life_cycle(model, customer, i) for i in range(ORDERS)]
        publish_interleaved(client.send, plans, seed=20261127)
        events = wait_for_all(client, ORDERS * PER_ORDER, timeout=90)
    assert len(events) == ORDERS * PER_ORDER
    check_against_model(workers, model, plans, events)
    # The series stay gapless with several writers: every number used exactly once.
    numbers = sorted(e.data["document_no"] for e in events if "document_no" in e.data)
    expected = [f"{p}-{n:06d}" for p in ("INV", "PPI") for n in range(1, ORDERS + 1)]
    assert numbers == expected


def test_a_killed_worker_is_restarted_and_nothing_is_lost_or_doubled(
    workers: ServiceProcess,
) -> None:
    model = Model()
    orders = 30
    assert workers.process is not None
    before = worker_pids(workers.process.pid)
    assert len(before) == WORKERS
    with workers.client() as client:
        customer = set_up_customer(workers, client, model)
        plans = [life_cycle(model, customer, i) for i in range(orders)]
        publish_interleaved(client.send, plans[: orders // 2], seed=1)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)  # no goodbye: its unacknowledged commands come back
        publish_interleaved(client.send, plans[orders // 2 :], seed=2)
        events = wait_for_all(client, orders * PER_ORDER, timeout=90)
    check_against_model(workers, model, plans, events)
    after = worker_pids(workers.process.pid)
    assert len(after) == WORKERS and victim not in after
    assert workers.alive
