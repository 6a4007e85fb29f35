"""Setup (parties, prepayment rules), number series, vendor document numbers and the inbox,
in SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, Table, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from schemas.tables import (
    EXTERNAL_DOCUMENT_NUMBERS,
    INBOX,
    NUMBER_SERIES,
    PARTIES,
    PREPAYMENT_RULES,
)
from workflows.commands import PaymentTerms, Side
from workflows.setup import Party, PrepaymentRule

if TYPE_CHECKING:
    from workers.store import SqlUnitOfWork


def _insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


@cache
def upsert_statement(dialect: str, table: Table, keys: tuple[str, ...]) -> Insert:
    """INSERT, or UPDATE every other column when a row with the same key exists."""
    statement = _insert(dialect, table)
    others = {c.name: statement.excluded[c.name] for c in table.c if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=others)


@cache
def insert_if_absent(dialect: str, table: Table) -> Insert:
    # Without preserve_rowcount an INSERT's rowcount is not kept (psycopg reports -1).
    statement = _insert(dialect, table).on_conflict_do_nothing()
    return statement.execution_options(preserve_rowcount=True)


@cache
def next_number_statement(dialect: str) -> Insert:
    statement = _insert(dialect, NUMBER_SERIES).values(series=bindparam("series"), last_number=1)
    return statement.on_conflict_do_update(
        index_elements=["series"], set_={"last_number": NUMBER_SERIES.c.last_number + 1}
    ).returning(NUMBER_SERIES.c.last_number)


# --- setup ---------------------------------------------------------------------------------


def party_values(party: Party) -> dict[str, Any]:
    terms = party.payment_terms
    return {
        "party_id": party.party_id,
        "side": party.side,
        "name": party.name,
        "prepayment_percent": party.prepayment_percent,
        "price_group": party.price_group,
        "due_days": terms.due_days,
        "discount_days": terms.discount_days,
        "discount_percent": terms.discount_percent,
        "check_prepayment_when_posting": party.check_prepayment_when_posting,
    }


def party_from_row(row: Row[Any]) -> Party:
    return Party(
        party_id=row.party_id,
        side=row.side,
        name=row.name,
        prepayment_percent=row.prepayment_percent,
        price_group=row.price_group,
        payment_terms=PaymentTerms(row.due_days, row.discount_days, row.discount_percent),
        check_prepayment_when_posting=row.check_prepayment_when_posting,
    )


def rule_values(rule: PrepaymentRule) -> dict[str, Any]:
    return {
        "side": rule.side,
        "item_id": rule.item_id,
        "applies_to": rule.applies_to,
        "code_key": rule.code or "",
        "starting_key": rule.starting_date.isoformat() if rule.starting_date else "",
        "code": rule.code,
        "percent": rule.percent,
        "starting_date": rule.starting_date,
        "ending_date": rule.ending_date,
    }


def rule_from_row(row: Row[Any]) -> PrepaymentRule:
    return PrepaymentRule(
        row.side,
        row.item_id,
        row.applies_to,
        row.code,
        row.percent,
        row.starting_date,
        row.ending_date,
    )


_GET_PARTY = select(PARTIES).where(PARTIES.c.party_id == bindparam("party_id"))
_RULES_FOR_ITEM = (
    select(PREPAYMENT_RULES)
    .where(
        PREPAYMENT_RULES.c.side == bindparam("side"),
        PREPAYMENT_RULES.c.item_id == bindparam("item_id"),
    )
    .order_by(*PREPAYMENT_RULES.primary_key.columns)
)


class SqlParties:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def get(self, party_id: str) -> Party | None:
        row = self._uow.execute(_GET_PARTY, {"party_id": party_id}).first()
        return None if row is None else party_from_row(row)

    def upsert(self, party: Party) -> None:
        statement = upsert_statement(self._uow.dialect, PARTIES, ("party_id",))
        self._uow.execute(statement, party_values(party))


class SqlRules:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def for_item(self, side: Side, item_id: str) -> list[PrepaymentRule]:
        rows = self._uow.execute(_RULES_FOR_ITEM, {"side": side, "item_id": item_id})
        return [rule_from_row(row) for row in rows]

    def upsert(self, rule: PrepaymentRule) -> None:
        keys = tuple(c.name for c in PREPAYMENT_RULES.primary_key.columns)
        statement = upsert_statement(self._uow.dialect, PREPAYMENT_RULES, keys)
        self._uow.execute(statement, rule_values(rule))


# --- numbers, vendor document numbers, inbox -------------------------------------------------


class SqlNumbers:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def next(self, series: str) -> int:
        statement = next_number_statement(self._uow.dialect)
        number: int = self._uow.execute(statement, {"series": series}).scalar_one()
        return number


_EXTERNAL_USED = select(EXTERNAL_DOCUMENT_NUMBERS.c.number).where(
    EXTERNAL_DOCUMENT_NUMBERS.c.party_id == bindparam("party_id"),
    EXTERNAL_DOCUMENT_NUMBERS.c.number == bindparam("number"),
)


class SqlExternalNumbers:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def is_used(self, party_id: str, number: str) -> bool:
        found = self._uow.execute(_EXTERNAL_USED, {"party_id": party_id, "number": number})
        return found.first() is not None

    def claim(self, party_id: str, number: str) -> None:
        # A concurrent claim of the same number fails on the key: a retryable conflict.
        values = {"party_id": party_id, "number": number}
        self._uow.execute(insert(EXTERNAL_DOCUMENT_NUMBERS), values)


_FINGERPRINT = select(INBOX.c.fingerprint).where(INBOX.c.command_id == bindparam("command_id"))


class SqlInbox:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def claim(self, command_id: str, fingerprint: str | None = None) -> bool:
        """Insert the id, or do nothing if it is there. On PostgreSQL a claim of an id that
        another transaction holds uncommitted waits for it, so a redelivery racing the first
        delivery is still seen as a duplicate once that one commits."""
        statement = insert_if_absent(self._uow.dialect, INBOX)
        values = {
            "command_id": command_id,
            "processed_at": datetime.now(UTC),
            "fingerprint": fingerprint,
        }
        claimed = self._uow.execute(statement, values).rowcount == 1
        if claimed:
            self._uow.correlation_id = command_id
        return claimed

    def fingerprint(self, command_id: str) -> str | None:
        found: str | None = self._uow.execute(
            _FINGERPRINT, {"command_id": command_id}
        ).scalar_one_or_none()
        return found
