"""Amounts per line (spec section 2): line amount, prepayment line amount, amounts set by hand,
a total for the whole order, and the guards on amendments."""

from __future__ import annotations

import pytest
from builders import (
    D,
    Harness,
    amend,
    customer,
    invoice,
    line,
    order,
    pay,
    prepay,
    set_total,
    update,
)

from workflows.commands import AmendOrder, LineInput


@pytest.fixture
def app30(app: Harness) -> Harness:
    app.ok(customer("C1", "30"))
    return app


def test_line_amount_applies_the_discount_and_rounds(app30: Harness) -> None:
    app30.ok(order(line(1, "3", "33.33", discount="10")))
    # 3 x 33.33 = 99.99; x (1 - 10/100) = 89.991 -> 89.99
    assert app30.line(1).line_amount == D("89.99")
    # 89.99 x 30 % = 26.997 -> 27.00
    assert app30.line(1).prepayment_line_amount == D("27.00")


def test_halves_round_away_from_zero(app30: Harness) -> None:
    app30.ok(order(line(1, "3", "0.335", percent="50"), line(2, "1", "10.05", percent="50")))
    # 3 x 0.335 = 1.005 -> 1.01 (half up, not to even)
    assert app30.line(1).line_amount == D("1.01")
    # 1.01 x 50 % = 0.505 -> 0.51
    assert app30.line(1).prepayment_line_amount == D("0.51")
    # 10.05 x 50 % = 5.025 -> 5.03
    assert app30.line(2).prepayment_line_amount == D("5.03")


@pytest.mark.parametrize(
    ("change", "line_amount", "prepayment"),
    [
        ({"quantity": "12"}, "1200.00", "360.00"),  # 12 x 100.00; x 30 %
        ({"unit_price": "90.00"}, "900.00", "270.00"),  # 10 x 90.00; x 30 %
        ({"line_discount_percent": "5"}, "950.00", "285.00"),  # 1000.00 x 0.95; x 30 %
        ({"prepayment_percent": "40"}, "1000.00", "400.00"),  # 1000.00 x 40 %
    ],
)
def test_the_prepayment_follows_every_change_of_the_line(
    app30: Harness, change: dict[str, str], line_amount: str, prepayment: str
) -> None:
    app30.ok(order(line(1, "10", "100.00")))
    app30.ok(amend(update_lines=(update(1, **change),)))
    assert app30.line(1).line_amount == D(line_amount)
    assert app30.line(1).prepayment_line_amount == D(prepayment)


def test_the_prepayment_of_a_partly_invoiced_line_stays_cumulative(app30: Harness) -> None:
    app30.ok(order(line(1, "10", "100.00")), prepay(), pay("300.00"), invoice("SO-1", (1, "4")))
    # deducted = round(300.00 x 4 / 10) = 120.00
    assert app30.line(1).prepayment_deducted == D("120.00")
    app30.ok(amend(update_lines=(update(1, quantity="12"),)))
    # round(1200.00 x (12 - 4) / 12 x 30 %) + 120.00 = round(240.00) + 120.00 = 360.00
    assert app30.line(1).prepayment_line_amount == D("360.00")
    assert app30.state() == "amended"


def test_a_prepayment_amount_set_by_hand_back_computes_the_percent(app30: Harness) -> None:
    app30.ok(order(line(1, "3", "100.00"), compress=False))
    app30.ok(amend(update_lines=(update(1, prepayment_line_amount="100.00"),)))
    assert app30.line(1).prepayment_line_amount == D("100.00")
    # 100.00 x 100 / 300.00 = 33.333..., kept unrounded
    assert app30.line(1).prepayment_percent == D("10000.00") / D("300.00")
    assert app30.line(1).prepayment_percent != D("33.33333")
    app30.ok(prepay())
    # ... and shown to 5 decimals
    assert app30.last_document().lines[0].description == "Prepayment 33.33333 % of ITEM-1"


def test_a_back_computed_percent_drives_later_recomputations(app30: Harness) -> None:
    app30.ok(order(line(1, "3", "100.00")))
    app30.ok(amend(update_lines=(update(1, prepayment_line_amount="100.00"),)))
    app30.ok(amend(update_lines=(update(1, quantity="6"),)))
    # 600.00 x 33.333...% = 199.999... -> 200.00 (a rounded percent would give 199.99)
    assert app30.line(1).prepayment_line_amount == D("200.00")


def test_an_amount_by_hand_wins_over_a_percent_in_the_same_update(app30: Harness) -> None:
    app30.ok(order(line(1, "1", "200.00")))
    app30.ok(
        amend(update_lines=(update(1, prepayment_percent="90", prepayment_line_amount="50.00"),))
    )
    assert app30.line(1).prepayment_line_amount == D("50.00")
    assert app30.line(1).prepayment_percent == D("25")  # 50.00 x 100 / 200.00


def test_an_amount_by_hand_must_lie_between_invoiced_and_line_amount(app30: Harness) -> None:
    app30.ok(order(line(1, "3", "100.00")), prepay())
    # invoiced 300.00 x 30 % = 90.00; the line amount is 300.00
    error = app30.refuse(amend(update_lines=(update(1, prepayment_line_amount="300.01"),)))
    assert error.code == "prepayment.amount_above_line_amount"
    assert error.field == "update_lines.0.prepayment_line_amount"
    assert "300.01" in error.message and "300.00" in error.message
    error = app30.refuse(amend(update_lines=(update(1, prepayment_line_amount="89.99"),)))
    assert error.code == "prepayment.amount_below_invoiced"
    assert "89.99" in error.message and "90.00" in error.message
    error = app30.refuse(amend(update_lines=(update(1, prepayment_line_amount="100.001"),)))
    assert error.code == "prepayment.amount_precision"
    app30.ok(amend(update_lines=(update(1, prepayment_line_amount="300.00"),)))
    assert app30.line(1).prepayment_percent == D("100")  # 300.00 x 100 / 300.00


def test_an_amount_by_hand_needs_a_line_amount(app30: Harness) -> None:
    app30.ok(order(line(1, "0", "100.00")))
    error = app30.refuse(amend(update_lines=(update(1, prepayment_line_amount="0.00"),)))
    assert error.code == "prepayment.amount_above_line_amount"
    assert "line amount of 0" in error.message


def test_a_total_is_spread_with_the_remainder_on_the_last_line(app30: Harness) -> None:
    app30.ok(
        order(
            line(1, "1", "100.00"),
            line(2, "1", "100.00"),
            line(3, "1", "100.00"),
            line(4, "1", "50.00", percent="0"),
        )
    )
    events = app30.ok(set_total("200.00"))
    # Sigma line amounts of the non-zero-percent lines = 300.00
    # lines 1 and 2: round(200.00 x 100.00 / 300.00) = round(66.666...) = 66.67
    # line 3: 200.00 - 66.67 - 66.67 = 66.66 (carried rounding would give 66.67, 66.66, 66.67)
    assert [app30.line(n).prepayment_line_amount for n in (1, 2, 3, 4)] == [
        D("66.67"),
        D("66.67"),
        D("66.66"),
        D("0.00"),
    ]
    assert app30.line(3).prepayment_percent == D("66.66")  # 66.66 x 100 / 100.00
    assert app30.line(4).prepayment_percent == D("0")
    assert [e.type for e in events] == ["order.amended"]
    assert events[0].data["totals"]["prepayment_line_amount"] == D("200.00")


def test_a_total_is_spread_in_proportion_to_the_line_amounts(app30: Harness) -> None:
    app30.ok(order(line(1, "1", "100.00"), line(2, "2", "100.00"), line(3, "3", "100.00")))
    app30.ok(set_total("100.00"))
    # Sigma = 600.00; round(100 x 100/600) = 16.67; round(100 x 200/600) = 33.33;
    # last: 100.00 - 16.67 - 33.33 = 50.00
    assert [app30.line(n).prepayment_line_amount for n in (1, 2, 3)] == [
        D("16.67"),
        D("33.33"),
        D("50.00"),
    ]
    assert app30.line(2).prepayment_percent == D("16.665")  # 33.33 x 100 / 200.00
    assert app30.line(3).prepayment_percent == D("5000.00") / D("300.00")  # 16.666...


def test_a_total_must_lie_between_invoiced_and_the_line_amounts(app30: Harness) -> None:
    app30.ok(order(line(1, "1", "100.00"), line(2, "1", "200.00")), prepay())
    # invoiced: 30.00 + 60.00 = 90.00; line amounts: 300.00
    error = app30.refuse(set_total("300.01"))
    assert (error.code, error.field) == ("prepayment.total_out_of_range", "amount")
    assert "90.00" in error.message and "300.00" in error.message
    error = app30.refuse(set_total("89.99"))
    assert error.code == "prepayment.total_out_of_range"
    error = app30.refuse(set_total("90.001"))
    assert error.code == "prepayment.amount_precision"
    app30.ok(set_total("300.00"))
    assert app30.line(2).prepayment_line_amount == D("200.00")  # 300.00 - 100.00
    assert app30.state() == "amended"


def test_a_total_may_not_push_one_line_below_its_invoiced_prepayment(app30: Harness) -> None:
    app30.ok(order(line(1, "1", "100.00", percent="50"), line(2, "1", "200.00", percent="10")))
    app30.ok(prepay())
    # invoiced 50.00 + 20.00 = 70.00 <= 90.00, but line 1 would get round(90 x 100/300) = 30.00
    error = app30.refuse(set_total("90.00"))
    assert error.code == "prepayment.amount_below_invoiced"
    assert "line 1" in error.message


def test_a_total_needs_lines_with_a_percent_and_an_amount(app: Harness) -> None:
    app.ok(customer("C1", "0"), order(line(1, "1", "100.00")))
    error = app.refuse(set_total("10.00"))
    assert (error.code, error.field) == ("prepayment.no_eligible_lines", "amount")
    app.ok(order(line(1, "0", "100.00", percent="10"), order_id="SO-2"))
    error = app.refuse(set_total("0.00", "SO-2"))
    assert error.code == "prepayment.zero_line_amounts"


@pytest.mark.parametrize(
    ("given", "field"),
    [
        (line(1, "-1", "100.00"), "lines.0.quantity"),
        (line(1, "1", "-100.00"), "lines.0.unit_price"),
    ],
)
def test_negative_amounts_need_a_zero_percent(app30: Harness, given: LineInput, field: str) -> None:
    error = app30.refuse(order(given))
    assert (error.code, error.field) == ("line.negative_amount", field)
    assert "30 % prepayment" in error.message


def test_a_negative_line_without_prepayment_is_accepted(app30: Harness) -> None:
    app30.ok(order(line(1, "-2", "25.00", percent="0")))
    assert app30.line(1).line_amount == D("-50.00")  # -2 x 25.00
    assert app30.line(1).prepayment_line_amount == D("0.00")


LINE_AMOUNT = "update_lines.0.prepayment_line_amount"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (amend(update_lines=(update(1, prepayment_percent="20"),)), LINE_AMOUNT),  # 200.00
        (amend(update_lines=(update(1, quantity="9"),)), LINE_AMOUNT),  # 270.00
        (amend(update_lines=(update(1, unit_price="99.99"),)), LINE_AMOUNT),  # 299.97
        (amend(update_lines=(update(1, line_discount_percent="1"),)), LINE_AMOUNT),  # 297.00
        (amend(prepayment_percent=D("29.99")), "prepayment_percent"),  # 299.90
    ],
)
def test_an_amendment_never_lowers_the_prepayment_below_invoiced(
    app30: Harness, change: AmendOrder, field: str
) -> None:
    app30.ok(order(line(1, "10", "100.00")), prepay())
    error = app30.refuse(change)
    assert (error.code, error.field) == ("prepayment.amount_below_invoiced", field)
    assert "300.00 already invoiced" in error.message
    assert "post a prepayment credit memo first" in error.message


def test_raising_the_percent_after_invoicing_is_allowed(app30: Harness) -> None:
    app30.ok(order(line(1, "10", "100.00")), prepay())
    app30.ok(amend(prepayment_percent=D("40")))
    assert app30.line(1).prepayment_line_amount == D("400.00")  # 1000.00 x 40 %
    assert app30.line(1).prepayment_invoiced == D("300.00")
    assert app30.state() == "amended"


def test_the_quantity_may_not_drop_below_what_is_invoiced(app: Harness) -> None:
    app.ok(customer("C1"), order(line(1, "10", "100.00")), invoice("SO-1", (1, "4")))
    error = app.refuse(amend(update_lines=(update(1, quantity="3"),)))
    assert (error.code, error.field) == ("line.quantity_below_invoiced", "update_lines.0.quantity")
    app.ok(amend(update_lines=(update(1, quantity="4"),)))
    assert app.state() == "final_invoiced"


def test_the_price_of_a_partly_invoiced_line_is_frozen(app: Harness) -> None:
    app.ok(customer("C1"), order(line(1, "10", "100.00")), invoice("SO-1", (1, "4")))
    error = app.refuse(amend(update_lines=(update(1, unit_price="90.00"),)))
    assert (error.code, error.field) == ("line.already_invoiced", "update_lines.0.unit_price")
    assert "4 of 10" in error.message


@pytest.mark.parametrize(
    ("given", "field"),
    [
        (line(1, "1", "1.00", discount="100.01"), "lines.0.line_discount_percent"),
        (line(1, "1", "1.00", discount="-1"), "lines.0.line_discount_percent"),
        (line(1, "1", "1.00", vat="-7"), "lines.0.vat_percent"),
    ],
)
def test_discount_and_vat_percents_lie_between_0_and_100(
    app30: Harness, given: LineInput, field: str
) -> None:
    error = app30.refuse(order(given))
    assert (error.code, error.field) == ("line.percent_range", field)


def test_an_amendment_must_change_something(app30: Harness) -> None:
    app30.ok(order(line(1, "1", "1.00")))
    error = app30.refuse(amend())
    assert error.code == "order.nothing_to_amend"


def test_line_numbers_are_unique(app30: Harness) -> None:
    error = app30.refuse(order(line(1, "1", "1.00"), line(1, "2", "1.00")))
    assert (error.code, error.field) == ("line.duplicate_line_no", "lines.1.line_no")
    app30.ok(order(line(1, "1", "1.00")))
    error = app30.refuse(amend(add_lines=(line(1, "1", "1.00"),)))
    assert (error.code, error.field) == ("line.duplicate_line_no", "add_lines.0.line_no")


def test_unknown_lines_are_named(app30: Harness) -> None:
    app30.ok(order(line(1, "1", "1.00")))
    error = app30.refuse(amend(update_lines=(update(7, quantity="2"),)))
    assert (error.code, error.field) == ("line.not_found", "update_lines.0.line_no")
    assert "line 7" in error.message
    error = app30.refuse(amend(remove_lines=(7,)))
    assert (error.code, error.field) == ("line.not_found", "remove_lines.0")


def test_a_line_removed_by_the_amendment_cannot_be_updated_by_it(app30: Harness) -> None:
    app30.ok(order(line(1, "1", "1.00"), line(2, "1", "1.00")))
    error = app30.refuse(amend(remove_lines=(1,), update_lines=(update(1, quantity="2"),)))
    assert (error.code, error.field) == ("line.not_found", "update_lines.0.line_no")


def test_a_line_named_twice_for_removal_is_removed_once(app30: Harness) -> None:
    app30.ok(order(line(1, "1", "1.00"), line(2, "1", "1.00")))
    app30.ok(amend(remove_lines=(1, 1)))
    assert sorted(app30.order().lines) == [2]


def test_lines_are_added_updated_and_removed_in_one_amendment(app30: Harness) -> None:
    app30.ok(order(line(1, "1", "100.00"), line(2, "1", "100.00")))
    events = app30.ok(
        amend(
            remove_lines=(1,),
            update_lines=(update(2, quantity="2"),),
            add_lines=(line(3, "1", "50.00"),),
        )
    )
    assert sorted(app30.order().lines) == [2, 3]
    assert app30.line(2).prepayment_line_amount == D("60.00")  # 200.00 x 30 %
    assert app30.line(3).prepayment_line_amount == D("15.00")  # 50.00 x 30 %
    # 60.00 + 15.00
    assert events[0].data["totals"]["prepayment_line_amount"] == D("75.00")


def test_the_prepayment_of_a_fully_invoiced_line_cannot_change(app30: Harness) -> None:
    app30.ok(order(line(1, "1", "100.00"), line(2, "2", "100.00")), prepay(), pay("90.00"))
    app30.ok(invoice("SO-1", (1, "1")))
    # line 1 is fully invoiced and deducted its 30.00: no later invoice could deduct more
    error = app30.refuse(amend(update_lines=(update(1, prepayment_line_amount="50.00"),)))
    assert (error.code, error.field) == (
        "line.already_invoiced",
        "update_lines.0.prepayment_line_amount",
    )
    assert "line 1 is fully invoiced" in error.message and "30.00" in error.message
    # round(150.00 x 100.00 / 300.00) = 50.00 for line 1
    error = app30.refuse(set_total("150.00"))
    assert (error.code, error.field) == ("line.already_invoiced", "amount")
    # 90.00 gives line 1 round(90.00 x 100/300) = 30.00 and line 2 60.00: nothing changes
    app30.ok(set_total("90.00"))
    assert app30.line(1).prepayment_line_amount == D("30.00")
    assert app30.state() == "partially_invoiced"


def test_a_partly_invoiced_line_cannot_be_removed(app: Harness) -> None:
    app.ok(customer("C1"), order(line(1, "10", "100.00"), line(2, "1", "1.00")))
    app.ok(invoice("SO-1", (1, "4")))
    error = app.refuse(amend(remove_lines=(1,)))
    assert (error.code, error.field) == ("line.already_invoiced", "remove_lines.0")
    assert "order SO-1 line 1" in error.message and "(4)" in error.message
