"""Events on the wire: exact decimals, the CloudEvents envelope, and the contract's models."""

from __future__ import annotations

import copy
import json
import re
import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.events import (
    EVENT_MODELS,
    OrderStateChanged,
    decode_event,
    encode_event,
    to_envelope,
    validate_event,
)
from schemas.examples import event_examples
from schemas.scalars import decimal_text
from workflows import events as domain

EXAMPLES = event_examples()
AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def encode(event: domain.Event, **overrides: Any) -> bytes:
    options: dict[str, Any] = {"event_id": "evt-1", "correlation_id": "cmd-1", "time": AT}
    return encode_event(event, **(options | overrides))


def data_of(event_type: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[event_type].data)


def test_there_is_a_model_and_an_example_for_every_event_type() -> None:
    assert set(EVENT_MODELS) == set(domain.EVENT_TYPES)
    assert set(EXAMPLES) == set(domain.EVENT_TYPES)


@pytest.mark.parametrize("event_type", domain.EVENT_TYPES)
def test_every_produced_event_validates_against_its_model(event_type: str) -> None:
    event = EXAMPLES[event_type]
    envelope, data = decode_event(encode(event))
    assert envelope.type == event_type
    assert isinstance(data, EVENT_MODELS[event_type])
    assert data == validate_event(event_type, event.data)
    assert data.model_dump(mode="json", by_alias=True) == json.loads(encode(event))["data"]


@pytest.mark.parametrize("event_type", domain.EVENT_TYPES)
def test_to_envelope_is_the_decoded_body(event_type: str) -> None:
    event = EXAMPLES[event_type]
    options: dict[str, Any] = {"event_id": "evt-1", "correlation_id": "cmd-1", "time": AT}
    assert to_envelope(event, **options) == json.loads(encode_event(event, **options))


def test_the_envelope_carries_the_cloudevents_attributes() -> None:
    body = json.loads(encode(EXAMPLES["order.cancelled"], source="prepay/test"))
    assert {key: value for key, value in body.items() if key != "data"} == {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "prepay/test",
        "type": "order.cancelled",
        "time": "2026-11-27T10:00:00Z",
        "subject": "SO-1001",
        "datacontenttype": "application/json",
        "correlationid": "cmd-1",
    }


def test_the_time_is_written_in_utc() -> None:
    cet = timezone(timedelta(hours=1))
    body = json.loads(
        encode(EXAMPLES["order.cancelled"], time=datetime(2026, 11, 27, 11, tzinfo=cet))
    )
    assert body["time"] == "2026-11-27T10:00:00Z"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        encode(EXAMPLES["order.cancelled"], time=datetime(2026, 11, 27, 10))


def test_decimals_keep_their_exact_digits() -> None:
    event = domain.Event(
        "payment.recorded",
        "SO-1",
        data_of("payment.recorded")
        | {
            "amount": Decimal("1000.80"),
            "unapplied": Decimal("0.000"),
            "prepayment_outstanding": Decimal("1E+3"),
        },
    )
    data = json.loads(encode(event))["data"]
    assert (data["amount"], data["unapplied"], data["prepayment_outstanding"]) == (
        "1000.80",
        "0.000",
        "1000",
    )
    assert data["received_date"] == "2026-12-01"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1000.80"), "1000.80"),
        (Decimal("-0.00"), "0.00"),
        (Decimal("-0"), "0"),
        (Decimal("-12.50"), "-12.50"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0E-8"), "0.00000000"),
        (Decimal("1.23E-7"), "0.000000123"),
    ],
)
def test_decimal_text_is_plain_and_exact(value: Decimal, text: str) -> None:
    assert decimal_text(value) == text


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_non_finite_decimals_cannot_be_encoded(value: Decimal) -> None:
    event = domain.Event("order.cancelled", "SO-1", {"amount": value})
    with pytest.raises(ValueError, match="not a finite decimal"):
        encode(event)


def test_values_without_a_json_form_are_a_programming_error() -> None:
    with pytest.raises(TypeError, match="set has no JSON form"):
        encode(domain.Event("order.cancelled", "SO-1", {"reason": {"a"}}))


def test_the_body_is_ascii_so_any_text_survives() -> None:
    event = domain.Event("order.cancelled", "SO-ü", {"reason": "Kunde zurückgetreten \ud800"})
    body = encode(event)
    assert body.isascii()
    assert json.loads(body)["data"]["reason"] == "Kunde zurückgetreten \ud800"


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_any_finite_decimal_round_trips_exactly(value: Decimal) -> None:
    text = json.loads(encode(domain.Event("order.cancelled", None, {"amount": value})))["data"]
    assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text["amount"])
    assert Decimal(text["amount"]) == value


def test_the_state_change_uses_the_contract_name_from() -> None:
    model = validate_event("order.state_changed", data_of("order.state_changed"))
    assert isinstance(model, OrderStateChanged)
    assert model.from_ == "draft"
    assert model.model_dump(by_alias=True)["from"] == "draft"
    assert "from" in OrderStateChanged.model_json_schema(mode="serialization")["properties"]


def _ledger_off_by_a_cent() -> dict[str, Any]:
    data = data_of("invoice.posted")
    data["ledger"][0]["debit"] += Decimal("0.01")
    return data


def _totals_not_the_lines() -> dict[str, Any]:
    data = data_of("prepayment_invoice.posted")
    data["totals"]["vat"] = Decimal("82.55")
    return data


def _due_not_gross() -> dict[str, Any]:
    data = data_of("invoice.posted")
    data["amount_due"] = Decimal("1375.99")
    return data


BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("invoice.posted", _ledger_off_by_a_cent(), "ledger debits"),
    ("prepayment_invoice.posted", _totals_not_the_lines(), "totals.vat"),
    ("invoice.posted", _due_not_gross(), "amount_due"),
    ("invoice.posted", data_of("prepayment_invoice.posted"), "document_type"),
    ("payment.recorded", data_of("payment.recorded") | {"amount": 412.8}, "not a JSON float"),
    ("payment.recorded", data_of("payment.recorded") | {"amount": "4.1e2"}, "plain decimal"),
    ("order.cancelled", data_of("order.cancelled") | {"note": "x"}, "Extra inputs"),
    ("order.cancelled", data_of("order.cancelled") | {"state": "archived"}, "state"),
    ("order.amended", data_of("order.amended") | {"order_date": "27.11.2026"}, "ISO"),
    ("command.rejected", {"command_id": "c"}, "Field required"),
]


@pytest.mark.parametrize(("event_type", "data", "fragment"), BROKEN)
def test_the_models_catch_events_that_break_the_contract(
    event_type: str, data: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        validate_event(event_type, data)


def test_an_unknown_event_type_cannot_be_validated() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        validate_event("order.teleported", {})


def test_decoded_json_and_domain_values_validate_alike() -> None:
    from_domain = validate_event("order.created", data_of("order.created"))
    from_json = validate_event(
        "order.created", json.loads(encode(EXAMPLES["order.created"]))["data"]
    )
    assert from_domain == from_json
    assert from_json.model_dump()["order_date"] == date(2026, 11, 27)


def test_encoding_a_small_event_is_fast() -> None:
    # The budget is 50 µs; the bound leaves room for a slow, busy CI machine.
    event = EXAMPLES["order.state_changed"]
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        encode(event)
    assert (time.perf_counter() - started) / rounds < 200e-6
