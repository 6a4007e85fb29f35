"""`prepay demo`: a sales order and a purchase order through the running service, as an
upstream system would send them, with every document that comes back.

The sales order: the customer's setup, the order, a prepayment invoice, an amendment that
raises the prepayment and a second prepayment invoice for the difference, the payment of both,
and the final invoice that deducts what was prepaid. The purchase order (prices include VAT):
the vendor, the order, a prepayment invoice, its payment, and the final invoice.

Setup commands answer with no event, so they are sent with the order's id as their `subject`
(the ordering key): they land in the order's shard queue and take effect before the order.
Each other command waits for the event that answers it (same correlation id); a
`command.rejected` answer stops the demo with its message.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from workers import topology
from workers.amqp import connect
from workers.publishing import CommandPublisher

Document = dict[str, Any]


class DemoFailed(Exception):
    pass


class Conversation:
    """Commands out through `prepay.commands`, answers in from a private queue on
    `prepay.events` bound before the first command is sent."""

    def __init__(self, amqp_url: str, shards: int, timeout: float) -> None:
        self.timeout = timeout
        self.connection = connect(amqp_url)
        listening = self.connection.channel()
        topology.declare(listening, shards)
        queue = listening.queue_declare("", exclusive=True, auto_delete=True).method.queue
        listening.queue_bind(queue, topology.EVENTS, "#")
        self.arrivals = listening.consume(queue, auto_ack=True, inactivity_timeout=0.1)
        sending = self.connection.channel()
        sending.confirm_delivery()
        self.publisher = CommandPublisher(sending)
        self.answers: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()

    def tell(self, command_type: str, data: dict[str, Any], subject: str) -> None:
        """A command nothing answers (setup)."""
        self.publisher.publish(command_type, data, subject=subject, source="prepay-demo")

    def ask(self, command_type: str, data: dict[str, Any], answer: str) -> dict[str, Any]:
        """Send a command; the data of the `answer` event it caused."""
        command_id = self.publisher.publish(command_type, data, source="prepay-demo")
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.answers.pop(command_id, []):
                if event["type"] == "command.rejected":
                    why = event["data"]
                    raise DemoFailed(f"{command_type} rejected: {why['code']}: {why['message']}")
                if event["type"] == answer:
                    return dict(event["data"])
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"no answer to {command_type} within {self.timeout:g} s: "
                    "is `prepay serve` running against this broker?"
                )
            method, _properties, body = next(self.arrivals)
            if method is not None:
                event = json.loads(body)
                self.answers[str(event.get("correlationid"))].append(event)


def run(
    amqp_url: str,
    shards: int,
    *,
    on_step: Callable[[str], None],
    on_document: Callable[[Document, str], None],
    timeout: float = 30.0,
    today: date | None = None,
) -> list[Document]:
    """Both stories; returns every document posted, in order."""
    day = (today or date.today()).isoformat()
    run_id = uuid.uuid4().hex[:6].upper()
    conversation = Conversation(amqp_url, shards, timeout)
    documents: list[Document] = []

    def posted(document: Document, order_id: str) -> None:
        documents.append(document)
        on_document(document, order_id)

    try:
        for step in sales_story(conversation, f"SO-DEMO-{run_id}", day, posted):
            on_step(step)
        for step in purchase_story(conversation, f"PO-DEMO-{run_id}", day, posted):
            on_step(step)
    finally:
        conversation.close()
    return documents


def sales_story(
    talk: Conversation, order_id: str, day: str, posted: Callable[[Document, str], None]
) -> Iterator[str]:
    customer = "DEMO-CUSTOMER"
    talk.tell(
        "party.upsert",
        {"party_id": customer, "side": "sales", "name": "Demo Customer Ltd",
         "prepayment_percent": "30", "payment_terms": {"due_days": 14}},
        subject=order_id,
    )  # fmt: skip
    yield f"party.upsert      {customer}: sales, 30 % prepayment, due in 14 days"
    created = talk.ask(
        "order.create",
        {
            "order_id": order_id, "side": "sales", "party_id": customer, "currency": "EUR",
            "order_date": day,
            "lines": [
                {"line_no": 1, "item_id": "BOLT-8", "description": "Bolts", "quantity": "10",
                 "unit_price": "12.35", "vat_percent": "19"},
                {"line_no": 2, "item_id": "DRILL-2", "description": "Drills", "quantity": "3",
                 "unit_price": "99.99", "line_discount_percent": "10", "vat_percent": "7"},
            ],
        },
        "order.created",
    )  # fmt: skip
    totals = created["totals"]
    yield (
        f"order.create      {order_id}: {totals['line_amount']} EUR net, "
        f"prepayment {totals['prepayment_line_amount']}"
    )
    first = talk.ask("prepayment.invoice", {"order_id": order_id}, "prepayment_invoice.posted")
    yield f"prepayment.invoice {order_id}: {first['document_no']}"
    posted(first, order_id)
    talk.ask(
        "order.amend",
        {"order_id": order_id, "update_lines": [{"line_no": 1, "quantity": "14"}]},
        "order.amended",
    )
    yield f"order.amend       {order_id}: line 1 from 10 to 14 bolts, more prepayment due"
    second = talk.ask("prepayment.invoice", {"order_id": order_id}, "prepayment_invoice.posted")
    yield f"prepayment.invoice {order_id}: {second['document_no']} for the difference"
    posted(second, order_id)
    yield from _pay(talk, order_id, [first, second], "DEMO-PAY")
    final = talk.ask("order.invoice", {"order_id": order_id}, "invoice.posted")
    yield f"order.invoice     {order_id}: {final['document_no']}, the prepayment deducted"
    posted(final, order_id)


def purchase_story(
    talk: Conversation, order_id: str, day: str, posted: Callable[[Document, str], None]
) -> Iterator[str]:
    vendor = "DEMO-VENDOR"
    talk.tell(
        "party.upsert",
        {"party_id": vendor, "side": "purchase", "name": "Demo Vendor GmbH",
         "prepayment_percent": "50"},
        subject=order_id,
    )  # fmt: skip
    yield f"party.upsert      {vendor}: purchase, 50 % prepayment"
    created = talk.ask(
        "order.create",
        {
            "order_id": order_id, "side": "purchase", "party_id": vendor, "currency": "EUR",
            "order_date": day, "prices_include_vat": True,
            "lines": [
                {"line_no": 1, "item_id": "PUMP-1", "description": "Pump", "quantity": "4",
                 "unit_price": "250.00", "vat_percent": "19"},
                {"line_no": 2, "item_id": "HOSE-5", "description": "Hose", "quantity": "6",
                 "unit_price": "15.50", "vat_percent": "19"},
            ],
        },
        "order.created",
    )  # fmt: skip
    totals = created["totals"]
    yield (
        f"order.create      {order_id}: {totals['line_amount']} EUR incl. VAT, "
        f"prepayment {totals['prepayment_line_amount']}"
    )
    invoice = talk.ask(
        "prepayment.invoice",
        {"order_id": order_id, "external_document_no": f"V-{order_id}-1"},
        "prepayment_invoice.posted",
    )
    yield f"prepayment.invoice {order_id}: {invoice['document_no']}"
    posted(invoice, order_id)
    yield from _pay(talk, order_id, [invoice], "DEMO-OUT")
    final = talk.ask(
        "order.invoice",
        {"order_id": order_id, "external_document_no": f"V-{order_id}-2"},
        "invoice.posted",
    )
    yield f"order.invoice     {order_id}: {final['document_no']}, the prepayment deducted"
    posted(final, order_id)


def _pay(talk: Conversation, order_id: str, invoices: list[Document], prefix: str) -> Iterator[str]:
    amount = sum((Decimal(str(i["amount_due"])) for i in invoices), Decimal("0"))
    payment_id = f"{prefix}-{order_id}"
    recorded = talk.ask(
        "payment.record",
        {"order_id": order_id, "payment_id": payment_id, "amount": str(amount), "currency": "EUR"},
        "payment.recorded",
    )
    applied = ", ".join(f"{a['document_no']} {a['amount']}" for a in recorded["applied"])
    yield f"payment.record    {order_id}: {payment_id} {amount} EUR applied to {applied}"
