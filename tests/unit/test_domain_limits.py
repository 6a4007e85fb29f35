"""A line's quantity x unit price must stay an amount the contract can carry (15 digits before
the point): beyond, the arithmetic outgrew Decimal's 28 digits and the command crashed instead
of being refused (found by the hostile-input tests)."""

from __future__ import annotations

import pytest
from builders import Harness, amend, customer, line, order, update

from workflows.order import MAX_LINE_AMOUNT


@pytest.mark.parametrize(
    ("quantity", "unit_price"),
    [
        ("999999999999999", "999999999999999"),
        ("999999999999999.99999", "-999999999999999.99999"),
        ("100000000", "10000000"),
    ],
)
def test_a_line_beyond_the_largest_amount_is_refused(quantity: str, unit_price: str) -> None:
    harness = Harness()
    harness.ok(customer())
    error = harness.refuse(order(line(1, quantity, unit_price)))
    assert (error.code, error.field) == ("line.amount_too_large", "lines.0.quantity")
    assert "15 digits" in error.message


def test_the_largest_line_amount_is_accepted() -> None:
    harness = Harness()
    harness.ok(customer(), order(line(1, "1", str(MAX_LINE_AMOUNT - 1))))
    assert harness.line(1).line_amount == MAX_LINE_AMOUNT - 1


def test_an_amendment_beyond_the_largest_amount_is_refused() -> None:
    harness = Harness()
    harness.ok(customer(), order(line(1, "2", "10.00")))
    error = harness.refuse(amend(update_lines=(update(1, quantity="1" + "0" * 14),)))
    assert error.code == "line.amount_too_large"
    assert error.field == "update_lines.0.quantity"
