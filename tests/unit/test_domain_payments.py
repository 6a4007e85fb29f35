"""Payments against prepayment invoices (spec section 4.3 and the payment guard of section 7)."""

from __future__ import annotations

import pytest
from builders import (
    D,
    Harness,
    amend,
    cancel,
    customer,
    data,
    invoice,
    line,
    order,
    pay,
    prepay,
    types,
    update,
)


@pytest.fixture
def two_invoices(app: Harness) -> Harness:
    """PPI-000001: 300.00 + 19 % = 357.00; PPI-000002 after quantity 10 -> 12:
    60.00 + (68.40 - 57.00) = 71.40. Open in all: 428.40."""
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00", vat="19")), prepay())
    app.ok(amend(update_lines=(update(1, quantity="12"),)), prepay())
    assert [x.gross for x in app.order().prepayment_invoices] == [D("357.00"), D("71.40")]
    return app


def open_amounts(app: Harness) -> dict[str, D]:
    return {x.document_no: x.open for x in app.order().prepayment_invoices}


def test_a_payment_goes_to_the_oldest_open_invoice_first(two_invoices: Harness) -> None:
    events = two_invoices.ok(pay("400.00", payment_id="P-1"))
    # 357.00 closes PPI-000001; 400.00 - 357.00 = 43.00 goes to PPI-000002
    assert open_amounts(two_invoices) == {"PPI-000001": D("0.00"), "PPI-000002": D("28.40")}
    recorded = data(events, "payment.recorded")
    assert recorded == {
        "order_id": "SO-1",
        "state": "partially_paid",
        "payment_id": "P-1",
        "amount": D("400.00"),
        "currency": "EUR",
        "received_date": None,
        "applied": [
            {"document_no": "PPI-000001", "amount": D("357.00")},
            {"document_no": "PPI-000002", "amount": D("43.00")},
        ],
        "unapplied": D("0.00"),
        "prepayment_outstanding": D("28.40"),  # 71.40 - 43.00
    }
    assert types(events) == ["payment.recorded", "order.state_changed"]
    assert data(events, "order.state_changed")["to"] == "partially_paid"
    assert two_invoices.order().prepayment_paid == D("400.00")
    (record,) = two_invoices.store.payments
    assert record.applied == (("PPI-000001", D("357.00")), ("PPI-000002", D("43.00")))


def test_a_payment_goes_to_the_named_invoice(two_invoices: Harness) -> None:
    events = two_invoices.ok(pay("50.00", document_no="PPI-000002"))
    assert open_amounts(two_invoices) == {"PPI-000001": D("357.00"), "PPI-000002": D("21.40")}
    assert data(events, "payment.recorded")["prepayment_outstanding"] == D("378.40")  # 428.40 - 50


def test_more_than_the_named_invoice_is_unapplied_credit(two_invoices: Harness) -> None:
    events = two_invoices.ok(pay("100.00", document_no="PPI-000002"))
    # 71.40 closes PPI-000002; 100.00 - 71.40 = 28.60 is not spread to PPI-000001
    assert open_amounts(two_invoices) == {"PPI-000001": D("357.00"), "PPI-000002": D("0.00")}
    assert data(events, "payment.recorded")["unapplied"] == D("28.60")
    assert two_invoices.order().unapplied_credit == D("28.60")


def test_the_named_invoice_must_belong_to_the_order(two_invoices: Harness) -> None:
    error = two_invoices.refuse(pay("50.00", document_no="PPI-000099"))
    assert (error.code, error.field) == ("payment.document_not_found", "document_no")
    assert "PPI-000099" in error.message and "SO-1" in error.message


def test_a_payment_in_another_currency_is_refused(two_invoices: Harness) -> None:
    error = two_invoices.refuse(pay("428.40", currency="USD", payment_id="P-9"))
    assert (error.code, error.field) == ("payment.currency_mismatch", "currency")
    assert "USD" in error.message and "EUR" in error.message and "P-9" in error.message


def test_an_overpayment_is_reported_as_unapplied_credit(two_invoices: Harness) -> None:
    events = two_invoices.ok(pay("500.00"))
    recorded = data(events, "payment.recorded")
    assert recorded["applied"] == [
        {"document_no": "PPI-000001", "amount": D("357.00")},
        {"document_no": "PPI-000002", "amount": D("71.40")},
    ]
    assert recorded["unapplied"] == D("71.60")  # 500.00 - 428.40
    assert recorded["prepayment_outstanding"] == D("0.00")
    assert two_invoices.order().unapplied_credit == D("71.60")
    assert two_invoices.order().prepayment_paid == D("428.40")
    assert two_invoices.state() == "paid"
    assert data(events, "order.state_changed") == {
        "order_id": "SO-1",
        "state": "paid",
        "from": "prepayment_invoiced",
        "to": "paid",
        "trigger": "record_payment",
    }


def test_an_underpayment_leaves_the_rest_outstanding(two_invoices: Harness) -> None:
    events = two_invoices.ok(pay("0.01"))
    assert data(events, "payment.recorded")["prepayment_outstanding"] == D("428.39")
    assert two_invoices.state() == "partially_paid"
    events = two_invoices.ok(pay("428.39"))
    assert two_invoices.state() == "paid"
    assert data(events, "payment.recorded")["unapplied"] == D("0.00")


def test_a_payment_with_nothing_open_is_all_unapplied(two_invoices: Harness) -> None:
    two_invoices.ok(pay("428.40"))
    events = two_invoices.ok(pay("10.00"))
    assert types(events) == ["payment.recorded"]  # the state stays paid
    assert data(events, "payment.recorded")["applied"] == []
    assert data(events, "payment.recorded")["unapplied"] == D("10.00")
    assert two_invoices.order().unapplied_credit == D("10.00")


def test_a_payment_while_amended_is_applied_and_the_state_stays(two_invoices: Harness) -> None:
    two_invoices.ok(amend(update_lines=(update(1, quantity="13"),)))
    assert two_invoices.state() == "amended"
    two_invoices.ok(pay("428.40"))
    assert two_invoices.order().prepayment_outstanding == D("0.00")
    assert two_invoices.state() == "amended"


def test_a_payment_id_is_recorded_once_per_order(two_invoices: Harness) -> None:
    two_invoices.ok(pay("10.00", payment_id="P-1"))
    error = two_invoices.refuse(pay("10.00", payment_id="P-1"))
    assert (error.code, error.field) == ("payment.duplicate", "payment_id")


@pytest.mark.parametrize("amount", ["0.00", "-5.00", "1.001"])
def test_a_payment_amount_is_positive_in_minor_units(two_invoices: Harness, amount: str) -> None:
    error = two_invoices.refuse(pay(amount))
    assert (error.code, error.field) == ("payment.invalid_amount", "amount")
    assert amount in error.message


def test_a_payment_needs_a_prepayment_invoice(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00")))
    error = app.refuse(pay("10.00"))
    assert (error.code, error.field) == ("order.invalid_state", "order_id")
    assert "draft" in error.message


def test_a_payment_after_the_final_invoice_with_nothing_open_is_unapplied(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "1", "100.00")), invoice())
    events = app.ok(pay("10.00"))
    assert types(events) == ["payment.recorded"]
    assert data(events, "payment.recorded")["unapplied"] == D("10.00")
    assert app.state() == "final_invoiced"


def test_no_payment_on_a_cancelled_order(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "1", "100.00")), cancel())
    error = app.refuse(pay("10.00"))
    assert error.code == "order.invalid_state"
    assert "cancelled" in error.message
