"""Events are encoded once, in the stored form, and published in the wire form derived from
that text: the derivation must give exactly what encoding for the wire gives."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.examples import event_examples
from workers.event_json import decode_stored, encode_stored, encode_wire, wire_from_stored

TRICKY_TEXT = [
    '{"$decimal":"1.5"}',  # a tag written as text: escaped, so never taken for one
    'say "hi" \\ bye',
    "lone surrogate \ud800",
    "nul \x00, line separator \u2028, Kunde zurückgetreten",
    "",
]
decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.sampled_from([Decimal("-0.00"), Decimal("1E+3"), Decimal("0E-8"), Decimal("-1.5E+2")]),
)
zones = st.sampled_from([None, UTC, timezone(timedelta(hours=-5, minutes=-30))])
leaves = st.one_of(
    decimals,
    st.dates(),
    st.builds(lambda moment, zone: moment.replace(tzinfo=zone), st.datetimes(), zones),
    st.text(),
    st.sampled_from(TRICKY_TEXT),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.none(),
)
event_data = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


def exactly(value: Any) -> Any:
    """Decimals compared digit for digit (Decimal("1.0") == Decimal("1") would hide a loss)."""
    if isinstance(value, Decimal):
        return ("decimal", value.as_tuple())
    if isinstance(value, list):
        return [exactly(item) for item in value]
    if isinstance(value, dict):
        return {key: exactly(item) for key, item in value.items()}
    return value


@given(event_data)
def test_the_wire_form_derived_from_the_stored_one_is_the_wire_encoding(data: Any) -> None:
    stored = encode_stored(data)
    assert wire_from_stored(stored) == encode_wire(data)


@given(event_data)
def test_the_stored_form_gives_back_exactly_what_was_recorded(data: Any) -> None:
    assert exactly(decode_stored(encode_stored(data))) == exactly(data)


@given(event_data)
def test_wire_json_from_before_events_were_stored_once_passes_unchanged(data: Any) -> None:
    wire = encode_wire(data)
    assert wire_from_stored(wire) == wire


@pytest.mark.parametrize("event_type", sorted(event_examples()))
def test_every_event_type_publishes_as_it_would_be_encoded_for_the_wire(event_type: str) -> None:
    data = event_examples()[event_type].data
    derived = wire_from_stored(encode_stored(data))
    assert derived == encode_wire(data)
    assert json.loads(derived) == json.loads(encode_wire(data))


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-sNaN")])
def test_a_decimal_the_wire_cannot_carry_is_refused_when_recorded(value: Decimal) -> None:
    with pytest.raises(ValueError, match="not a finite decimal"):
        encode_stored({"amount": value, "day": date(2026, 11, 27)})
    with pytest.raises(ValueError, match="not a finite decimal"):
        encode_wire({"amount": value})


def test_text_that_is_not_unicode_is_stored_escaped_so_the_broker_can_take_it() -> None:
    stored = encode_stored({"reason": "lone surrogate \ud800", "at": datetime(2026, 11, 27)})
    assert stored.isascii()
    assert wire_from_stored(stored).encode()  # UTF-8, as the relay sends it
