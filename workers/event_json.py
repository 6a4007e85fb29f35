"""The two JSON forms of an event's data, and how one becomes the other.

- **Stored** (`encode_stored`): decimals and dates tagged (`{"$decimal": "12.50"}`,
  `{"$date": "2026-11-27"}`, `{"$datetime": "..."}`), so `decode_stored` gives back values
  equal to the recorded ones. The outbox and the history both hold this text.
- **Wire** (`encode_wire`): what downstream systems read; decimals as their exact digits in
  strings (`decimal_text`: plain notation, no negative zero), dates ISO.

An event is encoded once, in the worker's transaction, and the same text goes into its
outbox and history rows; the relay derives the wire form (`wire_from_stored`) when it
publishes. Encoding was the worker's cost per event twice over (measured: 4-6 % of its CPU
in the invoice rounds for the wire form alone), and the worker is the one busy thread,
while the relay runs beside it in another process.

The derivation is a textual one, and exact: a tag is an object with a single `$`-key, which
no event's data contains (its keys are the contract's field names), and inside a JSON string
a quote is always escaped, so the pattern cannot match text. Exact for decimals and dates,
which is what event data holds; a datetime would come out as `isoformat` writes it, which
differs from orjson's wire form only for a UTC offset that is not whole minutes. Wire JSON
passes through unchanged (it has no tags), so outbox rows written before the stored form was
used publish as they did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from schemas.scalars import decimal_text


def _wire_default(value: object) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no JSON form in an event")


_WIRE = json.JSONEncoder(default=_wire_default, separators=(",", ":"))


def encode_wire(data: Any) -> str:
    """An event's data as it travels: decimals as their exact digits in strings, dates ISO.

    orjson writes it (dates and datetimes natively, in the same ISO form as `isoformat`) at a
    third of the standard library's cost. What orjson refuses (text that is not valid
    Unicode, such as a lone surrogate; a value with no JSON form) goes the standard library's
    way, which escapes such text to ASCII and reports the value that has no form."""
    try:
        return orjson.dumps(data, default=_wire_default).decode()
    except orjson.JSONEncodeError:
        return _WIRE.encode(data)


def _stored_default(value: object) -> dict[str, str]:
    # A dict, which orjson writes itself, rather than an `orjson.Fragment` built from bytes:
    # a third fewer instructions for an invoice's events (350 k against 230 k for a final
    # invoice's three, cachegrind), since this runs once per decimal, 72 times for those.
    if isinstance(value, Decimal):
        # Refused here as the wire form refuses it: the relay could not publish it later.
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite decimal")
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"{type(value).__name__} cannot be stored in an event")


# ASCII-escaped like the wire form's fallback: a lone surrogate must reach the broker as an
# escape, since it has no UTF-8 encoding.
_STORED = json.JSONEncoder(default=_stored_default, separators=(",", ":"))


def encode_stored(data: Any) -> str:
    """JSON that decodes (`decode_stored`) to values equal to `data`, Decimals and dates too.

    Written by orjson (a fourth of the standard library's cost); what it refuses goes the
    standard library's way, as in `encode_wire`."""
    try:
        return orjson.dumps(
            data, default=_stored_default, option=orjson.OPT_PASSTHROUGH_DATETIME
        ).decode()
    except orjson.JSONEncodeError:
        return _STORED.encode(data)


_DECODERS: dict[str, Callable[[str], Any]] = {
    "$decimal": Decimal,
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
}


def _stored_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, value),) = obj.items()
        decode = _DECODERS.get(key)
        if decode is not None:
            return decode(value)
    return obj


def decode_stored(text: str) -> Any:
    return json.loads(text, object_hook=_stored_hook)


# Splitting on the tags keeps each tag's quoted value (the pattern's one group) between the
# texts around it, so joining the pieces is the wire text, all in C: a third of the cost of a
# substitution calling back per tag (measured: 9-14 against 24-46 us for an invoice).
_TAG = re.compile(r'\{"\$(?:decimal|datetime|date)":("[^"\\]*")\}')
# Decimals whose wire digits differ from `str`: an exponent, or a negative zero.
_UNPLAIN = re.compile(r'\{"\$decimal":"([^"]*E[^"]*|-0(?:\.0*)?)"\}')


def _plain(match: re.Match[str]) -> str:
    return '{"$decimal":"' + decimal_text(Decimal(match.group(1))) + '"}'


def wire_from_stored(text: str) -> str:
    """The wire form of stored event data: equal to `encode_wire` of the data it decodes to.
    Wire JSON is returned as it is."""
    if '{"$' not in text:
        return text
    if _UNPLAIN.search(text) is not None:  # rare: computed amounts are plain
        text = _UNPLAIN.sub(_plain, text)
    return "".join(_TAG.split(text))
