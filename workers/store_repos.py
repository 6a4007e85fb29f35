"""Setup (parties, prepayment rules), number series, vendor document numbers and the inbox,
in SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from schemas.tables import (
    EXTERNAL_DOCUMENT_NUMBERS,
    INBOX,
    NUMBER_SERIES,
    PARTIES,
    PREPAYMENT_RULES,
)
from workers.sql_lists import DIALECTS, bound_list, one_of
from workers.store_bulk import insert_many
from workflows.commands import PaymentTerms, Side
from workflows.setup import Party, PrepaymentRule

_MISSING = object()

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
def lock_series_statement(dialect: str) -> Insert:
    """The series' last number, its row created if missing and locked until the transaction
    ends (a no-op update takes the row lock on PostgreSQL; SQLite locks the whole database)."""
    statement = _insert(dialect, NUMBER_SERIES).values(series=bindparam("series"), last_number=0)
    return statement.on_conflict_do_update(
        index_elements=["series"], set_={"last_number": NUMBER_SERIES.c.last_number}
    ).returning(NUMBER_SERIES.c.last_number)


_SET_NUMBER = (
    update(NUMBER_SERIES)
    .where(NUMBER_SERIES.c.series == bindparam("b_series"))
    .values(last_number=bindparam("last_number"))
)


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
        self._read: dict[str, Party | None] = {}

    def forget(self) -> None:
        self._read.clear()

    def get(self, party_id: str) -> Party | None:
        uow = self._uow
        staged = uow.staged.parties.get(party_id) or uow.held.parties.get(party_id)
        if staged is not None:
            return staged
        if party_id not in self._read:
            row = uow.execute(_GET_PARTY, {"party_id": party_id}).first()
            self._read[party_id] = None if row is None else party_from_row(row)
        return self._read[party_id]

    def upsert(self, party: Party) -> None:
        self._uow.staged.parties[party.party_id] = party

    def flush(self, parties: dict[str, Party]) -> None:
        if parties:
            statement = upsert_statement(self._uow.dialect, PARTIES, ("party_id",))
            self._uow.execute(statement, [party_values(x) for x in parties.values()])


_RULE_KEYS = tuple(c.name for c in PREPAYMENT_RULES.primary_key.columns)


def _rule_order(rule: PrepaymentRule) -> tuple[str, ...]:
    """The order of the rules table's key, which the database returns rules in."""
    values = rule_values(rule)
    return tuple(str(values[name]) for name in _RULE_KEYS)


class SqlRules:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self._read: dict[tuple[str, str], list[PrepaymentRule]] = {}

    def forget(self) -> None:
        self._read.clear()

    def for_item(self, side: Side, item_id: str) -> list[PrepaymentRule]:
        stored = self._read.get((side, item_id))
        if stored is None:
            rows = self._uow.execute(_RULES_FOR_ITEM, {"side": side, "item_id": item_id})
            stored = self._read[(side, item_id)] = [rule_from_row(row) for row in rows]
        staged = [
            rule
            for writes in (self._uow.held, self._uow.staged)
            for rule in writes.rules.values()
            if rule.side == side and rule.item_id == item_id
        ]
        if not staged:
            return list(stored)
        merged = {rule.key: rule for rule in stored}
        merged.update((rule.key, rule) for rule in staged)
        return sorted(merged.values(), key=_rule_order)

    def upsert(self, rule: PrepaymentRule) -> None:
        self._uow.staged.rules[rule.key] = rule

    def flush(self, rules: dict[tuple[object, ...], PrepaymentRule]) -> None:
        if rules:
            statement = upsert_statement(self._uow.dialect, PREPAYMENT_RULES, _RULE_KEYS)
            self._uow.execute(statement, [rule_values(x) for x in rules.values()])


# --- numbers, vendor document numbers, inbox -------------------------------------------------


class SqlNumbers:
    """Gapless series: the first number a transaction takes locks the series' row until it
    ends; numbers are counted in memory and the last one written at commit."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self._locked: dict[str, int] = {}

    def forget(self) -> None:
        self._locked.clear()

    def next(self, series: str) -> int:
        uow = self._uow
        last = uow.staged.numbers.get(series) or uow.held.numbers.get(series)
        if last is None:
            last = self._locked.get(series)
        if last is None:
            statement = lock_series_statement(uow.dialect)
            last = self._locked[series] = uow.execute(statement, {"series": series}).scalar_one()
        uow.staged.numbers[series] = last + 1
        return last + 1

    def flush(self, numbers: dict[str, int]) -> None:
        if numbers:
            rows = [{"b_series": series, "last_number": n} for series, n in numbers.items()]
            self._uow.execute(_SET_NUMBER, rows)


_EXTERNAL_USED = select(EXTERNAL_DOCUMENT_NUMBERS.c.number).where(
    EXTERNAL_DOCUMENT_NUMBERS.c.party_id == bindparam("party_id"),
    EXTERNAL_DOCUMENT_NUMBERS.c.number == bindparam("number"),
)


class SqlExternalNumbers:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def is_used(self, party_id: str, number: str) -> bool:
        key = (party_id, number)
        if key in self._uow.staged.external_numbers or key in self._uow.held.external_numbers:
            return True
        found = self._uow.execute(_EXTERNAL_USED, {"party_id": party_id, "number": number})
        return found.first() is not None

    def claim(self, party_id: str, number: str) -> None:
        self._uow.staged.external_numbers[(party_id, number)] = None

    def flush(self, numbers: dict[tuple[str, str], None]) -> None:
        # A concurrent claim of the same number fails on the key: a retryable conflict.
        if numbers:
            rows = [{"party_id": party, "number": number} for party, number in numbers]
            insert_many(self._uow, EXTERNAL_DOCUMENT_NUMBERS, rows)


_FINGERPRINT = select(INBOX.c.fingerprint).where(INBOX.c.command_id == bindparam("command_id"))
_FINGERPRINTS = {
    d: select(INBOX.c.command_id, INBOX.c.fingerprint).where(
        one_of(INBOX.c.command_id, "command_ids", d)
    )
    for d in DIALECTS
}


class SqlInbox:
    """Command ids already processed. A claim is only recorded at commit, as a plain insert:
    if another transaction claimed the same id meanwhile (a redelivery racing the first
    delivery), the insert fails on the key (on PostgreSQL after waiting for that transaction)
    and the whole transaction is redone, and then sees the id as a duplicate."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self._read: dict[str, str | object | None] = {}  # id -> fingerprint, or _MISSING

    def forget(self) -> None:
        self._read.clear()

    def prefetch(self, command_ids: list[str]) -> None:
        wanted = [x for x in dict.fromkeys(command_ids) if x not in self._read]
        if not wanted:
            return
        dialect = self._uow.engine.dialect.name
        with self._uow.planned_for_their_lists():
            rows = self._uow.execute(
                _FINGERPRINTS[dialect], {"command_ids": bound_list(wanted, dialect)}
            )
        found: dict[str, str | None] = {row.command_id: row.fingerprint for row in rows}
        for command_id in wanted:
            self._read[command_id] = found.get(command_id, _MISSING)

    def _stored(self, command_id: str) -> str | object | None:
        """The fingerprint stored with the id, None if stored without one, else _MISSING."""
        if command_id not in self._read:
            row = self._uow.execute(_FINGERPRINT, {"command_id": command_id}).first()
            self._read[command_id] = _MISSING if row is None else row.fingerprint
        return self._read[command_id]

    def _known(self, command_id: str) -> dict[str, Any] | None:
        return self._uow.staged.inbox.get(command_id) or self._uow.held.inbox.get(command_id)

    def claim(self, command_id: str, fingerprint: str | None = None) -> bool:
        if self._known(command_id) is not None or self._stored(command_id) is not _MISSING:
            return False
        self._uow.staged.inbox[command_id] = {
            "command_id": command_id,
            "processed_at": datetime.now(UTC),
            "fingerprint": fingerprint,
        }
        self._uow.correlation_id = command_id
        return True

    def fingerprint(self, command_id: str) -> str | None:
        known = self._known(command_id)
        if known is not None:
            value: str | None = known["fingerprint"]
            return value
        stored = self._stored(command_id)
        return None if stored is _MISSING else stored  # type: ignore[return-value]

    def flush(self, claims: dict[str, dict[str, Any]]) -> None:
        if claims:
            insert_many(self._uow, INBOX, list(claims.values()))
