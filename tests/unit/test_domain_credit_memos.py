"""Prepayment credit memos (spec sections 4.4 and 4.5): all lines or listed lines, and the
deletions and cancellations they unlock."""

from __future__ import annotations

import pytest
from builders import (
    D,
    Harness,
    amend,
    cancel,
    credit,
    customer,
    data,
    figures,
    invoice,
    line,
    order,
    pay,
    prepay,
    totals,
    types,
    update,
)


@pytest.fixture
def invoiced(app: Harness) -> Harness:
    """Line 1: 10 x 100.00 at 19 % VAT, line 2: 2 x 250.00 at 7 % VAT, 30 % prepayment,
    invoiced on PPI-000001: 300.00 + 57.00 and 150.00 + 10.50 = 517.50."""
    app.ok(customer("C1", "30"))
    app.ok(order(line(1, "10", "100.00", vat="19"), line(2, "2", "250.00", vat="7")), prepay())
    assert app.last_document().amount_due == D("517.50")
    return app


def test_a_credit_memo_reverses_every_line_with_its_vat(invoiced: Harness) -> None:
    events = invoiced.ok(credit())
    document = invoiced.last_document()
    assert document.document_no == "PPCM-000001"
    assert document.document_type == "prepayment_credit_memo"
    # reverses what was invoiced, positive amounts, VAT as invoiced
    assert figures(document) == [
        (D("300.00"), D("57.00"), D("357.00")),
        (D("150.00"), D("10.50"), D("160.50")),
    ]
    assert totals(document) == (D("450.00"), D("67.50"), D("517.50"))
    assert types(events) == [
        "prepayment_credit_memo.posted",
        "order.amended",
        "order.state_changed",
    ]
    assert data(events, "order.state_changed")["from"] == "prepayment_invoiced"
    assert data(events, "order.state_changed")["to"] == "amended"
    assert data(events, "order.state_changed")["trigger"] == "credit_prepayment"


def test_a_credit_memo_keeps_the_requirement(invoiced: Harness) -> None:
    invoiced.ok(credit())
    for n, requirement in ((1, "300.00"), (2, "150.00")):
        assert invoiced.line(n).prepayment_invoiced == D("0.00")
        assert invoiced.line(n).prepayment_vat_invoiced == D("0.00")
        assert invoiced.line(n).prepayment_line_amount == D(requirement)
    # the unpaid invoice is closed by the credit memo
    assert invoiced.order().prepayment_outstanding == D("0.00")
    assert invoiced.order().unapplied_credit == D("0.00")
    assert invoiced.state() == "amended"
    # ... so the order awaits a prepayment invoice again
    error = invoiced.refuse(invoice())
    assert error.code == "order.invalid_state"
    invoiced.ok(prepay())
    assert invoiced.last_document().document_no == "PPI-000002"
    assert invoiced.last_document().amount_due == D("517.50")
    assert invoiced.state() == "prepayment_invoiced"


def test_a_credit_memo_of_listed_lines_credits_only_those(invoiced: Harness) -> None:
    invoiced.ok(credit("SO-1", 2))
    # line 2 only: 150.00 + 10.50
    assert figures(invoiced.last_document()) == [(D("150.00"), D("10.50"), D("160.50"))]
    assert invoiced.line(1).prepayment_invoiced == D("300.00")
    assert invoiced.line(2).prepayment_invoiced == D("0.00")
    # PPI-000001 stays open for 517.50 - 160.50 = 357.00
    assert invoiced.order().prepayment_outstanding == D("357.00")
    invoiced.ok(prepay())
    # only line 2 is billed again: 150.00; VAT(150.00) = 10.50, less 0.00 billed
    assert figures(invoiced.last_document()) == [(D("150.00"), D("10.50"), D("160.50"))]


def test_a_listed_line_must_have_something_to_credit(invoiced: Harness) -> None:
    invoiced.ok(credit("SO-1", 2))
    error = invoiced.refuse(credit("SO-1", 1, 2))
    assert (error.code, error.field) == ("prepayment.nothing_to_credit", "lines.1")
    assert "line 2" in error.message


def test_a_listed_line_must_exist(invoiced: Harness) -> None:
    error = invoiced.refuse(credit("SO-1", 9))
    assert (error.code, error.field) == ("line.not_found", "lines.0")


def test_a_line_listed_twice_is_refused_not_credited_twice(invoiced: Harness) -> None:
    error = invoiced.refuse(credit("SO-1", 2, 2))
    assert (error.code, error.field) == ("line.duplicate_line_no", "lines.1")


def test_nothing_to_credit_is_an_error(invoiced: Harness) -> None:
    invoiced.ok(credit())
    error = invoiced.refuse(credit())
    assert error.code == "prepayment.nothing_to_credit"
    assert "SO-1" in error.message


def test_crediting_a_paid_invoice_leaves_credit_owed_to_the_customer(invoiced: Harness) -> None:
    invoiced.ok(pay("517.50"), credit())
    assert invoiced.order().unapplied_credit == D("517.50")
    assert invoiced.order().prepayment_outstanding == D("0.00")
    assert invoiced.state() == "amended"


def test_crediting_a_partly_paid_invoice_closes_the_open_part_first(invoiced: Harness) -> None:
    invoiced.ok(pay("100.00"), credit())
    # 517.50 credited: 417.50 closes what is open, the 100.00 paid is owed back
    assert invoiced.order().prepayment_outstanding == D("0.00")
    assert invoiced.order().unapplied_credit == D("100.00")


def test_a_credit_memo_closes_the_newest_open_invoice_first(invoiced: Harness) -> None:
    invoiced.ok(amend(update_lines=(update(1, quantity="12"),)), prepay())
    # PPI-000002: +60.00, VAT 360 x 19 % = 68.40 - 57.00 = 11.40, gross 71.40
    invoiced.ok(credit("SO-1", 2))  # 160.50 credited
    balances = {x.document_no: x.open for x in invoiced.order().prepayment_invoices}
    # 71.40 closes PPI-000002; 160.50 - 71.40 = 89.10 comes off PPI-000001: 517.50 - 89.10
    assert balances == {"PPI-000001": D("428.40"), "PPI-000002": D("0.00")}


def test_after_a_partial_invoice_only_the_undeducted_part_is_credited(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "3", "100.00", vat="19")))
    app.ok(amend(update_lines=(update(1, prepayment_line_amount="100.00"),)))
    app.ok(prepay(), pay("119.00"), invoice("SO-1", (1, "1")))
    # deducted: round(100.00 x 1/3) = 33.33; its VAT round(19.00 x 33.33/100.00 = 6.3327) = 6.33
    assert app.line(1).prepayment_deducted == D("33.33")
    assert app.line(1).prepayment_vat_deducted == D("6.33")
    app.ok(credit())
    # credited: 100.00 - 33.33 = 66.67 with VAT 19.00 - 6.33 = 12.67; gross 79.34
    assert figures(app.last_document()) == [(D("66.67"), D("12.67"), D("79.34"))]
    assert app.line(1).prepayment_invoiced == D("33.33")
    assert app.line(1).prepayment_vat_invoiced == D("6.33")
    assert app.line(1).prepayment_line_amount == D("100.00")
    assert app.order().unapplied_credit == D("79.34")  # all of it was paid
    assert app.state() == "amended"
    app.ok(prepay())
    # bills 66.67 again; VAT(100.00) = 19.00 less the 6.33 still invoiced = 12.67
    assert figures(app.last_document()) == [(D("66.67"), D("12.67"), D("79.34"))]


def test_a_line_with_invoiced_prepayment_is_removed_only_after_a_credit_memo(
    invoiced: Harness,
) -> None:
    error = invoiced.refuse(amend(remove_lines=(1,)))
    assert (error.code, error.field) == ("line.delete_requires_credit_memo", "remove_lines.0")
    assert "SO-1" in error.message and "line 1" in error.message
    assert "300.00 EUR" in error.message
    assert "post a prepayment credit memo first" in error.message
    invoiced.ok(credit("SO-1", 1), amend(remove_lines=(1,)))
    assert sorted(invoiced.order().lines) == [2]
    # line 2 is still invoiced and nothing is left to bill; PPI-000001 stays open for
    # 517.50 - 357.00 credited = 160.50, and nothing was paid
    assert invoiced.order().prepayment_outstanding == D("160.50")
    assert invoiced.state() == "prepayment_invoiced"


def test_an_order_with_invoiced_prepayment_is_cancelled_only_after_a_credit_memo(
    invoiced: Harness,
) -> None:
    error = invoiced.refuse(cancel())
    assert (error.code, error.field) == ("order.cancel_requires_credit_memo", "order_id")
    assert "SO-1" in error.message and "line 1" in error.message
    assert "post a prepayment credit memo first" in error.message
    invoiced.ok(credit())
    events = invoiced.ok(cancel())
    assert types(events) == ["order.cancelled", "order.state_changed"]
    assert data(events, "order.cancelled")["state"] == "cancelled"
    assert data(events, "order.state_changed")["from"] == "amended"
    assert invoiced.state() == "cancelled"


def test_setting_the_percent_to_zero_after_a_credit_memo_frees_the_order(
    invoiced: Harness,
) -> None:
    invoiced.ok(credit(), amend(prepayment_percent=D("0")))
    assert [x.prepayment_line_amount for x in invoiced.order().sorted_lines()] == [
        D("0.00"),
        D("0.00"),
    ]
    invoiced.ok(invoice())
    # 1000.00 + 19 % = 1190.00; 500.00 + 7 % = 535.00; nothing deducted
    assert invoiced.last_document().amount_due == D("1725.00")
    assert invoiced.state() == "final_invoiced"
