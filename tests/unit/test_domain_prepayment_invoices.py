"""Prepayment invoices and additional prepayment invoices (spec sections 4.1 and 4.2)."""

from __future__ import annotations

from datetime import date

import pytest
from builders import (
    D,
    Harness,
    amend,
    customer,
    data,
    figures,
    line,
    order,
    pay,
    prepay,
    set_total,
    totals,
    types,
    update,
)

from workflows.commands import Command, PaymentTerms


@pytest.fixture
def invoiced(app: Harness) -> Harness:
    """Widget 10 x 100.00 at 19 % VAT, a 0 % line, and 2 x 250.00 at 7 % VAT; 30 % prepaid."""
    app.ok(customer("C1", "30", terms=PaymentTerms(due_days=14)))
    app.ok(
        order(
            line(1, "10", "100.00", vat="19", description="Widget"),
            line(2, "5", "40.00", vat="19", percent="0"),
            line(3, "2", "250.00", vat="7"),
            compress=False,
        )
    )
    app.ok(prepay())
    return app


def test_a_prepayment_invoice_bills_each_lines_prepayment(invoiced: Harness) -> None:
    document = invoiced.last_document()
    assert document.document_no == "PPI-000001"
    assert document.document_type == "prepayment_invoice"
    assert document.due_date == date(2026, 12, 11)  # 27 Nov + 14 days
    # line 1: 1000.00 x 30 % = 300.00, VAT 19 % = 57.00; line 3: 500.00 x 30 % = 150.00,
    # VAT 7 % = 10.50; line 2 (0 %) bills nothing and is left out
    assert figures(document) == [
        (D("300.00"), D("57.00"), D("357.00")),
        (D("150.00"), D("10.50"), D("160.50")),
    ]
    assert [x.order_line_no for x in document.lines] == [1, 3]
    assert [x.description for x in document.lines] == [
        "Prepayment 30 % of Widget",
        "Prepayment 30 % of ITEM-3",
    ]
    assert {x.account for x in document.lines} == {"2350"}
    assert not any(x.is_deduction for x in document.lines)
    assert totals(document) == (D("450.00"), D("67.50"), D("517.50"))  # 300 + 150, ...
    assert document.amount_due == D("517.50")
    assert document.deducted is None


def test_each_billed_line_is_invoiced_up_to_its_requirement(invoiced: Harness) -> None:
    assert [invoiced.line(n).prepayment_invoiced for n in (1, 2, 3)] == [
        D("300.00"),
        D("0.00"),
        D("150.00"),
    ]
    assert [invoiced.line(n).prepayment_vat_invoiced for n in (1, 3)] == [D("57.00"), D("10.50")]
    assert invoiced.order().prepayment_outstanding == D("517.50")
    assert invoiced.state() == "prepayment_invoiced"


def test_the_posted_event_carries_the_document(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00", vat="19")))
    events = app.ok(prepay())
    assert types(events) == [
        "prepayment_invoice.posted",
        "order.amended",
        "order.state_changed",
    ]
    posted = data(events, "prepayment_invoice.posted")
    assert posted["document_no"] == "PPI-000001"
    assert posted["state"] == "prepayment_invoiced"
    assert posted["order_id"] == "SO-1"
    assert posted["side"] == "sales"
    assert posted["currency"] == "EUR"
    assert posted["posting_date"] == date(2026, 11, 27)
    assert posted["totals"] == {"net": D("300.00"), "vat": D("57.00"), "gross": D("357.00")}
    assert posted["amount_due"] == D("357.00")
    assert posted["prepayment_deducted"] is None
    assert posted["lines"] == [
        {
            "description": "Prepayment, VAT 19 %",
            "account": "2350",
            "order_line_no": None,
            "quantity": None,
            "net": D("300.00"),
            "vat_percent": D("19"),
            "vat": D("57.00"),
            "gross": D("357.00"),
            "is_deduction": False,
        }
    ]
    assert data(events, "order.amended")["lines"][0]["prepayment_invoiced"] == D("300.00")
    assert data(events, "order.state_changed") == {
        "order_id": "SO-1",
        "state": "prepayment_invoiced",
        "from": "draft",
        "to": "prepayment_invoiced",
        "trigger": "invoice_prepayment",
    }


def test_nothing_to_bill_is_an_error(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "10", "100.00")))
    error = app.refuse(prepay())
    assert error.code == "prepayment.nothing_to_invoice"
    assert "SO-1" in error.message


def test_a_second_invoice_without_a_change_is_refused(invoiced: Harness) -> None:
    error = invoiced.refuse(prepay())
    assert error.code == "order.invalid_state"
    assert "prepayment_invoiced" in error.message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # quantity 12: 1200.00 x 30 % = 360.00, +60.00; VAT 360 x 19 % = 68.40 - 57.00 = 11.40
        (amend(update_lines=(update(1, quantity="12"),)), [("60.00", "11.40", "71.40")]),
        # price 110.00: 1100.00 x 30 % = 330.00, +30.00; VAT 62.70 - 57.00 = 5.70
        (amend(update_lines=(update(1, unit_price="110.00"),)), [("30.00", "5.70", "35.70")]),
        # percent of line 1 to 35: 350.00, +50.00; VAT 66.50 - 57.00 = 9.50
        (amend(update_lines=(update(1, prepayment_percent="35"),)), [("50.00", "9.50", "59.50")]),
        # a new line 1 x 100.00 at 19 %: 30.00; VAT 5.70
        (amend(add_lines=(line(4, "1", "100.00", vat="19"),)), [("30.00", "5.70", "35.70")]),
        # order percent 40: line 1 400.00 (+100.00, VAT 76.00 - 57.00 = 19.00),
        # line 2 80.00 (VAT 80 x 19 % = 15.20), line 3 200.00 (+50.00, VAT 14.00 - 10.50 = 3.50)
        (
            amend(prepayment_percent=D("40")),
            [
                ("100.00", "19.00", "119.00"),
                ("80.00", "15.20", "95.20"),
                ("50.00", "3.50", "53.50"),
            ],
        ),
        # total 600.00 over lines 1 and 3 (Sigma 1500.00): round(600 x 1000/1500) = 400.00,
        # line 3 600.00 - 400.00 = 200.00: as for 40 % but without the 0 % line 2
        (set_total("600.00"), [("100.00", "19.00", "119.00"), ("50.00", "3.50", "53.50")]),
    ],
)
def test_an_additional_invoice_bills_only_the_difference(
    invoiced: Harness, change: Command, expected: list[tuple[str, str, str]]
) -> None:
    invoiced.ok(change)
    assert invoiced.state() == "amended"
    invoiced.ok(prepay())
    document = invoiced.last_document()
    assert document.document_no == "PPI-000002"
    assert figures(document) == [tuple(D(x) for x in row) for row in expected]
    assert invoiced.state() == "prepayment_invoiced"
    for order_line in invoiced.order().lines.values():
        assert order_line.prepayment_invoiced == order_line.prepayment_line_amount


def test_an_additional_invoice_after_payment_leaves_the_order_partially_paid(
    invoiced: Harness,
) -> None:
    invoiced.ok(pay("517.50"))
    assert invoiced.state() == "paid"
    invoiced.ok(amend(update_lines=(update(1, quantity="12"),)))
    assert invoiced.state() == "amended"
    invoiced.ok(prepay())
    # the new invoice: 60.00 + VAT 11.40 = 71.40, unpaid; the first one is paid
    assert invoiced.order().prepayment_outstanding == D("71.40")
    assert invoiced.state() == "partially_paid"
    invoiced.ok(pay("71.40"))
    assert invoiced.state() == "paid"


def test_lowering_the_requirement_back_to_what_is_invoiced_leaves_amended(
    invoiced: Harness,
) -> None:
    invoiced.ok(amend(update_lines=(update(1, quantity="12"),)))
    assert invoiced.state() == "amended"
    invoiced.ok(amend(update_lines=(update(1, quantity="10"),)))
    assert invoiced.state() == "prepayment_invoiced"
