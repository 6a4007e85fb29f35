"""Final and partial invoices with the prepayment deducted (spec section 4.6)."""

from __future__ import annotations

import pytest
from builders import (
    D,
    Harness,
    amend,
    credit,
    customer,
    data,
    figures,
    invoice,
    ledger,
    line,
    order,
    pay,
    prepay,
    totals,
    types,
    update,
)

from workflows.documents import Amounts


@pytest.fixture
def thirds(app: Harness) -> Harness:
    """The spec's example: a line of 3 x 100.00 at 19 % VAT with 100.00 of prepayment
    (set by hand), invoiced 100.00 + 19.00 = 119.00 and paid."""
    app.ok(customer("C1", "0"), order(line(1, "3", "100.00", vat="19")))
    app.ok(amend(update_lines=(update(1, prepayment_line_amount="100.00"),)))
    app.ok(prepay(), pay("119.00"))
    assert app.state() == "paid"
    return app


def test_the_deduction_is_proportional_with_the_remainder_on_the_last_invoice(
    thirds: Harness,
) -> None:
    thirds.ok(invoice("SO-1", (1, "1")))
    first = thirds.last_document()
    assert first.document_no == "INV-000001"
    # item: round(300.00 x 1/3) = 100.00, VAT 19.00
    # deduction: round(100.00 x 1/3) = 33.33, VAT round(19.00 x 33.33/100.00 = 6.3327) = 6.33
    assert figures(first) == [
        (D("100.00"), D("19.00"), D("119.00")),
        (D("-33.33"), D("-6.33"), D("-39.66")),
    ]
    assert totals(first) == (D("66.67"), D("12.67"), D("79.34"))
    assert first.amount_due == D("79.34")
    assert first.deducted == Amounts(D("33.33"), D("6.33"), D("39.66"))
    assert thirds.state() == "partially_invoiced"

    thirds.ok(invoice("SO-1", (1, "1")))
    # deduction: round(66.67 x 1/2 = 33.335) = 33.34
    # VAT: round(12.67 x 33.34 / 66.67 = 6.33595) = 6.34
    assert figures(thirds.last_document()) == [
        (D("100.00"), D("19.00"), D("119.00")),
        (D("-33.34"), D("-6.34"), D("-39.68")),
    ]
    assert thirds.last_document().amount_due == D("79.32")  # 119.00 - 39.68
    assert thirds.state() == "partially_invoiced"

    thirds.ok(invoice("SO-1", (1, "1")))
    # the last invoice deducts what is left: 100.00 - 33.33 - 33.34 = 33.33,
    # VAT 19.00 - 6.33 - 6.34 = 6.33
    assert figures(thirds.last_document()) == [
        (D("100.00"), D("19.00"), D("119.00")),
        (D("-33.33"), D("-6.33"), D("-39.66")),
    ]
    assert thirds.state() == "final_invoiced"
    done = thirds.line(1)
    assert (done.prepayment_deducted, done.prepayment_vat_deducted) == (D("100.00"), D("19.00"))
    assert done.prepayment_deducted == done.prepayment_invoiced
    assert done.quantity_invoiced == D("3")
    assert done.amount_invoiced == D("300.00")


def test_the_prepayment_and_vat_accounts_net_to_zero_after_the_last_invoice(
    thirds: Harness,
) -> None:
    thirds.ok(invoice("SO-1", (1, "1")), invoice("SO-1", (1, "1")), invoice())
    balance: dict[str, D] = {}
    for document in thirds.documents():
        for entry in document.ledger:
            balance[entry.account] = balance.get(entry.account, D(0)) + entry.debit - entry.credit
    assert balance["2350"] == D("0.00")  # prepayment: 100.00 credited, 33.33 + 33.34 + 33.33 back
    # VAT: 19.00 on the prepayment + 12.67 + 12.66 + 12.67 on the invoices = 57.00 = 300.00 x 19 %
    assert balance["2510"] == D("-57.00")
    assert balance["4000"] == D("-300.00")
    # receivable: 119.00 + 79.34 + 79.32 + 79.34 = 357.00, less nothing paid in the ledger
    assert balance["1200"] == D("357.00")


def test_invoicing_everything_at_once_deducts_everything(thirds: Harness) -> None:
    thirds.ok(invoice())
    # items 300.00 + 57.00; deduction 100.00 + 19.00
    assert figures(thirds.last_document()) == [
        (D("300.00"), D("57.00"), D("357.00")),
        (D("-100.00"), D("-19.00"), D("-119.00")),
    ]
    assert thirds.last_document().amount_due == D("238.00")
    assert thirds.state() == "final_invoiced"


def test_the_billed_amount_is_proportional_with_the_remainder_on_the_last_invoice(
    app: Harness,
) -> None:
    app.ok(customer("C1", "0"), order(line(1, "3", "33.333")))
    assert app.line(1).line_amount == D("100.00")  # 3 x 33.333 = 99.999 -> 100.00
    app.ok(invoice("SO-1", (1, "1")), invoice("SO-1", (1, "1")), invoice("SO-1", (1, "1")))
    # round(100.00 / 3) = 33.33; round(66.67 / 2 = 33.335) = 33.34; 100.00 - 66.67 = 33.33
    assert [d.lines[0].net for d in app.documents()] == [D("33.33"), D("33.34"), D("33.33")]


def test_at_100_percent_a_partial_invoice_deducts_all_it_bills(app: Harness) -> None:
    app.ok(customer("C1", "100"), order(line(1, "3", "100.00", vat="19")))
    app.ok(prepay(), pay("357.00"))  # 300.00 + 57.00
    app.ok(invoice("SO-1", (1, "1")))
    # bills 100.00 + 19.00 and deducts all of it: nothing is due
    assert figures(app.last_document()) == [
        (D("100.00"), D("19.00"), D("119.00")),
        (D("-100.00"), D("-19.00"), D("-119.00")),
    ]
    assert app.last_document().amount_due == D("0.00")
    # nothing owed and VAT net 0: only revenue and prepayment move
    assert ledger(app.last_document()) == {
        "4000": (D("0"), D("100.00")),
        "2350": (D("100.00"), D("0")),
    }
    app.ok(invoice("SO-1", (1, "2")))
    assert app.last_document().amount_due == D("0.00")
    assert app.line(1).prepayment_deducted == D("300.00")
    assert app.line(1).prepayment_vat_deducted == D("57.00")
    assert app.state() == "final_invoiced"


def test_at_100_percent_unit_by_unit_invoices_end_at_exactly_zero_due(app: Harness) -> None:
    # 3 x 33.33 = 99.99 at 100 %, VAT 19 %: prepayment VAT round(18.9981) = 19.00.
    app.ok(customer("C1", "100"), order(line(1, "3", "33.33", vat="19")))
    app.ok(prepay(), pay("118.99"))  # 99.99 + 19.00
    # Item VAT is cumulative per group: round(33.33 x .19 = 6.3327) = 6.33, then
    # round(66.66 x .19 = 12.6654) - 6.33 = 6.34, then 19.00 - 12.67 = 6.33, so the three
    # invoices carry 19.00 of VAT, exactly the prepayment's, and each is due 0.00.
    vats = []
    for _ in range(3):
        app.ok(invoice("SO-1", (1, "1")))
        document = app.last_document()
        assert document.amount_due == D("0.00")
        vats.append(document.lines[0].vat)
    assert vats == [D("6.33"), D("6.34"), D("6.33")]
    assert app.line(1).prepayment_vat_deducted == D("19.00")
    assert app.state() == "final_invoiced"


@pytest.fixture
def two_rates(app: Harness) -> Harness:
    """Customer C1 with 50 % prepayment."""
    app.ok(customer("C1", "50"))
    return app


def post_two_rates(app: Harness, compress: bool) -> None:
    """Lines 1 (2 x 100.00) and 2 (4 x 50.00) at 19 %, line 3 (1 x 100.00) at 7 %, 50 %:
    prepayment 100.00 + 100.00 at 19 % (VAT 38.00, 19.00 each) and 50.00 at 7 % (VAT 3.50),
    291.50 in all, paid; then everything invoiced."""
    app.ok(
        order(
            line(1, "2", "100.00", vat="19"),
            line(2, "4", "50.00", vat="19"),
            line(3, "1", "100.00", vat="7"),
            compress=compress,
        ),
        prepay(),
        pay("291.50"),
        invoice(),
    )


ITEMS = [
    # item VAT per group: 19 %: 400.00 x 19 % = 76.00, spread 38.00 + 38.00; 7 %: 7.00
    (D("200.00"), D("38.00"), D("238.00")),
    (D("200.00"), D("38.00"), D("238.00")),
    (D("100.00"), D("7.00"), D("107.00")),
]


def test_a_compressed_invoice_deducts_one_line_per_account_and_rate(two_rates: Harness) -> None:
    post_two_rates(two_rates, compress=True)
    document = two_rates.last_document()
    assert figures(document) == [
        *ITEMS,
        (D("-200.00"), D("-38.00"), D("-238.00")),  # 100.00 + 100.00, VAT 19.00 + 19.00
        (D("-50.00"), D("-3.50"), D("-53.50")),
    ]
    deductions = [x for x in document.lines if x.is_deduction]
    assert [x.description for x in deductions] == [
        "Prepayment deduction, VAT 19 %",
        "Prepayment deduction, VAT 7 %",
    ]
    assert {x.account for x in deductions} == {"2350"}
    check_two_rates_totals(two_rates)


def test_an_uncompressed_invoice_deducts_one_line_per_order_line(two_rates: Harness) -> None:
    post_two_rates(two_rates, compress=False)
    document = two_rates.last_document()
    assert figures(document) == [
        *ITEMS,
        (D("-100.00"), D("-19.00"), D("-119.00")),
        (D("-100.00"), D("-19.00"), D("-119.00")),
        (D("-50.00"), D("-3.50"), D("-53.50")),
    ]
    deductions = [x for x in document.lines if x.is_deduction]
    assert [x.order_line_no for x in deductions] == [1, 2, 3]
    assert deductions[0].description == "Prepayment deduction 50 % of ITEM-1"
    check_two_rates_totals(two_rates)


def check_two_rates_totals(app: Harness) -> None:
    document = app.last_document()
    items = [x for x in document.lines if not x.is_deduction]
    assert [x.order_line_no for x in items] == [1, 2, 3]
    assert [x.quantity for x in items] == [D("2"), D("4"), D("1")]
    assert {x.account for x in items} == {"4000"}
    # items 500.00 / 83.00 / 583.00 less deductions 250.00 / 41.50 / 291.50
    assert totals(document) == (D("250.00"), D("41.50"), D("291.50"))
    assert document.amount_due == D("291.50")
    assert document.deducted == Amounts(D("250.00"), D("41.50"), D("291.50"))
    # revenue 500.00; the prepayment liability released; VAT 83.00 - 41.50 = 41.50
    assert ledger(document) == {
        "4000": (D("0"), D("500.00")),
        "2350": (D("250.00"), D("0")),
        "2510": (D("0"), D("41.50")),
        "1200": (D("291.50"), D("0")),
    }


def test_the_invoice_event_carries_the_deduction(thirds: Harness) -> None:
    events = thirds.ok(invoice("SO-1", (1, "1")))
    assert types(events) == ["invoice.posted", "order.amended", "order.state_changed"]
    posted = data(events, "invoice.posted")
    assert posted["document_type"] == "invoice"
    assert posted["prepayment_deducted"] == {
        "net": D("33.33"),
        "vat": D("6.33"),
        "gross": D("39.66"),
    }
    assert posted["totals"]["gross"] == posted["amount_due"] == D("79.34")
    assert [x["is_deduction"] for x in posted["lines"]] == [False, True]
    assert data(events, "order.state_changed")["trigger"] == "invoice"
    assert data(events, "order.amended")["lines"][0]["prepayment_deducted"] == D("33.33")


def test_a_partial_invoice_of_one_line_leaves_the_others(two_rates: Harness) -> None:
    two_rates.ok(
        order(line(1, "2", "100.00", vat="19"), line(2, "4", "50.00", vat="19")),
        prepay(),
        pay("238.00"),  # 200.00 + 38.00
        invoice("SO-1", (2, "1")),
    )
    # item: round(200.00 x 1/4) = 50.00, VAT 9.50; deduction round(100.00 x 1/4) = 25.00,
    # VAT round(19.00 x 25.00/100.00) = 4.75
    assert figures(two_rates.last_document()) == [
        (D("50.00"), D("9.50"), D("59.50")),
        (D("-25.00"), D("-4.75"), D("-29.75")),
    ]
    assert two_rates.line(1).quantity_invoiced == D("0")
    assert two_rates.line(1).prepayment_deducted == D("0.00")


def test_invoicing_waits_for_the_prepayment_invoice(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00")))
    error = app.refuse(invoice())
    assert (error.code, error.field) == ("prepayment.not_invoiced", "order_id")
    assert "SO-1" in error.message and "line 1" in error.message and "300.00" in error.message


def test_invoicing_waits_for_the_payment(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00", vat="19")), prepay())
    error = app.refuse(invoice())
    assert (error.code, error.field) == ("prepayment.unpaid", "order_id")
    assert "PPI-000001" in error.message and "357.00 EUR" in error.message
    app.ok(pay("357.00"), invoice())
    assert app.state() == "final_invoiced"


def test_without_the_payment_check_only_the_invoice_is_required(app: Harness) -> None:
    app.ok(customer("C1", "30", check=False), order(line(1, "10", "100.00", vat="19")))
    error = app.refuse(invoice())
    assert error.code == "prepayment.not_invoiced"
    app.ok(prepay(), invoice("SO-1", (1, "4")))
    # item 400.00 + 76.00; deduction round(300.00 x 4/10) = 120.00, VAT 57.00 x 120/300 = 22.80
    assert figures(app.last_document()) == [
        (D("400.00"), D("76.00"), D("476.00")),
        (D("-120.00"), D("-22.80"), D("-142.80")),
    ]
    assert app.state() == "prepayment_invoiced"  # still unpaid
    app.ok(pay("357.00"))
    assert app.state() == "partially_invoiced"


def test_a_negative_amount_due_is_refused_with_its_own_code(app: Harness) -> None:
    app.ok(customer("C1", "0"))
    app.ok(
        order(line(1, "1", "100.00", vat="19", percent="50"), line(2, "-1", "50.00", vat="19")),
        prepay(),
        pay("59.50"),  # 50.00 + 9.50
    )
    error = app.refuse(invoice("SO-1", (2, "-1")))
    # the return line alone: -50.00 - 9.50 = -59.50
    assert (error.code, error.field) == ("invoice.negative_amount_due", "lines")
    assert "-59.50" in error.message
    app.ok(invoice())
    # 100.00 + 19.00 - 50.00 - 9.50 - (50.00 + 9.50) = 0.00
    assert app.last_document().amount_due == D("0.00")
    assert app.state() == "final_invoiced"


@pytest.mark.parametrize(
    ("quantities", "field"),
    [
        (((1, "11"),), "lines.0.quantity"),
        (((1, "0"),), "lines.0.quantity"),
        (((1, "-1"),), "lines.0.quantity"),
        (((1, "4"), (1, "4")), "lines.1.quantity"),
    ],
)
def test_the_quantity_to_invoice_must_be_open(
    app: Harness, quantities: tuple[tuple[int, str], ...], field: str
) -> None:
    app.ok(customer("C1", "0"), order(line(1, "10", "100.00")))
    error = app.refuse(invoice("SO-1", *quantities))
    assert (error.code, error.field) == ("invoice.quantity_exceeds_remaining", field)
    assert "10 remains" in error.message


def test_the_line_to_invoice_must_exist(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "10", "100.00")))
    error = app.refuse(invoice("SO-1", (5, "1")))
    assert (error.code, error.field) == ("line.not_found", "lines.0.line_no")


def test_an_order_with_nothing_to_invoice_is_refused(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "0", "100.00")))
    error = app.refuse(invoice())
    assert error.code == "invoice.nothing_to_invoice"


def test_a_line_of_quantity_zero_does_not_keep_the_order_open(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "2", "100.00"), line(2, "1", "50.00")))
    app.ok(amend(update_lines=(update(2, quantity="0"),)), invoice())
    assert app.last_document().amount_due == D("200.00")  # 2 x 100.00
    assert app.state() == "final_invoiced"


def test_after_the_last_invoice_nothing_more_is_accepted(thirds: Harness) -> None:
    thirds.ok(invoice())
    for command in (invoice(), prepay(), credit(), amend(prepayment_percent=D("1"))):
        error = thirds.refuse(command)
        assert error.code == "order.invalid_state"
        assert "final_invoiced" in error.message


def test_a_free_line_bills_nothing_and_carries_no_vat(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "2", "0.00", vat="19")), invoice())
    assert figures(app.last_document()) == [(D("0.00"), D("0.00"), D("0.00"))]
    assert app.last_document().ledger == ()
    assert app.state() == "final_invoiced"


def test_prices_including_vat_deduct_the_gross_prepayment(app: Harness) -> None:
    app.ok(customer("C1", "50"), order(line(1, "2", "119.00", vat="19"), incl_vat=True))
    # line 238.00 gross; prepayment 119.00, VAT round(119.00 - 119.00/1.19) = 19.00
    app.ok(prepay(), pay("119.00"), invoice("SO-1", (1, "1")))
    # item: round(238.00 / 2) = 119.00 gross, VAT 19.00, net 100.00
    # deduction: round(119.00 x 1/2) = 59.50 gross, VAT round(19.00 x 59.50/119.00) = 9.50
    assert figures(app.last_document()) == [
        (D("100.00"), D("19.00"), D("119.00")),
        (D("-50.00"), D("-9.50"), D("-59.50")),
    ]
    assert app.last_document().amount_due == D("59.50")
    app.ok(invoice())
    assert figures(app.last_document()) == figures(app.documents()[1])
