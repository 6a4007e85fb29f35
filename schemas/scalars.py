"""The wire's scalar types: decimals, dates, ids and codes, with the rules every field shares.

Amounts travel as decimal strings because a JSON float is a binary fraction: "0.1" read as a
float is not one tenth, and money must stay exact to the cent. JSON integers are accepted too
(they are exact); JSON floats are refused wherever a decimal is expected.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)
WHOLE_DIGITS = 15
MAX_LIST_ITEMS = 1000

_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CURRENCY_TEXT = re.compile(r"[A-Z]{3}")


def decimal_text(value: Decimal) -> str:
    """The exact digits in plain notation: Decimal("1000.80") -> "1000.80", never "1.0008E+3".

    Negative zero becomes zero, so a consumer never shows "-0.00" on an invoice.
    """
    text = str(value)  # the fast path; only exponents and non-finite values need more work
    if "E" in text or not value.is_finite():
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite decimal")
        text = format(value, "f")
    return text[1:] if text[0] == "-" and not value else text


def _decimal_input(value: object) -> Decimal:
    """The wire decimal as a Decimal, or the error that says what is wrong with it."""
    if isinstance(value, str):
        if _DECIMAL_TEXT.fullmatch(value):
            return Decimal(value)
        raise PydanticCustomError(
            "decimal_format",
            'must be a plain decimal string such as "1000.80" '
            "(digits, optional leading '-', optional '.'; no exponent, spaces, NaN or Infinity)",
        )
    if isinstance(value, bool):
        raise PydanticCustomError("decimal_type", "must be a decimal string, not a JSON boolean")
    if isinstance(value, float):
        raise PydanticCustomError("decimal_float", "must be a decimal string, not a JSON float")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):  # from Python, not from the wire
        if not value.is_finite():
            raise PydanticCustomError("finite_number", "Input should be a finite number")
        return value
    raise PydanticCustomError("decimal_type", 'must be a decimal string such as "1000.80"')


def _exact_decimal(places: int, *, low: int | None = None, high: int | None = None) -> Any:
    """A wire decimal read and checked in one call: format, digits as written, range.

    One call instead of pydantic's decimal validator between two of ours, with its own
    finiteness check: a command's decimals are most of what validating it costs (measured:
    41 us for a two-line `order.create`)."""

    def validate(value: object) -> Decimal:
        result = _decimal_input(value)
        # The range first, as pydantic's own bounds came before the digit limits.
        if low is not None and result < low:
            raise PydanticCustomError(
                "greater_than_equal", "Input should be greater than or equal to {ge}", {"ge": low}
            )
        if high is not None and result > high:
            raise PydanticCustomError(
                "less_than_equal", "Input should be less than or equal to {le}", {"le": high}
            )
        _, digits, exponent = result.as_tuple()
        assert isinstance(exponent, int)  # finite, checked above
        # Counted as written, trailing zeros included: pydantic's own max_digits and
        # decimal_places ignore trailing zeros and so let "1.000000000000000000000000000000"
        # through.
        if len(digits) + exponent > WHOLE_DIGITS:
            raise PydanticCustomError(
                "decimal_whole_digits",
                "must have at most {whole_digits} digits before the decimal point",
                {"whole_digits": WHOLE_DIGITS},
            )
        if -exponent > places:
            raise PydanticCustomError(
                "decimal_max_places",
                "must have at most {decimal_places} decimal places",
                {"decimal_places": places},
            )
        return result

    return PlainValidator(validate)


_DECIMAL_DOC = "A decimal string; JSON integers are accepted too, JSON floats are refused."


def _decimal_schema(
    places: int, example: str, *, signed: bool = True, whole: int = WHOLE_DIGITS
) -> Any:
    sign = "-?" if signed else ""
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^{sign}[0-9]{{1,{whole}}}(\.[0-9]{{1,{places}}})?$",
            "description": _DECIMAL_DOC,
            "examples": [example],
        }
    )


_AS_TEXT = PlainSerializer(decimal_text, return_type=str, when_used="json")

Quantity = Annotated[
    Decimal,
    _exact_decimal(5),
    _decimal_schema(5, "2.5"),
    _AS_TEXT,
]
"""A quantity or unit price: up to 15 digits before the point and 5 after, either sign."""

Price = Quantity

Money = Annotated[
    Decimal,
    _exact_decimal(3),
    _decimal_schema(3, "1000.80"),
    _AS_TEXT,
]
"""An amount of money: 3 decimals at most here; the domain checks the currency's own precision."""

Percent = Annotated[
    Decimal,
    _exact_decimal(5, low=0, high=100),
    _decimal_schema(5, "30", signed=False, whole=3),
    _AS_TEXT,
]
"""A percentage from 0 to 100 with up to 5 decimals."""

Amount = Annotated[
    Decimal,
    PlainValidator(_decimal_input),
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "examples": ["1000.80"]}
    ),
    _AS_TEXT,
]
"""A decimal in a produced event: exact digits in plain notation, no limits of its own."""


def _date_input(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_TEXT.fullmatch(value):
        return value
    raise PydanticCustomError("date_format", 'must be an ISO 8601 date string "YYYY-MM-DD"')


def _date_in_range(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise PydanticCustomError(
            "date_range",
            "must be between {low} and {high}",
            {"low": "1900-01-01", "high": "2999-12-31"},
        )
    return value


WireDate = Annotated[
    date,
    BeforeValidator(_date_input),
    AfterValidator(_date_in_range),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-11-27"]}),
]
"""A calendar date, ISO 8601 "YYYY-MM-DD", between 1900-01-01 and 2999-12-31."""


def _currency(value: str) -> str:
    if not _CURRENCY_TEXT.fullmatch(value):
        raise PydanticCustomError(
            "currency_code", 'must be three uppercase letters (ISO 4217), such as "EUR"'
        )
    return value


Currency = Annotated[
    str,
    Strict(),
    AfterValidator(_currency),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["EUR"]}),
]

Id = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=100)]
"""An identifier chosen upstream: order, party, item, payment, document or price group."""

Name = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, Strict(), StringConstraints(max_length=500)]
LineNo = Annotated[int, Strict(), Field(gt=0, le=2_147_483_647)]
Days = Annotated[int, Strict(), Field(ge=0, le=9999)]
Flag = Annotated[bool, Strict()]

Side = Literal["sales", "purchase"]
State = Literal[
    "draft",
    "prepayment_invoiced",
    "partially_paid",
    "paid",
    "amended",
    "partially_invoiced",
    "final_invoiced",
    "cancelled",
]


def _unique_line_nos(items: tuple[Any, ...]) -> tuple[Any, ...]:
    seen: set[int] = set()
    for item in items:
        line_no = item if isinstance(item, int) else item.line_no
        if line_no in seen:
            raise PydanticCustomError(
                "line_no_duplicate",
                "line_no {line_no} appears more than once",
                {"line_no": line_no},
            )
        seen.add(line_no)
    return items


_Item = TypeVar("_Item")

LineList = Annotated[
    tuple[_Item, ...], Field(max_length=MAX_LIST_ITEMS), AfterValidator(_unique_line_nos)
]
"""At most 1000 lines (or line numbers), each `line_no` once."""
