"""Command fingerprints stay what earlier versions stored: a redelivery across an upgrade must
match the fingerprint its first delivery left in the inbox, or it would look like another
command reusing the id."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from workers.processing import _fingerprint


def as_stored_before(command_type: str, data: dict[str, Any]) -> str:
    """The definition fingerprints had when they were first stored."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(f"{command_type}\n{canonical}".encode(), digest_size=16).hexdigest()


_TEXT = st.text(st.characters(exclude_categories=("Cs",)))  # lone surrogates never get here
# What a valid command's data holds: JSON without floats, integers of any size.
_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=200)
@given(st.sampled_from(["order.create", "payment.record"]), st.dictionaries(_TEXT, _VALUE))
def test_a_valid_commands_fingerprint_is_the_one_stored_before(
    command_type: str, data: dict[str, Any]
) -> None:
    assert _fingerprint(command_type, data, valid=True) == as_stored_before(command_type, data)


@example({"quantity": 1e16, "unit_price": 1.5e-7})  # written otherwise by orjson
@given(
    st.dictionaries(_TEXT, st.floats(allow_nan=False, allow_infinity=False) | st.integers() | _TEXT)
)
def test_a_refused_commands_fingerprint_is_the_one_stored_before(data: dict[str, Any]) -> None:
    assert _fingerprint("order.create", data) == as_stored_before("order.create", data)


def test_every_character_is_written_as_before() -> None:
    characters = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    data = {"text": characters, characters[:300]: [characters[-300:]]}
    assert _fingerprint("order.create", data, valid=True) == as_stored_before("order.create", data)


def test_what_differs_is_told_apart() -> None:
    first = _fingerprint("order.create", {"order_id": "SO-1", "lines": []}, valid=True)
    assert first != _fingerprint("order.create", {"order_id": "SO-2", "lines": []}, valid=True)
    assert first != _fingerprint("order.amend", {"order_id": "SO-1", "lines": []}, valid=True)
    assert first == _fingerprint("order.create", {"lines": [], "order_id": "SO-1"}, valid=True)
