"""Command `data` on the wire: every type parses into its dataclass; every rule names its field."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from schemas.commands import COMMAND_MODELS
from schemas.examples import command_examples
from schemas.parsing import InvalidCommand, parse_command
from workflows import commands as domain

EXAMPLES = command_examples()
CLASS_OF = {name: cls for cls, name in domain.COMMAND_TYPES.items()}


def body(command_type: str, data: Any, **envelope: Any) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": "cmd-1",
            "source": "erp/orders",
            "type": command_type,
            "data": data,
            **envelope,
        }
    ).encode()


def example(command_type: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[command_type][1])


def rejection(command_type: str, data: Any) -> InvalidCommand:
    with pytest.raises(InvalidCommand) as caught:
        parse_command(body(command_type, data))
    return caught.value


def test_there_is_a_model_and_an_example_for_every_command_type() -> None:
    assert set(COMMAND_MODELS) == set(domain.COMMAND_TYPES.values())
    assert set(EXAMPLES) == set(domain.COMMAND_TYPES.values())


@pytest.mark.parametrize("command_type", sorted(EXAMPLES))
def test_every_example_parses_into_its_dataclass(command_type: str) -> None:
    subject, data = EXAMPLES[command_type]
    parsed = parse_command(body(command_type, data, subject=subject))
    assert parsed.command_type == command_type
    assert type(parsed.command) is CLASS_OF[command_type]
    assert parsed.envelope.id == "cmd-1"
    assert parsed.envelope.subject == subject
    assert parsed.envelope.data == data


def test_order_create_becomes_the_exact_domain_command() -> None:
    command = parse_command(body("order.create", example("order.create"))).command
    assert command == domain.CreateOrder(
        order_id="SO-1001",
        side="sales",
        party_id="C-100",
        currency="EUR",
        order_date=date(2026, 11, 27),
        prepayment_percent=Decimal(30),
        lines=(
            domain.LineInput(
                line_no=10000,
                item_id="BIKE-200",
                description="City bike",
                quantity=Decimal(2),
                unit_price=Decimal("500.00"),
                vat_percent=Decimal(25),
            ),
            domain.LineInput(
                line_no=20000,
                item_id="HELMET-10",
                description="Helmet",
                quantity=Decimal(4),
                unit_price=Decimal("25.20"),
                vat_percent=Decimal(25),
            ),
        ),
    )


def test_decimal_strings_keep_their_exact_digits() -> None:
    data = example("payment.record") | {"amount": "1000.80"}
    command = parse_command(body("payment.record", data)).command
    assert isinstance(command, domain.RecordPayment)
    assert str(command.amount) == "1000.80"


def test_json_integers_are_exact_and_accepted_as_decimals() -> None:
    data = example("prepayment.set_total") | {"amount": 330}
    command = parse_command(body("prepayment.set_total", data)).command
    assert command == domain.SetPrepaymentTotal(order_id="SO-1001", amount=Decimal(330))


def test_negative_quantities_and_prices_are_left_to_the_domain() -> None:
    data = example("order.create")
    data["lines"][0] |= {"quantity": "-2", "unit_price": "-500.00001"}
    command = parse_command(body("order.create", data)).command
    assert isinstance(command, domain.CreateOrder)
    assert command.lines[0].quantity == Decimal(-2)
    assert command.lines[0].unit_price == Decimal("-500.00001")


def test_setup_defaults_are_the_dataclass_defaults() -> None:
    data = {"party_id": "C-1", "side": "purchase", "name": "Parts Inc"}
    command = parse_command(body("party.upsert", data)).command
    assert command == domain.UpsertParty(party_id="C-1", side="purchase", name="Parts Inc")


def test_rule_for_all_parties_has_no_code() -> None:
    data = {"side": "sales", "item_id": "I-1", "applies_to": "all", "percent": "10"}
    command = parse_command(body("prepayment_rule.upsert", data)).command
    assert command == domain.UpsertPrepaymentRule(
        side="sales", item_id="I-1", applies_to="all", percent=Decimal(10)
    )


def test_explicit_null_is_the_same_as_absent() -> None:
    data = {"order_id": "SO-1", "posting_date": None, "external_document_no": None}
    command = parse_command(body("prepayment.invoice", data)).command
    assert command == domain.InvoicePrepayment(order_id="SO-1")


def test_order_invoice_without_lines_means_everything_remaining() -> None:
    command = parse_command(body("order.invoice", {"order_id": "SO-1"})).command
    assert command == domain.InvoiceOrder(order_id="SO-1", lines=None)
    command = parse_command(body("order.invoice", {"order_id": "SO-1", "lines": []})).command
    assert command == domain.InvoiceOrder(order_id="SO-1", lines=())


def test_order_cancel_reason_is_optional() -> None:
    assert parse_command(body("order.cancel", {"order_id": "SO-1"})).command == (
        domain.CancelOrder(order_id="SO-1")
    )


def test_order_amend_carries_every_kind_of_change() -> None:
    data = {
        "order_id": "SO-1",
        "prepayment_percent": "40",
        "add_lines": [{"line_no": 3, "item_id": "X", "quantity": "1", "unit_price": "9.99"}],
        "update_lines": [{"line_no": 1, "prepayment_line_amount": "12.345"}],
        "remove_lines": [2],
    }
    command = parse_command(body("order.amend", data)).command
    assert command == domain.AmendOrder(
        order_id="SO-1",
        prepayment_percent=Decimal(40),
        add_lines=(
            domain.LineInput(
                line_no=3, item_id="X", quantity=Decimal(1), unit_price=Decimal("9.99")
            ),
        ),
        update_lines=(domain.LineUpdate(line_no=1, prepayment_line_amount=Decimal("12.345")),),
        remove_lines=(2,),
    )


def _line(**changes: Any) -> dict[str, Any]:
    data = example("order.create")
    data["lines"][0] |= changes
    return data


LONG_ID = "x" * 101
THIRTY_DECIMALS = "0." + "1" * 30
BAD_DATA: list[tuple[str, dict[str, Any], str | None, str]] = [
    # (command type, data, field at fault, part of the message)
    ("order.create", _line(quantity=1.5), "lines.0.quantity", "not a JSON float"),
    ("order.create", _line(quantity=2.0), "lines.0.quantity", "not a JSON float"),
    ("order.create", _line(unit_price="NaN"), "lines.0.unit_price", "plain decimal string"),
    ("order.create", _line(unit_price="Infinity"), "lines.0.unit_price", "plain decimal"),
    ("order.create", _line(unit_price="1e3"), "lines.0.unit_price", "no exponent"),
    ("order.create", _line(unit_price=" 1"), "lines.0.unit_price", "plain decimal"),
    ("order.create", _line(unit_price="1_000"), "lines.0.unit_price", "plain decimal"),
    (
        "order.create",
        _line(quantity=THIRTY_DECIMALS),
        "lines.0.quantity",
        "at most 5 decimal places",
    ),
    ("order.create", _line(quantity="1.000000"), "lines.0.quantity", "at most 5 decimal places"),
    (
        "order.create",
        _line(quantity="1234567890123456"),
        "lines.0.quantity",
        "at most 15 digits before the decimal point",
    ),
    (
        "order.create",
        _line(quantity=10**16),
        "lines.0.quantity",
        "at most 15 digits before the decimal point",
    ),
    ("order.create", _line(quantity=True), "lines.0.quantity", "not a JSON boolean"),
    ("order.create", _line(quantity=None), "lines.0.quantity", "decimal string"),
    ("order.create", _line(vat_percent=25.0), "lines.0.vat_percent", "not a JSON float"),
    ("order.create", _line(vat_percent="100.5"), "lines.0.vat_percent", "less than or equal"),
    # out of range and too many digits: the range is what is reported, as it always was
    ("order.create", _line(vat_percent="100.000001"), "lines.0.vat_percent", "less than or"),
    ("order.create", _line(vat_percent="-0.000001"), "lines.0.vat_percent", "greater than or"),
    ("order.create", _line(line_discount_percent="-1"), "lines.0.line_discount_percent", "0"),
    ("order.create", _line(prepayment_percent="1.123456"), "lines.0.prepayment_percent", "5"),
    ("order.create", _line(colour="red"), "lines.0.colour", "not a known field"),
    ("order.create", _line(line_no=0), "lines.0.line_no", "greater than 0"),
    ("order.create", _line(line_no="1"), "lines.0.line_no", "valid integer"),
    ("order.create", _line(line_no=True), "lines.0.line_no", "valid integer"),
    ("order.create", _line(line_no=1.0), "lines.0.line_no", "valid integer"),
    ("order.create", _line(line_no=20000), "lines", "line_no 20000 appears more than once"),
    ("order.create", _line(item_id=""), "lines.0.item_id", "must not be empty"),
    ("order.create", _line(description="d" * 501), "lines.0.description", "500 characters"),
    ("order.create", example("order.create") | {"lines": "all"}, "lines", "tuple"),
    ("order.create", example("order.create") | {"lines": ["x"]}, "lines.0", "LineInputData"),
    ("order.create", example("order.create") | {"colour": "red"}, "colour", "not a known field"),
    ("order.create", example("order.create") | {"order_id": ""}, "order_id", "empty"),
    ("order.create", example("order.create") | {"order_id": LONG_ID}, "order_id", "100"),
    ("order.create", example("order.create") | {"order_id": 1001}, "order_id", "string"),
    ("order.create", example("order.create") | {"side": "both"}, "side", "'sales'"),
    ("order.create", example("order.create") | {"currency": "eur"}, "currency", "uppercase"),
    ("order.create", example("order.create") | {"currency": "EURO"}, "currency", "ISO 4217"),
    ("order.create", example("order.create") | {"currency": "€"}, "currency", "ISO 4217"),
    ("order.create", example("order.create") | {"order_date": "2026-13-01"}, "order_date", "date"),
    ("order.create", example("order.create") | {"order_date": "2026-02-30"}, "order_date", "day"),
    ("order.create", example("order.create") | {"order_date": "27.11.2026"}, "order_date", "ISO"),
    ("order.create", example("order.create") | {"order_date": "20261127"}, "order_date", "ISO"),
    ("order.create", example("order.create") | {"order_date": 20261127}, "order_date", "ISO"),
    ("order.create", example("order.create") | {"order_date": "1899-12-31"}, "order_date", "1900"),
    ("order.create", example("order.create") | {"order_date": "3000-01-01"}, "order_date", "2999"),
    (
        "order.create",
        example("order.create") | {"prices_include_vat": "true"},
        "prices_include_vat",
        "boolean",
    ),
    (
        "order.create",
        example("order.create") | {"prepayment_percent": 30.5},
        "prepayment_percent",
        "float",
    ),
    (
        "payment.record",
        example("payment.record") | {"amount": "412.8001"},
        "amount",
        "at most 3 decimal places",
    ),
    ("payment.record", example("payment.record") | {"amount": 412.8}, "amount", "not a JSON float"),
    (
        "payment.record",
        example("payment.record") | {"received_date": "yesterday"},
        "received_date",
        "ISO",
    ),
    ("prepayment.set_total", {"order_id": "SO-1"}, "amount", "is required"),
    ("prepayment.set_total", {"amount": "1"}, "order_id", "is required"),
    (
        "prepayment_rule.upsert",
        example("prepayment_rule.upsert") | {"applies_to": "all"},
        "code",
        "absent",
    ),
    (
        "prepayment_rule.upsert",
        example("prepayment_rule.upsert") | {"code": None},
        "code",
        "required",
    ),
    (
        "prepayment_rule.upsert",
        example("prepayment_rule.upsert") | {"applies_to": "everyone"},
        "applies_to",
        "'party'",
    ),
    (
        "party.upsert",
        example("party.upsert") | {"payment_terms": {"due_days": -1}},
        "payment_terms.due_days",
        "greater",
    ),
    (
        "party.upsert",
        example("party.upsert") | {"payment_terms": {"discount_percent": "101"}},
        "payment_terms.discount_percent",
        "100",
    ),
    (
        "party.upsert",
        example("party.upsert") | {"payment_terms": {"net_days": 1}},
        "payment_terms.net_days",
        "not a known field",
    ),
    ("party.upsert", example("party.upsert") | {"name": ""}, "name", "empty"),
    ("order.amend", {"order_id": "SO-1"}, None, "at least one of prepayment_percent"),
    (
        "order.amend",
        {"order_id": "SO-1", "update_lines": [{"line_no": 1}]},
        "update_lines.0",
        "at least one",
    ),
    ("order.amend", {"order_id": "SO-1", "remove_lines": [1, 1]}, "remove_lines", "more than once"),
    ("order.amend", {"order_id": "SO-1", "remove_lines": ["1"]}, "remove_lines.0", "integer"),
    (
        "order.amend",
        {"order_id": "SO-1", "remove_lines": list(range(1, 1002))},
        "remove_lines",
        "at most 1000",
    ),
    (
        "order.invoice",
        {"order_id": "SO-1", "lines": [{"line_no": 1}]},
        "lines.0.quantity",
        "required",
    ),
    ("prepayment.credit", {"order_id": "SO-1", "lines": [0]}, "lines.0", "greater than 0"),
    ("order.cancel", {"order_id": "SO-1", "force": True}, "force", "not a known field"),
    ("order.cancel", {}, "order_id", "is required"),
]


@pytest.mark.parametrize(("command_type", "data", "field", "fragment"), BAD_DATA)
def test_schema_violations_name_the_field(
    command_type: str, data: dict[str, Any], field: str | None, fragment: str
) -> None:
    error = rejection(command_type, data)
    assert error.code == "command.invalid"
    assert error.field == field
    assert fragment in error.message
    if field is not None:
        assert error.message.startswith(f"{field}: ")
    assert error.command_id == "cmd-1"
    assert error.command_type == command_type


def test_a_thousand_lines_are_fine_one_more_is_not() -> None:
    line = {"item_id": "X", "quantity": "1", "unit_price": "1"}
    data = example("order.create")
    data["lines"] = [{"line_no": n, **line} for n in range(1, 1001)]
    command = parse_command(body("order.create", data)).command
    assert isinstance(command, domain.CreateOrder)
    assert len(command.lines) == 1000
    data["lines"].append({"line_no": 1001, **line})
    error = rejection("order.create", data)
    assert error.field == "lines"
    assert "at most 1000 items" in error.message


def test_the_message_reads_as_the_field_and_the_rule() -> None:
    error = rejection("order.create", _line(quantity=1.5))
    assert error.message == "lines.0.quantity: must be a decimal string, not a JSON float"


def test_several_errors_are_all_listed_the_first_one_decides_the_field() -> None:
    data = _line(quantity=1.5, unit_price="abc") | {"currency": "eur"}
    error = rejection("order.create", data)
    assert error.field == "currency"
    assert error.message.split("; ")[0].startswith("currency: ")
    assert "lines.0.quantity: " in error.message
    assert "lines.0.unit_price: " in error.message


def test_a_flood_of_errors_is_summarised() -> None:
    data = example("order.create")
    data["lines"] = [{"line_no": n} for n in range(1, 51)]
    error = rejection("order.create", data)
    assert error.message.count(";") == 5
    assert error.message.endswith("more errors")
