"""Errors (spec section 6): a stable code, a message naming the order, line and values, the
field at fault; a refused command changes nothing and is answered once."""

from __future__ import annotations

import copy

import pytest
from builders import (
    D,
    Harness,
    amend,
    cancel,
    credit,
    customer,
    invoice,
    line,
    order,
    pay,
    prepay,
    set_total,
    update,
)

from workflows.bus import reject
from workflows.commands import Command
from workflows.errors import ValidationFailed
from workflows.memory import InMemoryUnitOfWork


@pytest.fixture
def paid(app: Harness) -> Harness:
    """Line 1: 10 x 100.00 at 30 % (300.00 invoiced and paid); line 2: -1 x 50.00 at 0 %."""
    app.ok(customer("C1", "30"))
    app.ok(order(line(1, "10", "100.00"), line(2, "-1", "50.00", percent="0")), prepay())
    app.ok(pay("300.00"))
    return app


@pytest.mark.parametrize(
    ("command", "code"),
    [
        # the update passes on a copy of line 1; then the added line is a duplicate
        (
            amend(
                update_lines=(update(1, quantity="12", prepayment_percent="40"),),
                add_lines=(line(2, "1", "1.00"),),
            ),
            "line.duplicate_line_no",
        ),
        # the second update of line 1 would bring it to 1 x 100.00 x 30 % = 30.00 < 300.00
        (
            amend(update_lines=(update(1, quantity="12"), update(1, quantity="1"))),
            "prepayment.amount_below_invoiced",
        ),
        (set_total("200.00"), "prepayment.total_out_of_range"),  # below the 300.00 invoiced
        (credit("SO-1", 1, 2), "prepayment.nothing_to_credit"),  # line 1 passes, line 2 not
        (invoice("SO-1", (1, "1"), (2, "-1"), (1, "1")), "invoice.quantity_exceeds_remaining"),
        (invoice("SO-1", (2, "-1")), "invoice.negative_amount_due"),  # -50.00
        (pay("10.00", currency="USD"), "payment.currency_mismatch"),
        (cancel(), "order.cancel_requires_credit_memo"),
    ],
)
def test_a_refused_command_leaves_the_order_as_it_was(
    paid: Harness, command: Command, code: str
) -> None:
    before = copy.deepcopy(paid.order())
    documents = copy.deepcopy(paid.documents())
    outcome = paid.process(command)
    assert outcome.error is not None
    assert outcome.error.code == code
    assert paid.order() == before
    assert paid.order().version == before.version
    assert paid.documents() == documents


def test_a_refusal_is_answered_with_command_rejected_only(paid: Harness) -> None:
    outcome = paid.process(set_total("200.00"), "cmd-42")
    assert outcome.rejected
    (event,) = outcome.events
    assert event.type == "command.rejected"
    assert event.subject == "SO-1"
    assert event.data == {
        "order_id": "SO-1",
        "state": "paid",
        "command_id": "cmd-42",
        "command_type": "prepayment.set_total",
        "code": "prepayment.total_out_of_range",
        "message": "order SO-1: total 200.00 must lie between the 300.00 already invoiced and "
        "the 1000.00 of the lines",
        "field": "amount",
    }
    assert paid.store.outbox[-1] is event
    assert paid.store.history["SO-1"][-1] is event
    assert "cmd-42" in paid.store.inbox


def test_a_refused_setup_command_names_no_order(app: Harness) -> None:
    outcome = app.process(customer("C1", "120"))
    assert outcome.events[0].data["order_id"] is None
    assert outcome.events[0].data["state"] is None
    assert outcome.events[0].data["command_type"] == "party.upsert"
    assert outcome.events[0].data["field"] == "prepayment_percent"


def test_a_redelivered_command_takes_effect_once(paid: Harness) -> None:
    paid.ok(amend(update_lines=(update(1, quantity="12"),)), prepay())  # +60.00 open
    first = paid.process(pay("60.00", payment_id="P-2"), "cmd-pay")
    assert not first.rejected and not first.duplicate
    outbox = len(paid.store.outbox)
    again = paid.process(pay("60.00", payment_id="P-2"), "cmd-pay")
    assert again.duplicate and again.events == []
    assert paid.order().prepayment_paid == D("360.00")  # 300.00 + 60.00, once
    assert len(paid.store.outbox) == outbox


def test_a_refused_command_is_answered_once(paid: Harness) -> None:
    paid.process(cancel(), "cmd-cancel")
    outbox = len(paid.store.outbox)
    again = paid.process(cancel(), "cmd-cancel")
    assert again.duplicate and again.events == []
    assert len(paid.store.outbox) == outbox


@pytest.mark.parametrize(
    "command",
    [
        amend("SO-9", prepayment_percent=D("1")),
        set_total("1.00", "SO-9"),
        prepay("SO-9"),
        credit("SO-9"),
        pay("1.00", "SO-9"),
        invoice("SO-9"),
        cancel("SO-9"),
    ],
)
def test_an_unknown_order_is_named(app: Harness, command: Command) -> None:
    error = app.refuse(command)
    assert (error.code, error.field) == ("order.not_found", "order_id")
    assert error.message == "order SO-9 does not exist"


@pytest.mark.parametrize(
    ("command", "code", "field", "words"),
    [
        (
            amend(update_lines=(update(1, prepayment_percent="20"),)),
            "prepayment.amount_below_invoiced",
            "update_lines.0.prepayment_line_amount",
            ["order SO-1 line 1", "200.00", "300.00"],  # 1000.00 x 20 % below 300.00
        ),
        (
            amend(remove_lines=(1,)),
            "line.delete_requires_credit_memo",
            "remove_lines.0",
            ["order SO-1 line 1", "300.00 EUR"],
        ),
        (
            amend(update_lines=(update(1, quantity="-1"),)),
            "line.negative_amount",
            "update_lines.0.quantity",
            ["order SO-1 line 1", "quantity -1", "30 %"],
        ),
        (
            invoice("SO-1", (1, "11")),
            "invoice.quantity_exceeds_remaining",
            "lines.0.quantity",
            ["order SO-1 line 1", "11", "10 remains"],
        ),
        (
            pay("1.001"),
            "payment.invalid_amount",
            "amount",
            ["order SO-1", "1.001", "EUR"],
        ),
    ],
)
def test_a_message_names_the_order_the_line_and_the_values(
    paid: Harness, command: Command, code: str, field: str, words: list[str]
) -> None:
    error = paid.refuse(command)
    assert (error.code, error.field) == (code, field)
    for word in words:
        assert word in error.message


def test_the_orders_percent_reaches_every_line_and_its_guards(paid: Harness) -> None:
    # 40 % would apply to line 2 too, whose quantity is negative
    error = paid.refuse(amend(prepayment_percent=D("40")))
    assert (error.code, error.field) == ("line.negative_amount", "prepayment_percent")
    assert "order SO-1 line 2" in error.message


def test_a_message_refused_before_it_became_a_command_is_answered_once(app: Harness) -> None:
    error = ValidationFailed("lines.0.quantity: not a decimal", field="lines.0.quantity")
    first = reject("cmd-bad", "order.create", error, InMemoryUnitOfWork(app.store), order_id="X")
    assert [e.data["code"] for e in first.events] == ["command.invalid"]
    assert first.events[0].data["state"] is None  # no such order
    again = reject("cmd-bad", "order.create", error, InMemoryUnitOfWork(app.store), order_id="X")
    assert again.duplicate and again.events == []
    assert len(app.store.outbox) == 1
