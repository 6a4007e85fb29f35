"""A list of values bound as one parameter, so that a statement keeps one text whatever the
list's length.

An `IN` list of n parameters is a new statement text for each n: SQLAlchemy renders it again
at every execution, and the driver prepares and keeps each text (SQLite: 128 statements per
connection). With batches and settled rows of every size that cost a prepare per batch and
memory (the relay's marking of published rows alone: about 20 MB, measured). SQLite reads
the list from JSON (`json_each`), PostgreSQL from an array (`= ANY`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import Select, Text, any_, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

DIALECTS = ("sqlite", "postgresql")


def one_of(target: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """`target IN (the list bound as name)`, in the form `dialect` reads as one parameter."""
    if dialect == "postgresql":
        return target == any_(bindparam(name, type_=ARRAY(target.type)))
    listed: Select[Any] = select(column("value")).select_from(
        func.json_each(bindparam(name, type_=Text()))
    )
    return target.in_(listed)


def bound_list(values: Iterable[Any], dialect: str) -> Any:
    """The value to bind for `one_of`: an array on PostgreSQL, JSON text on SQLite."""
    items = list(values)
    return items if dialect == "postgresql" else orjson.dumps(items).decode()
