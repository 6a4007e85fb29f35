"""Bad input is answered and changes nothing; the worker carries on with the next command.

A readable envelope with a bad command is answered with `command.rejected` (code and field);
a body nobody can read is parked in the dead-letter queue with its reason, where
`prepay dead list` shows it and `prepay dead replay` sends it again.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pika
import pytest

from e2e.conftest import Client, ServiceProcess, WireEvent, assert_matches, unique
from workers import topology

pytestmark = pytest.mark.e2e

PREPAYMENT_INVOICED = ["prepayment_invoice.posted", "order.amended", "order.state_changed"]


def order_data(order_id: str, customer: str, quantity: str = "2") -> dict[str, Any]:
    return {
        "order_id": order_id,
        "side": "sales",
        "party_id": customer,
        "currency": "EUR",
        "order_date": "2026-11-27",
        "lines": [
            {"line_no": 1, "item_id": "A", "quantity": quantity, "unit_price": "50.00",
             "vat_percent": "20"},
        ],
    }  # fmt: skip


@pytest.fixture
def draft_order(sqlite_service: ServiceProcess, client: Client) -> str:
    """A draft sales order of a 20 % prepayment customer: 2 x 50.00, prepayment 20.00."""
    customer, order_id = unique("C"), unique("SO")
    client.send(
        "party.upsert",
        {"party_id": customer, "side": "sales", "name": "C", "prepayment_percent": "20"},
        subject=order_id,  # same shard as the order's commands: applied before them
    )
    client.run("order.create", order_data(order_id, customer), ["order.created"])
    return order_id


def unchanged_parts(report: dict[str, Any] | None) -> Any:
    assert report is not None
    return report["order"], report["documents"], report["payments"]


def rejected(client: Client, command_id: str) -> WireEvent:
    (event,) = client.expect(command_id, ["command.rejected"])
    assert event.data["command_id"] == command_id
    return event


def test_the_same_command_three_times_takes_effect_once(
    sqlite_service: ServiceProcess, client: Client, draft_order: str
) -> None:
    invoice_id = str(uuid.uuid4())
    for _ in range(3):
        client.send("prepayment.invoice", {"order_id": draft_order}, command_id=invoice_id)
    # Published after the copies on the same shard, so answered after them.
    payment = client.send(
        "payment.record",
        {"order_id": draft_order, "payment_id": "P1", "amount": "24.00", "currency": "EUR"},
    )
    client.expect(payment, ["payment.recorded", "order.state_changed"])
    assert [e.type for e in client.sink.answering(invoice_id)] == PREPAYMENT_INVOICED
    report = sqlite_service.report(draft_order)
    assert report is not None
    assert_matches(report["documents"], [{"document_type": "prepayment_invoice"}])
    assert_matches(report["order"], {"state": "paid", "totals": {"prepayment_invoiced": "20"}})
    # An id once rejected stays answered once, too.
    refused = str(uuid.uuid4())
    for _ in range(3):
        client.send("order.cancel", {"order_id": unique("SO-NONE")}, command_id=refused,
                    subject=draft_order)  # fmt: skip
    follow_up = client.send("order.amend", {"order_id": draft_order, "prepayment_percent": "20"})
    client.expect(follow_up, ["order.amended"])
    assert [e.type for e in client.sink.answering(refused)] == ["command.rejected"]


def test_a_missing_field_is_rejected_with_the_field(
    sqlite_service: ServiceProcess, client: Client, draft_order: str
) -> None:
    before = unchanged_parts(sqlite_service.report(draft_order))
    data = {"order_id": draft_order, "payment_id": "P1", "currency": "EUR"}  # no amount
    event = rejected(client, client.send("payment.record", data))
    assert_matches(
        event.data,
        {"code": "command.invalid", "field": "amount", "command_type": "payment.record",
         "order_id": draft_order},
    )  # fmt: skip
    assert "amount: is required" in event.data["message"]
    assert unchanged_parts(sqlite_service.report(draft_order)) == before
    client.run("prepayment.invoice", {"order_id": draft_order}, PREPAYMENT_INVOICED)


def test_a_negative_quantity_is_rejected(
    sqlite_service: ServiceProcess, client: Client, draft_order: str
) -> None:
    customer = unique("C")
    order_id = unique("SO")
    client.send(
        "party.upsert",
        {"party_id": customer, "side": "sales", "name": "C", "prepayment_percent": "20"},
        subject=order_id,
    )
    event = rejected(client, client.send("order.create", order_data(order_id, customer, "-2")))
    assert_matches(
        event.data,
        {"code": "line.negative_amount", "field": "lines.0.quantity", "state": None,
         "order_id": order_id},
    )  # fmt: skip
    assert sqlite_service.report(order_id) is None
    client.run("order.create", order_data(order_id, customer), ["order.created"])


def test_an_unknown_order_is_rejected(
    sqlite_service: ServiceProcess, client: Client, draft_order: str
) -> None:
    missing = unique("SO-MISSING")
    event = rejected(client, client.send("prepayment.invoice", {"order_id": missing}))
    assert_matches(
        event.data,
        {"code": "order.not_found", "field": "order_id", "order_id": missing, "state": None},
    )
    assert sqlite_service.report(missing) is None
    client.run("prepayment.invoice", {"order_id": draft_order}, PREPAYMENT_INVOICED)


def test_an_illegal_transition_is_rejected(
    sqlite_service: ServiceProcess, client: Client, draft_order: str
) -> None:
    before = unchanged_parts(sqlite_service.report(draft_order))
    payment = {"order_id": draft_order, "payment_id": "P1", "amount": "24.00", "currency": "EUR"}
    event = rejected(client, client.send("payment.record", payment))  # nothing invoiced yet
    assert_matches(
        event.data, {"code": "order.invalid_state", "field": "order_id", "state": "draft"}
    )
    assert "draft" in event.data["message"]
    assert unchanged_parts(sqlite_service.report(draft_order)) == before
    client.run("prepayment.invoice", {"order_id": draft_order}, PREPAYMENT_INVOICED)


def test_an_unknown_command_type_is_rejected(client: Client, draft_order: str) -> None:
    event = rejected(client, client.send("order.teleport", {"order_id": draft_order}))
    assert_matches(event.data, {"code": "command.unknown_type", "field": "type"})


def test_malformed_json_is_parked_with_its_reason_and_the_worker_carries_on(
    sqlite_service: ServiceProcess, client: Client, draft_order: str
) -> None:
    before = unchanged_parts(sqlite_service.report(draft_order))
    broken = f"broken-{uuid.uuid4()}"
    client.send_raw(
        "order.amend", b'{"specversion": "1.0", "id": "', subject=draft_order, message_id=broken
    )
    client.run("prepayment.invoice", {"order_id": draft_order}, PREPAYMENT_INVOICED)

    listed = sqlite_service.cli("dead", "list", "--json")
    assert listed.exit_code == 0, listed.output
    (letter,) = [x for x in json.loads(listed.output) if x["id"] == broken]
    assert letter["reason"].startswith("malformed message: body is not JSON")
    assert letter["routing_key"] == "order.amend"
    assert letter["subject"] == draft_order
    assert letter["body"] == '{"specversion": "1.0", "id": "'
    # Listing took nothing away.
    again = json.loads(sqlite_service.cli("dead", "list", "--json").output)
    assert [x["id"] for x in again].count(broken) == 1
    table = sqlite_service.cli("dead", "list")
    assert table.exit_code == 0 and "body is not JSON" in table.output
    after = unchanged_parts(sqlite_service.report(draft_order))
    assert after[0]["state"] == "prepayment_invoiced" and before[0]["state"] == "draft"


def test_replaying_dead_letters(
    sqlite_service: ServiceProcess, client: Client, draft_order: str
) -> None:
    # A good command parked as the consumer would park it (say the database was gone).
    parked = str(uuid.uuid4())
    envelope = {
        "specversion": "1.0", "id": parked, "source": "e2e", "type": "prepayment.invoice",
        "subject": draft_order, "data": {"order_id": draft_order},
    }  # fmt: skip
    client.publisher.channel.basic_publish(
        topology.DEAD,
        "prepayment.invoice",
        json.dumps(envelope).encode(),
        pika.BasicProperties(
            message_id=parked,
            delivery_mode=pika.DeliveryMode.Persistent,
            headers={
                "subject": draft_order,
                "x-prepay-reason": "OperationalError: database is locked",
                "x-prepay-queue": topology.shard_queue(0),
            },
        ),
    )
    # And an unreadable one without a message id: named by the hash of its body.
    client.send_raw("order.create", b"\xff not utf-8", subject=draft_order)
    unreadable = sqlite_service.wait_for_dead_letter(lambda x: x["body"].endswith("not utf-8"))
    assert unreadable["id"].startswith("sha256:")
    assert "not UTF-8" in unreadable["reason"]
    listed = sqlite_service.wait_for_dead_letter(lambda x: x["id"] == parked)
    assert listed["reason"] == "OperationalError: database is locked"

    replayed = sqlite_service.cli("dead", "replay", "--id", parked)
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed {parked} (prepayment.invoice)" in replayed.output
    client.expect(parked, PREPAYMENT_INVOICED)
    assert parked not in [x["id"] for x in sqlite_service.dead_letters()]

    # A letter that is still bad comes back, reason and all: replaying never loses it.
    replayed = sqlite_service.cli("dead", "replay", "--id", unreadable["id"])
    assert replayed.exit_code == 0, replayed.output
    back = sqlite_service.wait_for_dead_letter(lambda x: x["id"] == unreadable["id"])
    assert back["reason"] == unreadable["reason"] and back["routing_key"] == "order.create"

    # Everything at once: all of them are still unreadable, so all of them come back.
    parked_now = sorted(x["id"] for x in sqlite_service.dead_letters())
    replayed = sqlite_service.cli("dead", "replay", "--all")
    assert replayed.exit_code == 0, replayed.output
    assert f"{len(parked_now)} dead letter(s) replayed" in replayed.output
    deadline = time.monotonic() + 30
    while sorted(x["id"] for x in sqlite_service.dead_letters()) != parked_now:
        assert time.monotonic() < deadline, "replayed dead letters did not come back"
        time.sleep(0.1)

    missing = sqlite_service.cli("dead", "replay", "--id", "no-such-letter")
    assert missing.exit_code == 1
    assert sqlite_service.cli("dead", "replay").exit_code == 2
