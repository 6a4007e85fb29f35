"""Currency precision: every amount rounds to the currency's minor unit (EUR 0.01, JPY 1,
KWD 0.001), halves away from zero."""

from __future__ import annotations

import pytest
from builders import (
    D,
    Harness,
    amend,
    customer,
    figures,
    invoice,
    line,
    order,
    pay,
    prepay,
    set_total,
    totals,
    update,
)


def test_yen_amounts_have_no_decimals(app: Harness) -> None:
    app.ok(customer("C1", "30"))
    app.ok(order(line(1, "3", "333", discount="10", vat="10"), currency="JPY"), prepay())
    # 3 x 333 = 999 x 0.9 = 899.1 -> 899
    assert app.line(1).line_amount == D("899")
    # 899 x 30 % = 269.7 -> 270; VAT 270 x 10 % = 27
    assert app.line(1).prepayment_line_amount == D("270")
    assert totals(app.last_document()) == (D("270"), D("27"), D("297"))


def test_yen_deductions_follow_the_spec_example_in_whole_yen(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "3", "100", vat="10"), currency="JPY"))
    app.ok(amend(update_lines=(update(1, prepayment_line_amount="100"),)))
    app.ok(prepay(), pay("110", currency="JPY"))  # 100 + VAT 10
    for _ in range(3):
        app.ok(invoice("SO-1", (1, "1")))
    # deductions: round(100/3 = 33.3) = 33; round(67/2 = 33.5) = 34; 100 - 67 = 33
    # their VAT: round(10 x 33/100 = 3.3) = 3; round(7 x 34/67 = 3.55) = 4; 10 - 7 = 3
    assert [figures(d)[1] for d in app.documents()[1:]] == [
        (D("-33"), D("-3"), D("-36")),
        (D("-34"), D("-4"), D("-38")),
        (D("-33"), D("-3"), D("-36")),
    ]
    # each item: 100 + 10 = 110, less the deduction
    assert [d.amount_due for d in app.documents()[1:]] == [D("74"), D("72"), D("74")]


def test_yen_refuses_fractions(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "1", "1000"), currency="JPY"))
    error = app.refuse(set_total("10.5"))
    assert error.code == "prepayment.amount_precision"
    assert "JPY" in error.message
    error = app.refuse(amend(update_lines=(update(1, prepayment_line_amount="300.5"),)))
    assert error.code == "prepayment.amount_precision"
    app.ok(prepay())
    error = app.refuse(pay("100.5", currency="JPY"))
    assert (error.code, error.field) == ("payment.invalid_amount", "amount")
    app.ok(pay("300", currency="JPY"))
    assert app.state() == "paid"


def test_dinar_amounts_have_three_decimals(app: Harness) -> None:
    app.ok(customer("C1", "30"))
    app.ok(order(line(1, "3", "1.2345", vat="5"), currency="KWD"), prepay())
    # 3 x 1.2345 = 3.7035 -> 3.704 (half up)
    assert app.line(1).line_amount == D("3.704")
    # 3.704 x 30 % = 1.1112 -> 1.111; VAT 1.111 x 5 % = 0.05555 -> 0.056
    assert totals(app.last_document()) == (D("1.111"), D("0.056"), D("1.167"))
    error = app.refuse(pay("1.1671", currency="KWD"))
    assert error.code == "payment.invalid_amount"
    app.ok(pay("1.167", currency="KWD"))
    assert app.state() == "paid"


@pytest.mark.parametrize(
    ("currency", "price", "line_amount", "prepayment"),
    [
        ("EUR", "10.005", "10.01", "3.00"),  # 10.005 -> 10.01; x 30 % = 3.003 -> 3.00
        ("USD", "10.005", "10.01", "3.00"),  # two decimals unless listed otherwise
        ("JPY", "10.5", "11", "3"),  # 10.5 -> 11; x 30 % = 3.3 -> 3
        ("BHD", "10.0005", "10.001", "3.000"),  # 10.0005 -> 10.001; x 30 % = 3.0003 -> 3.000
    ],
)
def test_rounding_follows_the_currency(
    app: Harness, currency: str, price: str, line_amount: str, prepayment: str
) -> None:
    app.ok(customer("C1", "30"), order(line(1, "1", price), currency=currency))
    assert app.line(1).line_amount == D(line_amount)
    assert app.line(1).prepayment_line_amount == D(prepayment)
    assert str(app.line(1).line_amount) == line_amount  # exactly the currency's decimals
