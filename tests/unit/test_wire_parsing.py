"""Bodies off the wire: which failures are dead letters and which are answered rejections."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.commands import COMMAND_MODELS
from schemas.parsing import MAX_BODY_BYTES, InvalidCommand, MalformedMessage, parse_command
from workflows.errors import ValidationFailed

ENVELOPE: dict[str, Any] = {
    "specversion": "1.0",
    "id": "cmd-1",
    "source": "erp/orders",
    "type": "order.cancel",
    "time": "2026-11-27T10:00:00Z",
    "subject": "SO-1",
    "datacontenttype": "application/json",
    "data": {"order_id": "SO-1"},
}


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


def malformed(body: bytes) -> str:
    with pytest.raises(MalformedMessage) as caught:
        parse_command(body)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


def test_a_complete_envelope_is_read() -> None:
    parsed = parse_command(encoded(ENVELOPE))
    assert parsed.envelope.id == "cmd-1"
    assert parsed.envelope.source == "erp/orders"
    assert parsed.envelope.subject == "SO-1"
    assert parsed.envelope.time is not None
    assert parsed.envelope.time.isoformat() == "2026-11-27T10:00:00+00:00"


def test_optional_envelope_attributes_and_extensions() -> None:
    minimal = {k: ENVELOPE[k] for k in ("specversion", "id", "source", "type", "data")}
    parsed = parse_command(encoded(minimal | {"traceparent": "00-abc-def-01"}))
    assert parsed.envelope.time is None
    assert parsed.envelope.subject is None
    assert parsed.envelope.correlationid is None
    assert parsed.envelope.datacontenttype == "application/json"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"id": "caf\xe9"}', "not UTF-8"),
        (b"", "not JSON"),
        (b"{not json}", "not JSON"),
        (b'{"specversion": "1.0"', "not JSON"),
        (b"[1, 2]", "not an object"),
        (b'"order.create"', "not an object"),
        (b"null", "not an object"),
        (b"42", "not an object"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'{"id": "a", "id": "b"}', "duplicate key 'id'"),
    ],
)
def test_unreadable_bodies_are_malformed(body: bytes, reason: str) -> None:
    assert reason in malformed(body)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "id:"),
        ({"id": ""}, "id: must not be empty"),
        ({"id": 17}, "id:"),
        ({"id": "x" * 201}, "id:"),
        ({"specversion": "0.3"}, "specversion:"),
        ({"specversion": 1.0}, "specversion:"),
        ({"type": None}, "type:"),
        ({"type": ""}, "type:"),
        ({"source": None}, "source:"),
        ({"time": "yesterday"}, "time:"),
        ({"subject": 5}, "subject:"),
    ],
)
def test_an_invalid_envelope_is_malformed(change: dict[str, Any], reason: str) -> None:
    envelope = {key: value for key, value in (ENVELOPE | change).items() if value is not None}
    found = malformed(encoded(envelope))
    assert found.startswith("invalid envelope: ")
    assert reason in found


def test_an_oversized_body_is_malformed_before_it_is_read() -> None:
    body = encoded(ENVELOPE | {"padding": "x" * MAX_BODY_BYTES})
    assert malformed(body) == "body too large"


def test_a_body_just_under_the_limit_is_read() -> None:
    body = encoded(ENVELOPE | {"padding": ""})
    body = encoded(ENVELOPE | {"padding": "x" * (MAX_BODY_BYTES - len(body))})
    assert len(body) == MAX_BODY_BYTES
    assert parse_command(body).envelope.id == "cmd-1"


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800", "\\udfff"])
def test_text_no_database_can_store_is_malformed(escape: str) -> None:
    body = encoded(ENVELOPE).replace(b'"SO-1"}', f'"SO-{escape}"}}'.encode())
    assert "body contains" in malformed(body)


def test_escaped_surrogate_pairs_are_ordinary_text() -> None:
    body = encoded(ENVELOPE | {"data": {"order_id": "SO-\U0001f6b2"}})
    assert b"\\ud83d\\udeb2" in body
    assert parse_command(body).envelope.data["order_id"] == "SO-\U0001f6b2"


def test_an_unknown_type_is_answered_with_a_rejection() -> None:
    with pytest.raises(InvalidCommand) as caught:
        parse_command(encoded(ENVELOPE | {"type": "order.teleport"}))
    error = caught.value
    assert isinstance(error, ValidationFailed)
    assert error.code == "command.unknown_type"
    assert error.field == "type"
    assert "order.teleport" in error.message
    assert "order.cancel" in error.message
    assert (error.command_id, error.command_type, error.order_id) == (
        "cmd-1",
        "order.teleport",
        "SO-1",
    )


@pytest.mark.parametrize("data", [None, [], "SO-1", 5])
def test_data_that_is_not_an_object_is_answered_with_a_rejection(data: Any) -> None:
    envelope = ENVELOPE | {"data": data}
    if data is None:
        del envelope["data"]
    with pytest.raises(InvalidCommand) as caught:
        parse_command(encoded(envelope))
    assert (caught.value.code, caught.value.field) == ("command.invalid", "data")
    assert caught.value.order_id is None


def test_a_rejection_carries_the_envelope_for_the_rejected_event() -> None:
    envelope = ENVELOPE | {"correlationid": "upstream-9", "data": {"order_id": ""}}
    with pytest.raises(InvalidCommand) as caught:
        parse_command(encoded(envelope))
    error = caught.value
    assert error.envelope.correlationid == "upstream-9"
    assert error.envelope.subject == "SO-1"
    assert error.order_id is None  # an empty order id names no order


def test_json_nan_literals_are_refused_as_floats() -> None:
    data = {"order_id": "SO-1", "amount": float("nan")}
    body = json.dumps(ENVELOPE | {"type": "prepayment.set_total", "data": data}).encode()
    assert b"NaN" in body
    with pytest.raises(InvalidCommand) as caught:
        parse_command(body)
    assert caught.value.field == "amount"
    assert "not a JSON float" in caught.value.message


def test_huge_field_names_are_clipped_in_the_message() -> None:
    with pytest.raises(InvalidCommand) as caught:
        parse_command(encoded(ENVELOPE | {"data": {"order_id": "SO-1", "k" * 10_000: 1}}))
    assert caught.value.field is not None
    assert len(caught.value.field) < 200
    assert len(caught.value.message) < 300


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_fail_only_in_the_two_known_ways(body: bytes) -> None:
    with contextlib.suppress(MalformedMessage, InvalidCommand):
        parse_command(body)


# Text a database can store: NUL is refused earlier, as malformed (tested above).
def text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(max_size=max_size).map(lambda s: s.replace("\x00", ""))


DECIMAL_TEXTS = ["1", "-2.5", "0.00001", "1.000000", "1e3", "NaN", "100.5", "1234567890123456"]
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | text(20)
    | st.sampled_from(DECIMAL_TEXTS),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(text(12), children, max_size=3)
    ),
    max_leaves=8,
)
FIELD_NAMES = st.sampled_from(
    ["order_id", "lines", "line_no", "quantity", "amount", "side", "currency", "order_date"]
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    command_type=st.sampled_from(sorted(COMMAND_MODELS)),
    data=st.dictionaries(FIELD_NAMES | text(8), JSON, max_size=6),
)
def test_arbitrary_data_is_accepted_or_answered(command_type: str, data: dict[str, Any]) -> None:
    envelope = ENVELOPE | {"type": command_type, "data": data}
    try:
        parse_command(json.dumps(envelope).encode())
    except InvalidCommand as error:
        assert error.code == "command.invalid"
        assert error.message


@given(
    st.decimals(
        min_value=Decimal("-999999999999999.99999"),
        max_value=Decimal("999999999999999.99999"),
        places=5,
    )
)
def test_any_quantity_within_the_limits_arrives_exact(quantity: Decimal) -> None:
    data = {"order_id": "SO-1", "lines": [{"line_no": 1, "quantity": format(quantity, "f")}]}
    envelope = ENVELOPE | {"type": "order.invoice", "data": data}
    command = parse_command(encoded(envelope)).command
    lines = getattr(command, "lines", None)
    assert lines is not None
    assert lines[0].quantity == quantity
    assert str(lines[0].quantity) == str(Decimal(format(quantity, "f")))
