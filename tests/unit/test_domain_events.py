"""Events in the contract's order: the document or record produced, then the whole order
(`order.created` / `order.amended`) when its lines or prepayment fields changed, then
`order.state_changed` if the state moved."""

from __future__ import annotations

from datetime import date

from builders import (
    D,
    Harness,
    amend,
    cancel,
    credit,
    customer,
    data,
    invoice,
    line,
    order,
    pay,
    prepay,
    rule,
    set_total,
    types,
    update,
)

from workflows.commands import Command
from workflows.memory import InMemoryUnitOfWork


def test_the_event_sequence_of_each_command(app: Harness) -> None:
    assert app.ok(customer("C1", "30"), rule("A", "all", "10")) == []
    steps: list[tuple[Command, list[str]]] = [
        (order(line(1, "10", "100.00", vat="19")), ["order.created"]),
        (amend(update_lines=(update(1, quantity="11"),)), ["order.amended"]),
        (set_total("330.00"), ["order.amended"]),
        (
            prepay(),
            ["prepayment_invoice.posted", "order.amended", "order.state_changed"],
        ),
        (pay("100.00"), ["payment.recorded", "order.state_changed"]),
        (pay("100.00"), ["payment.recorded"]),
        (
            credit(),
            ["prepayment_credit_memo.posted", "order.amended", "order.state_changed"],
        ),
        (amend(prepayment_percent=D("20")), ["order.amended"]),
        (prepay(), ["prepayment_invoice.posted", "order.amended", "order.state_changed"]),
        (pay("261.80"), ["payment.recorded", "order.state_changed"]),
        (invoice("SO-1", (1, "1")), ["invoice.posted", "order.amended", "order.state_changed"]),
        (invoice(), ["invoice.posted", "order.amended", "order.state_changed"]),
    ]
    for command, expected in steps:
        assert types(app.ok(command)) == expected, command
    app.ok(order(line(1, "1", "1.00"), order_id="SO-2"))
    assert types(app.ok(cancel("SO-2"))) == ["order.cancelled", "order.state_changed"]
    # the outbox holds every accepted command's events in the order they were emitted
    assert [e.type for e in app.store.outbox[:1]] == ["order.created"]
    assert [e.subject for e in app.store.outbox] == ["SO-1"] * 24 + ["SO-2"] * 3


def test_order_created_carries_the_whole_order(app: Harness) -> None:
    app.ok(customer("C1", "30"))
    events = app.ok(
        order(
            line(1, "10", "100.00", vat="19", description="Widget"),
            line(2, "1", "50.00", percent="0"),
        )
    )
    created = data(events, "order.created")
    assert {k: created[k] for k in ("order_id", "state", "side", "party_id", "currency")} == {
        "order_id": "SO-1",
        "state": "draft",
        "side": "sales",
        "party_id": "C1",
        "currency": "EUR",
    }
    assert created["order_date"] == created["posting_date"] == date(2026, 11, 27)
    assert created["prepayment_percent"] == D("30")
    assert created["compress_prepayment"] is True
    assert created["lines"][0] == {
        "line_no": 1,
        "item_id": "ITEM-1",
        "description": "Widget",
        "quantity": D("10"),
        "unit_price": D("100.00"),
        "line_discount_percent": D("0"),
        "vat_percent": D("19"),
        "line_amount": D("1000.00"),
        "prepayment_percent": D("30"),
        "prepayment_line_amount": D("300.00"),
        "prepayment_invoiced": D("0"),
        "prepayment_vat_invoiced": D("0"),
        "prepayment_deducted": D("0"),
        "prepayment_vat_deducted": D("0"),
        "quantity_invoiced": D("0"),
        "amount_invoiced": D("0"),
    }
    assert created["totals"] == {
        "line_amount": D("1050.00"),  # 1000.00 + 50.00
        "prepayment_line_amount": D("300.00"),  # 300.00 + 0.00
        "prepayment_invoiced": D("0"),
        "prepayment_deducted": D("0"),
        "prepayment_paid": D("0"),
        "prepayment_outstanding": D("0"),
        "unapplied_credit": D("0"),
    }


def test_order_amended_after_a_posting_shows_the_new_figures(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00", vat="19")))
    events = app.ok(prepay())
    amended = data(events, "order.amended")
    assert amended["state"] == "prepayment_invoiced"
    assert amended["lines"][0]["prepayment_invoiced"] == D("300.00")
    assert amended["lines"][0]["prepayment_vat_invoiced"] == D("57.00")
    assert amended["totals"]["prepayment_outstanding"] == D("357.00")  # 300.00 + 57.00
    events = app.ok(pay("357.00"), invoice("SO-1", (1, "5")))
    amended = data(events, "order.amended")
    # round(300.00 x 5/10) = 150.00 deducted
    assert amended["totals"]["prepayment_deducted"] == D("150.00")
    assert amended["lines"][0]["quantity_invoiced"] == D("5")
    assert amended["lines"][0]["amount_invoiced"] == D("500.00")


def test_events_of_an_order_are_kept_in_its_history(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "1", "100.00")), prepay())
    app.process(prepay())  # refused: the rejection belongs to the order's history too
    assert [e.type for e in app.store.history["SO-1"]] == [
        "order.created",
        "prepayment_invoice.posted",
        "order.amended",
        "order.state_changed",
        "command.rejected",
    ]


def test_an_orders_history_and_documents_can_be_replayed(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "1", "100.00")), prepay(), pay("30.00"))
    uow = InMemoryUnitOfWork(app.store)
    assert [e.type for e in uow.history.for_order("SO-1")] == [
        "order.created",
        "prepayment_invoice.posted",
        "order.amended",
        "order.state_changed",
        "payment.recorded",
        "order.state_changed",
    ]
    assert [d.document_no for d in uow.documents.for_order("SO-1")] == ["PPI-000001"]
    assert uow.history.for_order("SO-9") == []
