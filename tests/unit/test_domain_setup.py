"""Setup (spec section 1): party defaults, item prepayment rules and which percent a line gets."""

from __future__ import annotations

from datetime import date

import pytest
from builders import (
    D,
    Harness,
    amend,
    customer,
    line,
    order,
    prepay,
    purchase_order,
    rule,
    update,
    vendor,
)

from workflows.commands import Command, PaymentTerms


@pytest.fixture
def rules(app: Harness) -> Harness:
    """Item A has a rule at every sales level; item B has none."""
    app.ok(
        customer("C1", "30", price_group="RETAIL"),
        customer("C2", "30", price_group="RETAIL"),
        customer("C3", "30"),
        rule("A", "party", "40", "C1"),
        rule("A", "price_group", "20", "RETAIL"),
        rule("A", "all", "10"),
    )
    return app


def test_a_line_takes_the_party_default_percent(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00")))
    # line_amount = 10 x 100.00 = 1000.00; prepayment = 1000.00 x 30 % = 300.00
    assert app.line(1).line_amount == D("1000.00")
    assert app.line(1).prepayment_percent == D("30")
    assert app.line(1).prepayment_line_amount == D("300.00")
    assert app.order().prepayment_percent == D("30")


def test_the_orders_percent_overrides_the_party_default(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "10", "100.00"), percent="25"))
    # 1000.00 x 25 % = 250.00
    assert app.line(1).prepayment_line_amount == D("250.00")


def test_a_party_rule_wins_over_price_group_and_all(rules: Harness) -> None:
    rules.ok(order(line(1, "1", "100.00", item="A"), line(2, "1", "100.00", item="B")))
    assert rules.line(1).prepayment_percent == D("40")  # item + this customer
    assert rules.line(1).prepayment_line_amount == D("40.00")  # 100.00 x 40 %
    assert rules.line(2).prepayment_percent == D("30")  # no rule: the order's percent


def test_a_price_group_rule_wins_over_the_all_customers_rule(rules: Harness) -> None:
    rules.ok(order(line(1, "1", "100.00", item="A"), party_id="C2"))
    assert rules.line(1).prepayment_percent == D("20")


def test_the_all_customers_rule_applies_without_a_closer_rule(rules: Harness) -> None:
    rules.ok(order(line(1, "1", "100.00", item="A"), party_id="C3"))
    assert rules.line(1).prepayment_percent == D("10")


def test_a_matching_zero_percent_rule_still_wins(app: Harness) -> None:
    app.ok(
        customer("C1", "30"),
        rule("A", "party", "0", "C1"),
        rule("A", "all", "50"),
        order(line(1, "1", "100.00", item="A")),
    )
    assert app.line(1).prepayment_percent == D("0")
    assert app.line(1).prepayment_line_amount == D("0.00")


def test_an_explicit_line_percent_overrides_every_rule(rules: Harness) -> None:
    rules.ok(order(line(1, "1", "100.00", item="A", percent="55")))
    assert rules.line(1).prepayment_percent == D("55")


def test_only_rules_valid_on_the_posting_date_count(app: Harness) -> None:
    app.ok(
        customer("C1", "30"),
        rule("A", "party", "40", "C1", starting=date(2026, 12, 1)),
        rule("A", "all", "10", ending=date(2026, 11, 26)),
        # The order date is 2026-11-27: the party rule has not started, the all rule ended.
        order(line(1, "1", "100.00", item="A")),
        order(line(1, "1", "100.00", item="A"), order_id="SO-2", posting_date=date(2026, 12, 1)),
    )
    assert app.line(1).prepayment_percent == D("30")
    assert app.line(1, "SO-2").prepayment_percent == D("40")


def test_the_ending_date_is_inclusive(app: Harness) -> None:
    app.ok(
        customer("C1", "30"),
        rule("A", "party", "40", "C1", ending=date(2026, 11, 27)),
        order(line(1, "1", "100.00", item="A")),
    )
    assert app.line(1).prepayment_percent == D("40")


def test_within_a_level_the_latest_starting_date_wins(app: Harness) -> None:
    app.ok(
        customer("C1", "30"),
        rule("A", "party", "60", "C1", starting=date(2026, 6, 1)),
        rule("A", "party", "50", "C1", starting=date(2026, 1, 1)),
        rule("A", "party", "45", "C1"),  # no starting date: the oldest
        rule("A", "party", "70", "C1", starting=date(2027, 1, 1)),  # not started yet
        order(line(1, "1", "100.00", item="A")),
    )
    assert app.line(1).prepayment_percent == D("60")


def test_upserting_a_rule_with_the_same_key_replaces_it(app: Harness) -> None:
    app.ok(
        customer("C1", "30"),
        rule("A", "party", "40", "C1"),
        rule("A", "party", "45", "C1"),
        order(line(1, "1", "100.00", item="A")),
    )
    assert app.line(1).prepayment_percent == D("45")


def test_lines_added_later_follow_the_rules_too(rules: Harness) -> None:
    rules.ok(order(line(1, "1", "100.00", item="B")))
    rules.ok(amend(add_lines=(line(2, "1", "100.00", item="A"),)))
    assert rules.line(2).prepayment_percent == D("40")


def test_changing_the_orders_percent_overrides_rules_and_line_percents(rules: Harness) -> None:
    rules.ok(order(line(1, "1", "100.00", item="A"), line(2, "1", "200.00", percent="80")))
    rules.ok(amend(prepayment_percent=D("15")))
    assert rules.order().prepayment_percent == D("15")
    assert rules.line(1).prepayment_percent == D("15")
    assert rules.line(1).prepayment_line_amount == D("15.00")  # 100.00 x 15 %
    assert rules.line(2).prepayment_line_amount == D("30.00")  # 200.00 x 15 %


def test_a_line_added_with_a_new_order_percent_gets_the_new_percent(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "1", "100.00")))
    app.ok(amend(prepayment_percent=D("50"), add_lines=(line(2, "1", "100.00"),)))
    # The order's percent is level (4) of the precedence; the new one is in force.
    assert app.line(2).prepayment_percent == D("50")
    assert app.line(2).prepayment_line_amount == D("50.00")


def test_a_percent_set_on_one_line_changes_only_that_line(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "1", "100.00"), line(2, "1", "100.00")))
    app.ok(amend(update_lines=(update(1, prepayment_percent="12.5"),)))
    assert app.line(1).prepayment_line_amount == D("12.50")  # 100.00 x 12.5 %
    assert app.line(2).prepayment_line_amount == D("30.00")


def test_purchase_precedence_is_vendor_then_all_vendors_then_order(app: Harness) -> None:
    app.ok(
        vendor("V1", "25"),
        vendor("V2", "25"),
        rule("A", "party", "40", "V1", side="purchase"),
        rule("A", "all", "10", side="purchase"),
        # A sales rule for the same item never applies to purchases.
        rule("A", "all", "90"),
        purchase_order(line(1, "1", "100.00", item="A"), line(2, "1", "100.00", item="B")),
        purchase_order(line(1, "1", "100.00", item="A"), order_id="PO-2", party_id="V2"),
    )
    assert app.line(1, "PO-1").prepayment_percent == D("40")
    assert app.line(2, "PO-1").prepayment_percent == D("25")
    assert app.line(1, "PO-2").prepayment_percent == D("10")


def test_the_prepayment_terms_give_the_due_and_discount_dates(app: Harness) -> None:
    terms = PaymentTerms(due_days=14, discount_days=7, discount_percent=D("2"))
    app.ok(customer("C1", "30", terms=terms), order(line(1, "1", "100.00")), prepay())
    document = app.last_document()
    assert document.posting_date == date(2026, 11, 27)
    assert document.due_date == date(2026, 12, 11)  # 27 Nov + 14 days
    assert document.payment_discount_date == date(2026, 12, 4)  # 27 Nov + 7 days
    assert document.payment_discount_percent == D("2")


def test_the_posting_date_of_the_command_drives_the_due_date(app: Harness) -> None:
    terms = PaymentTerms(due_days=10)
    app.ok(customer("C1", "30", terms=terms), order(line(1, "1", "100.00")))
    app.ok(prepay(on=date(2026, 12, 30)))
    assert app.last_document().due_date == date(2027, 1, 9)  # 30 Dec + 10 days
    assert app.last_document().payment_discount_date is None  # no discount percent


def test_setup_commands_emit_no_events(app: Harness) -> None:
    assert app.ok(customer("C1", "30")) == []
    assert app.ok(rule("A", "all", "10")) == []


@pytest.mark.parametrize(
    ("command", "code", "field"),
    [
        (
            rule("A", "all", "10", starting=date(2026, 2, 1), ending=date(2026, 1, 31)),
            "setup.date_range",
            "starting_date",
        ),
        (rule("A", "party", "10"), "setup.rule_code", "code"),
        (rule("A", "price_group", "10"), "setup.rule_code", "code"),
        (rule("A", "all", "10", "C1"), "setup.rule_code", "code"),
        (
            rule("A", "price_group", "10", "RETAIL", side="purchase"),
            "setup.rule_code",
            "applies_to",
        ),
        (rule("A", "all", "100.00001"), "prepayment.percent_range", "percent"),
        (rule("A", "all", "-1"), "prepayment.percent_range", "percent"),
        (customer("C9", "101"), "prepayment.percent_range", "prepayment_percent"),
        (customer("C9", terms=PaymentTerms(due_days=-1)), "setup.payment_terms", "payment_terms"),
        (
            customer("C9", terms=PaymentTerms(discount_days=-1)),
            "setup.payment_terms",
            "payment_terms",
        ),
        (
            customer("C9", terms=PaymentTerms(discount_percent=D("100.5"))),
            "setup.payment_terms",
            "payment_terms.discount_percent",
        ),
        (vendor("V9", price_group="RETAIL"), "setup.price_group", "price_group"),
    ],
)
def test_invalid_setup_is_refused(app: Harness, command: Command, code: str, field: str) -> None:
    error = app.refuse(command)
    assert (error.code, error.field) == (code, field)


def test_a_rule_with_equal_start_and_end_is_accepted(app: Harness) -> None:
    day = date(2026, 11, 27)
    app.ok(customer("C1"), rule("A", "all", "10", starting=day, ending=day))
    app.ok(order(line(1, "1", "100.00", item="A")))
    assert app.line(1).prepayment_percent == D("10")


def test_a_party_cannot_change_side(app: Harness) -> None:
    app.ok(customer("P1", "30"))
    error = app.refuse(vendor("P1", "30"))
    assert (error.code, error.field) == ("party.side_mismatch", "side")
    assert "P1" in error.message


def test_a_party_upsert_replaces_its_defaults_for_new_orders(app: Harness) -> None:
    app.ok(customer("C1", "30"), order(line(1, "1", "100.00")))
    app.ok(customer("C1", "50"), order(line(1, "1", "100.00"), order_id="SO-2"))
    assert app.line(1).prepayment_percent == D("30")  # existing orders keep theirs
    assert app.line(1, "SO-2").prepayment_percent == D("50")


def test_an_order_needs_a_known_party_of_its_side(app: Harness) -> None:
    app.ok(vendor("V1"))
    error = app.refuse(order(line(1, "1", "1.00"), party_id="NOBODY"))
    assert (error.code, error.field) == ("party.not_found", "party_id")
    assert "NOBODY" in error.message
    error = app.refuse(order(line(1, "1", "1.00"), party_id="V1"))
    assert (error.code, error.field) == ("party.side_mismatch", "party_id")


def test_an_order_id_is_created_once(app: Harness) -> None:
    app.ok(customer("C1"), order(line(1, "1", "1.00")))
    error = app.refuse(order(line(1, "2", "1.00")))
    assert (error.code, error.field) == ("order.already_exists", "order_id")


def test_the_orders_percent_must_lie_between_0_and_100(app: Harness) -> None:
    app.ok(customer("C1"))
    error = app.refuse(order(line(1, "1", "1.00"), percent="100.1"))
    assert (error.code, error.field) == ("prepayment.percent_range", "prepayment_percent")
    app.ok(order(line(1, "1", "1.00"), percent="0"))
    error = app.refuse(amend(prepayment_percent=D("-0.5")))
    assert (error.code, error.field) == ("prepayment.percent_range", "prepayment_percent")


def test_a_line_percent_must_lie_between_0_and_100(app: Harness) -> None:
    app.ok(customer("C1"))
    error = app.refuse(order(line(1, "1", "1.00"), line(2, "1", "1.00", percent="101")))
    assert (error.code, error.field) == ("prepayment.percent_range", "lines.1.prepayment_percent")
    app.ok(order(line(1, "1", "1.00")))
    error = app.refuse(amend(update_lines=(update(1, prepayment_percent="-1"),)))
    assert error.code == "prepayment.percent_range"
    assert error.field == "update_lines.0.prepayment_percent"


def test_a_rule_for_another_party_leaves_the_party_default(app: Harness) -> None:
    app.ok(
        customer("C1", "30", price_group="RETAIL"),
        rule("A", "party", "40", "C2"),
        rule("A", "price_group", "20", "WHOLESALE"),
        order(line(1, "10", "100.00", item="A")),
    )
    assert app.line(1).prepayment_percent == D("30")
