"""VAT on documents (spec section 3): per VAT group, spread back over the lines, cumulative
over successive prepayment invoices, and on prices including VAT."""

from __future__ import annotations

from builders import (
    D,
    Harness,
    amend,
    customer,
    figures,
    invoice,
    line,
    order,
    prepay,
    totals,
    update,
)


def test_vat_is_computed_per_group_and_spread_back_over_the_lines(app: Harness) -> None:
    app.ok(customer("C1", "10"))
    app.ok(
        order(
            line(1, "1", "3.50", vat="19"),
            line(2, "1", "3.50", vat="19"),
            line(3, "1", "3.50", vat="19"),
            compress=False,
        ),
        prepay(),
    )
    # each line: 3.50 x 10 % = 0.35; the group: 1.05 x 19 % = 0.1995 -> 0.20
    # (per line it would be 3 x round(0.0665) = 0.21)
    # spread with the remainder carried: round(0.20 x 1/3) = 0.07; round(0.20 x 2/3) = 0.13,
    # 0.13 - 0.07 = 0.06; 0.20 - 0.13 = 0.07
    assert figures(app.last_document()) == [
        (D("0.35"), D("0.07"), D("0.42")),
        (D("0.35"), D("0.06"), D("0.41")),
        (D("0.35"), D("0.07"), D("0.42")),
    ]
    assert totals(app.last_document()) == (D("1.05"), D("0.20"), D("1.25"))
    assert [app.line(n).prepayment_vat_invoiced for n in (1, 2, 3)] == [
        D("0.07"),
        D("0.06"),
        D("0.07"),
    ]


def test_a_compressed_document_has_one_line_per_vat_rate(app: Harness) -> None:
    app.ok(customer("C1", "30"))
    app.ok(
        order(
            line(1, "10", "100.00", vat="19"),
            line(2, "5", "100.00", vat="7"),
            line(3, "2", "100.00", vat="19"),
        ),
        prepay(),
    )
    document = app.last_document()
    # 19 %: 300.00 + 60.00 = 360.00; VAT 360.00 x 19 % = 68.40; gross 428.40
    # 7 %: 150.00; VAT 150.00 x 7 % = 10.50; gross 160.50
    assert figures(document) == [
        (D("360.00"), D("68.40"), D("428.40")),
        (D("150.00"), D("10.50"), D("160.50")),
    ]
    assert [x.description for x in document.lines] == [
        "Prepayment, VAT 19 %",
        "Prepayment, VAT 7 %",
    ]
    assert [x.order_line_no for x in document.lines] == [None, None]
    assert totals(document) == (D("510.00"), D("78.90"), D("588.90"))  # sums of the above
    # the group's VAT spread over its lines: 68.40 x 300/360 = 57.00; 68.40 - 57.00 = 11.40
    assert app.line(1).prepayment_vat_invoiced == D("57.00")
    assert app.line(3).prepayment_vat_invoiced == D("11.40")
    assert app.line(2).prepayment_vat_invoiced == D("10.50")


def test_prices_including_vat_take_the_vat_out_of_the_gross(app: Harness) -> None:
    app.ok(customer("C1", "100"))
    app.ok(order(line(1, "1", "100.00", vat="19"), incl_vat=True), prepay())
    # VAT = round(100.00 - 100.00 / 1.19) = round(100.00 - 84.0336) = round(15.9664) = 15.97
    # net = 100.00 - 15.97 = 84.03
    assert figures(app.last_document()) == [(D("84.03"), D("15.97"), D("100.00"))]
    assert app.last_document().prices_include_vat is True


def test_prices_including_vat_are_grouped_too(app: Harness) -> None:
    app.ok(customer("C1", "50"))
    app.ok(
        order(
            line(1, "1", "20.00", vat="19"),
            line(2, "1", "20.00", vat="19"),
            line(3, "1", "20.00", vat="19"),
            incl_vat=True,
            compress=False,
        ),
        prepay(),
    )
    # each line 10.00 gross; group: round(30.00 - 30.00 / 1.19) = round(4.78992) = 4.79
    # (per line: round(10.00 - 8.40336) = 1.60, x 3 = 4.80)
    # spread: round(4.79/3) = 1.60; round(4.79 x 2/3 = 3.1933) = 3.19 -> 1.59; 4.79 - 3.19 = 1.60
    assert figures(app.last_document()) == [
        (D("8.40"), D("1.60"), D("10.00")),
        (D("8.41"), D("1.59"), D("10.00")),
        (D("8.40"), D("1.60"), D("10.00")),
    ]
    assert totals(app.last_document()) == (D("25.21"), D("4.79"), D("30.00"))


def test_successive_invoices_carry_the_vat_of_one_big_invoice(app: Harness) -> None:
    app.ok(customer("C1", "10"), order(line(1, "1", "3.50", vat="19")))
    app.ok(prepay())
    # 3.50 x 10 % = 0.35; VAT round(0.0665) = 0.07
    assert figures(app.last_document()) == [(D("0.35"), D("0.07"), D("0.42"))]
    app.ok(amend(prepayment_percent=D("20")), prepay())
    # cumulative 0.70; VAT round(0.133) = 0.13, less 0.07 billed = 0.06 (not round(0.0665) = 0.07)
    assert figures(app.last_document()) == [(D("0.35"), D("0.06"), D("0.41"))]
    app.ok(amend(prepayment_percent=D("30")), prepay())
    # cumulative 1.05; VAT round(0.1995) = 0.20, less 0.13 = 0.07
    assert figures(app.last_document()) == [(D("0.35"), D("0.07"), D("0.42"))]
    # 0.07 + 0.06 + 0.07 = 0.20 = VAT of one invoice of 1.05
    assert app.line(1).prepayment_vat_invoiced == D("0.20")


def test_cumulative_vat_counts_only_the_billed_lines(app: Harness) -> None:
    app.ok(customer("C1", "10"))
    app.ok(order(line(1, "1", "3.50", vat="19"), line(2, "1", "3.50", vat="19")), prepay())
    # group 0.70 x 19 % = 0.133 -> 0.13, spread 0.07 (round(0.065) = 0.07) and 0.06
    assert (app.line(1).prepayment_vat_invoiced, app.line(2).prepayment_vat_invoiced) == (
        D("0.07"),
        D("0.06"),
    )
    app.ok(amend(update_lines=(update(2, prepayment_percent="20"),)), prepay())
    # only line 2 is billed: VAT(0.70) = round(0.133) = 0.13, less its 0.06 billed = 0.07
    assert figures(app.last_document()) == [(D("0.35"), D("0.07"), D("0.42"))]
    assert app.line(2).prepayment_vat_invoiced == D("0.13")  # 0.06 + 0.07


def test_final_invoice_vat_is_grouped_by_rate_and_sign(app: Harness) -> None:
    app.ok(customer("C1", "0"))
    app.ok(order(line(1, "1", "10.05", vat="10"), line(2, "-1", "5.03", vat="10")), invoice())
    # positive group: round(10.05 x 10 % = 1.005) = 1.01
    # negative group: round(-5.03 x 10 % = -0.503) = -0.50
    # (one group of both would give round(5.02 x 10 % = 0.502) = 0.50)
    assert figures(app.last_document()) == [
        (D("10.05"), D("1.01"), D("11.06")),
        (D("-5.03"), D("-0.50"), D("-5.53")),
    ]
    assert totals(app.last_document()) == (D("5.02"), D("0.51"), D("5.53"))


def test_final_invoice_item_vat_is_per_group(app: Harness) -> None:
    app.ok(customer("C1", "0"))
    app.ok(
        order(
            line(1, "1", "0.35", vat="19"),
            line(2, "1", "0.35", vat="19"),
            line(3, "1", "0.35", vat="19"),
        ),
        invoice(),
    )
    # group: round(1.05 x 19 %) = 0.20, spread 0.07, 0.06, 0.07 (as on prepayment documents)
    assert [x.vat for x in app.last_document().lines] == [D("0.07"), D("0.06"), D("0.07")]
