"""Column types that keep values exact on every database we run on.

SQLite has no decimal type: a NUMERIC column there converts "0.001" to a binary float, and a
percent back-computed to 28 significant digits would lose most of them. So decimals live in
a TEXT column holding the exact digits on SQLite, and in NUMERIC without precision or scale
(arbitrary precision, the scale kept as written) on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, Text
from sqlalchemy.types import TypeDecorator, TypeEngine


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


class ExactDecimal(TypeDecorator[Decimal]):
    """Money, quantities and percents: a Decimal in, the same Decimal out."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"ExactDecimal takes a Decimal, got {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def bind_not_null(self, dialect: Dialect) -> Callable[[Decimal], Any]:
        """What `process_bind_param` does to a value that is not None, as one call into C
        (bulk writes bind some 60 decimals per invoice, and skip the Nones themselves): the
        digits as text on SQLite, the Decimal itself elsewhere; a TypeError for anything
        but a Decimal either way (`__copy__` of an immutable Decimal returns it)."""
        return Decimal.__str__ if dialect.name == "sqlite" else Decimal.__copy__

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(value)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        # SQLAlchemy advises implementing only `process_result_value`, so that the inner
        # type's processing is kept; on SQLite the inner type (Text) has none, and its
        # general path costs two Python calls per value around `Decimal`, for some 40
        # decimals in every order read. One call does the same there; on psycopg none is
        # needed.
        if dialect.name == "sqlite":
            return _decimal_or_none
        if dialect.driver == "psycopg":
            return None  # psycopg reads numeric as Decimal, digits as stored
        return super().result_processor(dialect, coltype)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class UtcDateTime(TypeDecorator[datetime]):
    """An instant, always handed back timezone-aware in UTC. PostgreSQL stores timestamptz;
    SQLite, which has no timezones, stores the UTC wall time."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"UtcDateTime needs a timezone-aware datetime, got {value}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime
