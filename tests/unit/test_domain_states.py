"""The order state machine (spec section 4.7): every state is reached, every transition is
announced, and a command the current state does not allow is refused naming the state."""

from __future__ import annotations

from collections.abc import Callable

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

from workflows.commands import Command
from workflows.lifecycle import STATES


def state_changes(app: Harness, order_id: str = "SO-1") -> list[tuple[str, str, str]]:
    return [
        (e.data["from"], e.data["to"], e.data["trigger"])
        for e in app.store.history[order_id]
        if e.type == "order.state_changed"
    ]


def test_the_life_of_an_order_reaches_every_state(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00", vat="19")))
    seen = [app.state()]
    for command in (
        prepay(),  # 300.00 + 57.00 = 357.00
        pay("100.00"),
        pay("257.00"),
        amend(update_lines=(update(1, quantity="12"),)),
        prepay(),  # + 60.00 + 11.40 = 71.40
        pay("71.40"),
        invoice("SO-1", (1, "6")),
        invoice(),
    ):
        app.ok(command)
        seen.append(app.state())
    app.ok(order(line(1, "1", "1.00"), order_id="SO-2"), cancel("SO-2"))
    seen.append(app.state("SO-2"))
    assert seen == [
        "draft",
        "prepayment_invoiced",
        "partially_paid",
        "paid",
        "amended",
        "partially_paid",  # the first invoice is paid, the new one is not
        "paid",
        "partially_invoiced",
        "final_invoiced",
        "cancelled",
    ]
    assert set(seen) == set(STATES)
    # every move is announced once, each starting where the previous one ended
    assert state_changes(app) == [
        ("draft", "prepayment_invoiced", "invoice_prepayment"),
        ("prepayment_invoiced", "partially_paid", "record_payment"),
        ("partially_paid", "paid", "record_payment"),
        ("paid", "amended", "amend"),
        ("amended", "partially_paid", "invoice_prepayment"),
        ("partially_paid", "paid", "record_payment"),
        ("paid", "partially_invoiced", "invoice"),
        ("partially_invoiced", "final_invoiced", "invoice"),
    ]
    assert state_changes(app, "SO-2") == [("draft", "cancelled", "cancel")]


def test_every_event_carries_the_state_after_the_change(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00")))
    for command in (prepay(), pay("300.00"), invoice()):
        events = app.ok(command)
        assert {e.data["state"] for e in events} == {app.state()}
        assert {e.data["order_id"] for e in events} == {"SO-1"}


def test_a_command_that_does_not_move_the_state_announces_no_move(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00")))
    events = app.ok(amend(update_lines=(update(1, quantity="11"),)))
    assert [e.type for e in events] == ["order.amended"]
    assert app.state() == "draft"


# Each builder leaves SO-1 in the named state.
def _draft(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00")))


def _prepayment_invoiced(app: Harness) -> None:
    _draft(app)
    app.ok(prepay())


def _partially_paid(app: Harness) -> None:
    _prepayment_invoiced(app)
    app.ok(pay("100.00"))


def _paid(app: Harness) -> None:
    _prepayment_invoiced(app)
    app.ok(pay("300.00"))


def _amended(app: Harness) -> None:
    _paid(app)
    app.ok(amend(prepayment_percent=D("40")))


def _partially_invoiced(app: Harness) -> None:
    _paid(app)
    app.ok(invoice("SO-1", (1, "1")))


def _final_invoiced(app: Harness) -> None:
    _paid(app)
    app.ok(invoice())


def _cancelled(app: Harness) -> None:
    _draft(app)
    app.ok(cancel())


BUILDERS: dict[str, Callable[[Harness], None]] = {
    "draft": _draft,
    "prepayment_invoiced": _prepayment_invoiced,
    "partially_paid": _partially_paid,
    "paid": _paid,
    "amended": _amended,
    "partially_invoiced": _partially_invoiced,
    "final_invoiced": _final_invoiced,
    "cancelled": _cancelled,
}

EVERY_COMMAND: dict[str, Command] = {
    "amend": amend(update_lines=(update(1, quantity="12"),)),
    "set_total": set_total("400.00"),
    "prepay": prepay(),
    "credit": credit(),
    "pay": pay("1.00"),
    "invoice": invoice("SO-1", (1, "1")),
    "cancel": cancel(),
}

ILLEGAL = [
    ("draft", "credit"),
    ("draft", "pay"),
    ("prepayment_invoiced", "prepay"),
    ("partially_paid", "prepay"),
    ("paid", "prepay"),
    ("amended", "invoice"),
    ("partially_invoiced", "prepay"),
    ("partially_invoiced", "cancel"),
    *(("final_invoiced", name) for name in EVERY_COMMAND if name != "pay"),
    *(("cancelled", name) for name in EVERY_COMMAND),
]


@pytest.mark.parametrize(("state", "command"), ILLEGAL)
def test_a_command_the_state_does_not_allow_is_refused_naming_it(
    app: Harness, state: str, command: str
) -> None:
    BUILDERS[state](app)
    assert app.state() == state
    error = app.refuse(EVERY_COMMAND[command])
    assert (error.code, error.field) == ("order.invalid_state", "order_id")
    assert error.message.startswith(f"order SO-1 is {state}:")
    assert "allowed in:" in error.message


def test_the_rejection_event_names_the_state(app: Harness) -> None:
    _paid(app)
    outcome = app.process(prepay(), "cmd-x")
    assert outcome.events[0].data == {
        "order_id": "SO-1",
        "state": "paid",
        "command_id": "cmd-x",
        "command_type": "prepayment.invoice",
        "code": "order.invalid_state",
        "message": outcome.error.message if outcome.error else None,
        "field": "order_id",
    }


def test_cancelling_a_draft_order(app: Harness) -> None:
    _draft(app)
    events = app.ok(cancel())
    assert [e.type for e in events] == ["order.cancelled", "order.state_changed"]
    assert events[0].data == {"order_id": "SO-1", "state": "cancelled", "reason": cancel().reason}
    assert state_changes(app) == [("draft", "cancelled", "cancel")]


def test_a_payment_is_recorded_after_the_final_invoice_without_the_check(app: Harness) -> None:
    app.ok(customer("C1", "30", check=False), order(line(1, "10", "100.00")), prepay())
    app.ok(invoice())
    assert app.state() == "final_invoiced"
    assert app.order().prepayment_outstanding == D("300.00")
    # the prepayment invoice is still open and must be payable
    app.ok(pay("300.00"))
    assert app.order().prepayment_outstanding == D("0.00")
    assert app.state() == "final_invoiced"


def test_invoicing_everything_while_unpaid_by_amendment_completes_the_order(
    app: Harness,
) -> None:
    app.ok(
        customer("C1", "0", check=False),
        order(line(1, "1", "100.00", percent="30"), line(2, "5", "10.00")),
        prepay(),
        invoice("SO-1", (1, "1"), (2, "1")),
    )
    assert app.state() == "prepayment_invoiced"  # 30.00 still unpaid
    app.ok(amend(update_lines=(update(2, quantity="1"),)))
    assert app.state() == "final_invoiced"


def test_a_partly_invoiced_order_that_gains_a_requirement_is_amended(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "10", "100.00")), invoice("SO-1", (1, "4")))
    assert app.state() == "partially_invoiced"
    app.ok(amend(update_lines=(update(1, prepayment_percent="10"),)))
    # round(1000.00 x 6/10 x 10 %) = 60.00 awaits an additional prepayment invoice
    assert app.line(1).prepayment_line_amount == D("60.00")
    assert app.state() == "amended"
    app.ok(prepay(), pay("60.00"))
    assert app.state() == "partially_invoiced"
    app.ok(invoice())
    # 600.00 billed, the 60.00 deducted
    assert app.last_document().amount_due == D("540.00")
    assert app.state() == "final_invoiced"
