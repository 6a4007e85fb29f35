"""Group commit: several commands in one transaction, each isolated (a refused one drops
its own held-back writes only)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlmodel import SQLModel

from schemas.tables import OUTBOX
from schemas.tables_types import ExactDecimal
from workers import processing, store_bulk
from workers.db import create_all, make_engine
from workers.processing import CommandProcessor
from workers.store import SqlUnitOfWork
from workflows.bus import process
from workflows.commands import (
    AmendOrder,
    CreateOrder,
    InvoicePrepayment,
    LineInput,
    LineUpdate,
    RecordPayment,
    UpsertParty,
)
from workflows.errors import ConcurrencyConflict

DAY = date(2026, 11, 27)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    fixture = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    value: Engine = request.getfixturevalue(fixture)
    return value


def order(order_id: str) -> CreateOrder:
    line = LineInput(1, "A", Decimal(2), Decimal("50.00"), vat_percent=Decimal(25))
    return CreateOrder(order_id, "sales", "C1", "EUR", DAY, (line,))


def test_a_refused_command_in_a_batch_leaves_the_others_committed(engine: Engine) -> None:
    uow = SqlUnitOfWork(engine)
    with uow.batch():
        assert not process("p", UpsertParty("C1", "sales", "C", Decimal(30)), uow).rejected
        assert not process("o1", order("O-1"), uow).rejected
        refused = process("o1-again", order("O-1"), uow)  # same order id: refused
        invoiced = process("i1", InvoicePrepayment("O-1"), uow)
        duplicate = process("i1", InvoicePrepayment("O-1"), uow)  # same id in the batch
    assert refused.error is not None and refused.error.code == "order.already_exists"
    assert invoiced.events[0].data["amount_due"] == Decimal("37.50")  # 30 % of 100 + 25 %
    assert duplicate.duplicate
    with uow:
        stored = uow.orders.get("O-1")
        assert stored is not None and stored.state == "prepayment_invoiced"
        types = [e.type for e in uow.history.for_order("O-1")]
    assert types == [
        "order.created",
        "command.rejected",
        "prepayment_invoice.posted",
        "order.amended",
        "order.state_changed",
    ]


def test_a_failed_batch_keeps_nothing_and_redoes_everything(engine: Engine) -> None:
    uow = SqlUnitOfWork(engine)
    with pytest.raises(RuntimeError, match="connection lost"), uow.batch():
        process("p", UpsertParty("C1", "sales", "C", Decimal(30)), uow)
        process("o1", order("O-1"), uow)
        raise RuntimeError("connection lost")
    with uow:
        assert uow.orders.get("O-1") is None
        assert uow.parties.get("C1") is None
    # The redo processes both: their ids were never recorded.
    with uow.batch():
        assert not process("p", UpsertParty("C1", "sales", "C", Decimal(30)), uow).duplicate
        assert not process("o1", order("O-1"), uow).duplicate
    with uow:
        assert uow.orders.get("O-1") is not None


def test_the_processor_redoes_a_whole_batch_after_a_transient_failure(engine: Engine) -> None:
    uow = SqlUnitOfWork(engine)
    processor = CommandProcessor(uow, sleep=lambda _: None)
    real_batch = uow.batch
    failures = iter([True, False])

    def flaky_batch():  # type: ignore[no-untyped-def]
        manager = real_batch()
        if next(failures):
            raise ConcurrencyConflict("database is locked; retry")
        return manager

    uow.batch = flaky_batch  # type: ignore[method-assign]
    body = (
        b'{"specversion":"1.0","id":"p1","source":"t","type":"party.upsert",'
        b'"data":{"party_id":"C9","side":"sales","name":"C","prepayment_percent":"10"}}'
    )
    results = processor.handle_batch([body, b"{broken"])
    assert [r.kind for r in results] == ["applied", "dead"]
    with uow:
        party = uow.parties.get("C9")
        assert party is not None and party.prepayment_percent == Decimal(10)


# --- write-behind: a batch's writes go out together, at its end ----------------------------


def envelope(command_type: str, data: dict[str, Any], command_id: str) -> bytes:
    body = {"specversion": "1.0", "id": command_id, "source": "t", "type": command_type,
            "subject": data.get("order_id"), "data": data}  # fmt: skip
    return json.dumps(body).encode()


def life_cycles(orders: int, prefix: str) -> list[bytes]:
    """Create, prepayment invoice, pay and invoice `orders` orders, in rounds."""
    line = {"line_no": 1, "item_id": "A", "quantity": "2", "unit_price": "50.00",
            "vat_percent": "25"}  # fmt: skip
    ids = [f"{prefix}-{n}" for n in range(orders)]
    create = {"side": "sales", "party_id": "C1", "currency": "EUR", "order_date": "2026-11-27"}
    bodies = [envelope("order.create", {"order_id": x, **create, "lines": [line]}, f"c-{x}")
              for x in ids]  # fmt: skip
    bodies += [envelope("prepayment.invoice", {"order_id": x}, f"i-{x}") for x in ids]
    pay = {"amount": "37.50", "currency": "EUR"}
    bodies += [
        envelope("payment.record", {"order_id": x, "payment_id": f"P-{x}", **pay}, f"p-{x}")
        for x in ids
    ]
    bodies += [envelope("order.invoice", {"order_id": x}, f"f-{x}") for x in ids]
    return bodies


def statements_per_batch(engine: Engine, bodies: list[bytes]) -> list[str]:
    processor = CommandProcessor(SqlUnitOfWork(engine))
    processor.handle(envelope("party.upsert", PARTY, "party"))
    counted: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counted.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        results = processor.handle_batch(bodies)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert {r.kind for r in results} == {"applied"}, [r.reason for r in results]
    return counted


PARTY = {"party_id": "C1", "side": "sales", "name": "C", "prepayment_percent": "30"}


def test_a_batch_costs_the_same_statements_for_8_or_80_commands(engine: Engine) -> None:
    few = statements_per_batch(engine, life_cycles(2, "few"))
    many = statements_per_batch(engine, life_cycles(20, "many"))
    # Reads: inbox and orders once per batch, a party, the item's rules, a number series
    # per document type; writes: one statement per table. Nothing grows with the commands,
    # not even the texts: a list of ids is one parameter, so the driver prepares each
    # statement once, whatever the batch's size.
    assert len(few) == len(many)
    assert len(many) <= 25
    assert set(few) == set(many)


def test_a_bug_in_one_command_redoes_the_batch_one_command_at_a_time(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    processor = CommandProcessor(SqlUnitOfWork(engine))
    processor.handle_batch(
        [envelope("party.upsert", PARTY, "party"), *life_cycles(3, "SO")[:3]]
    )  # three orders created
    real_process = processing.process

    def buggy(command_id: str, command: Any, uow: Any, fingerprint: Any = None) -> Any:
        if command_id == "i-SO-1":  # changes the order it loaded, then fails: a bug
            with uow:
                order = uow.orders.get("SO-1")
                order.lines[1].quantity = Decimal(99)
                uow.orders.save(order)
                raise RuntimeError("a bug")
        return real_process(command_id, command, uow, fingerprint)

    monkeypatch.setattr(processing, "process", buggy)
    invoices = [envelope("prepayment.invoice", {"order_id": f"SO-{n}"}, f"i-SO-{n}")
                for n in range(3)]  # fmt: skip
    results = processor.handle_batch(invoices)
    assert [r.kind for r in results] == ["applied", "dead", "applied"]
    assert "RuntimeError: a bug" in (results[1].reason or "")
    with SqlUnitOfWork(engine) as uow:
        states = {n: uow.orders.get(f"SO-{n}") for n in range(3)}
    assert {n: o.state for n, o in states.items() if o} == {
        0: "prepayment_invoiced",
        1: "draft",
        2: "prepayment_invoiced",
    }
    assert states[1] is not None and states[1].lines[1].quantity == Decimal(2)


def test_an_order_changed_by_another_worker_fails_the_batch_whole(pg_engine: Engine) -> None:
    setup = SqlUnitOfWork(pg_engine)
    process("p", UpsertParty("C1", "sales", "C", Decimal(30)), setup)
    process("o1", order("O-1"), setup)
    uow = SqlUnitOfWork(pg_engine)
    with pytest.raises(ConcurrencyConflict, match="O-1"), uow.batch():
        assert not process("o2", order("O-2"), uow).rejected
        assert not process("i1", InvoicePrepayment("O-1"), uow).rejected
        # Meanwhile another worker changes O-1 and commits first.
        amend = AmendOrder("O-1", update_lines=(LineUpdate(1, quantity=Decimal(3)),))
        assert not process("a1", amend, SqlUnitOfWork(pg_engine)).rejected
    with SqlUnitOfWork(pg_engine) as check:
        assert check.orders.get("O-2") is None  # nothing of the batch was kept
        stored = check.orders.get("O-1")
        assert stored is not None and stored.state == "draft" and stored.version == 1
        assert check.inbox.claim("i1") and check.inbox.claim("o2")


def test_an_id_claimed_meanwhile_by_another_worker_is_a_conflict_at_commit(
    pg_engine: Engine,
) -> None:
    late, early = SqlUnitOfWork(pg_engine), SqlUnitOfWork(pg_engine)
    with late, pytest.raises(ConcurrencyConflict, match="got in the way"):
        assert late.inbox.claim("cmd-1")  # not processed yet, as far as it can see
        with early:
            assert early.inbox.claim("cmd-1")
            early.commit()
        late.commit()  # the claim goes in now, and finds the id taken
    with SqlUnitOfWork(pg_engine) as check:
        assert not check.inbox.claim("cmd-1")


def test_one_stale_order_among_several_fails_the_batch(pg_engine: Engine) -> None:
    setup = SqlUnitOfWork(pg_engine)
    process("p", UpsertParty("C1", "sales", "C", Decimal(30)), setup)
    for n in (1, 2, 3):
        process(f"o{n}", order(f"O-{n}"), setup)
    uow = SqlUnitOfWork(pg_engine)
    with pytest.raises(ConcurrencyConflict), uow.batch():
        for n in (1, 2, 3):  # three updates in one statement; the middle one is stale
            assert not process(f"i{n}", InvoicePrepayment(f"O-{n}"), uow).rejected
            if n == 2:
                amend = AmendOrder("O-2", update_lines=(LineUpdate(1, quantity=Decimal(3)),))
                assert not process("a2", amend, SqlUnitOfWork(pg_engine)).rejected
    with SqlUnitOfWork(pg_engine) as check:
        states = [check.orders.get(f"O-{n}") for n in (1, 2, 3)]
    assert [o.state if o else None for o in states] == ["draft", "draft", "draft"]


def test_bound_values_are_converted_once_per_object_and_exactly_as_sqlalchemy_would(
    engine: Engine,
) -> None:
    dialect = engine.dialect
    columns = ("event_id", "type", "created_at")
    plan = store_bulk._plan(dialect, OUTBOX, columns)
    calls: list[object] = []

    def counted(convert: store_bulk.Processor) -> store_bulk.Processor:
        def counting(value: object) -> object:
            calls.append(value)
            return convert(value)

        return counting

    stamp_at = columns.index("created_at")
    watched = tuple((at, counted(p) if at == stamp_at else p) for at, p in plan.processors)
    one = datetime(2026, 11, 27, 12, 0, 1, 123456, tzinfo=UTC)
    equal_but_other = datetime(2026, 11, 27, 12, 0, 1, 123456, tzinfo=UTC)
    later = datetime(2026, 11, 27, 12, 0, 2, tzinfo=UTC)
    stamps = [one, one, one, equal_but_other, later, later, one]
    rows = [{"event_id": uuid.uuid4(), "type": "t", "created_at": at} for at in stamps]

    parameters = store_bulk._parameters(store_bulk._Plan(plan.sql, columns, watched), rows)

    def one_by_one(name: str, value: object) -> object:
        convert = OUTBOX.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        return value if convert is None else convert(value)

    assert parameters == [tuple(one_by_one(name, row[name]) for name in columns) for row in rows]
    # a run of the same object is converted once; an equal but distinct object again
    assert calls == [one, equal_but_other, later, one]


def test_orders_and_payments_as_the_previous_version_wrote_them_read_back(
    engine: Engine,
) -> None:
    """Their JSON columns were written by the standard library (spaced, non-ASCII escaped)."""
    uow = SqlUnitOfWork(engine)
    process("p", UpsertParty("C1", "sales", "C", Decimal(30)), uow)
    process("o", order("O-\u00e9"), uow)
    invoiced = process("i", InvoicePrepayment("O-\u00e9"), uow)
    paid = RecordPayment("O-\u00e9", "P-\u00e9", invoiced.events[0].data["amount_due"], "EUR")
    assert not process("pay", paid, uow).rejected

    def read() -> tuple[Any, ...]:
        with SqlUnitOfWork(engine) as check:
            found = check.orders.get("O-\u00e9")
            assert found is not None
            return (
                found.prepayment_invoices,
                found.payment_ids,
                check.documents.payments_for_order("O-\u00e9"),
            )

    before = read()
    assert before[0] and before[1] == ["P-\u00e9"] and before[2][0].applied
    with engine.begin() as connection:
        for table, column in (
            ("orders", "prepayment_invoices"),
            ("orders", "payment_ids"),
            ("payments", "applied"),
        ):
            (stored,) = connection.execute(text(f"SELECT {column} FROM {table}")).one()
            old_form = json.dumps(json.loads(stored))
            assert old_form != stored  # this version writes it compact, and UTF-8 as it is
            connection.execute(text(f"UPDATE {table} SET {column} = :v"), {"v": old_form})
    assert read() == before


_SAMPLES: dict[type, list[Any]] = {
    Decimal: [Decimal("0.10"), Decimal("-0.00"), Decimal("1E+3"), Decimal("-123456789.12345")],
    datetime: [datetime(2026, 11, 27, 12, 0, 1, 123456, tzinfo=UTC)],
    date: [date(2026, 11, 27), date(1, 2, 3), date(9999, 12, 31)],
    uuid.UUID: [uuid.UUID("0b4e2f4c-9f0e-4d7a-8a51-0f2c6d3e9b11")],
    bool: [True, False],
    int: [0, 7, 2**40],
    str: ["", "Widget \u00e9"],
}


@pytest.mark.parametrize(
    "dialect", [sqlite.dialect(), postgresql.psycopg.dialect()], ids=["sqlite", "postgresql"]
)
def test_bulk_writes_bind_every_column_as_sqlalchemy_would(dialect: Dialect) -> None:
    checked = 0
    for table in SQLModel.metadata.tables.values():
        for column in table.c:
            ours = store_bulk._driver_processor(dialect, column.type)
            theirs = column.type.dialect_impl(dialect).bind_processor(dialect)
            if theirs is not None:
                assert theirs(None) is None, column  # `_parameters` passes None on unconverted
            python_type = column.type.python_type
            for value in _SAMPLES[str if python_type is object else python_type]:  # AutoString
                expected = value if theirs is None else theirs(value)
                got = value if ours is None else ours(value)
                assert (got, type(got)) == (expected, type(expected)), (column, value)
                checked += 1
    assert checked > 100
    with pytest.raises(TypeError):  # the guard against floats holds on the fast path too
        store_bulk._driver_processor(dialect, ExactDecimal())(0.1)  # type: ignore[misc]


def test_exact_decimals_read_back_with_the_digits_they_were_written_with(engine: Engine) -> None:
    written = ["0.10", "-12.500", "123456789012345.12345", "7", "1000.80", None]
    with engine.connect() as connection:
        for value in written:
            bound = literal(None if value is None else Decimal(value), ExactDecimal())
            read = connection.execute(select(bound)).scalar_one()
            if value is None:
                assert read is None
            else:
                assert type(read) is Decimal and read.as_tuple() == Decimal(value).as_tuple()


@pytest.fixture
def new_pg_engine(pg_engine: Engine) -> Iterator[Engine]:
    """One connection to tables just created, never analyzed (as on a new database)."""
    schema = f"prepay_new_{uuid.uuid4().hex[:12]}"
    with pg_engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = pg_engine.url.update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url, pool_size=1, max_overflow=0)
    create_all(engine)
    yield engine
    engine.dispose()
    with pg_engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def test_a_read_by_a_list_of_ids_is_planned_for_the_ids_it_is_given(
    new_pg_engine: Engine,
) -> None:
    uow = SqlUnitOfWork(new_pg_engine)
    with uow.batch():
        process("p", UpsertParty("C1", "sales", "C", Decimal(30)), uow)
        process("o", order("O-1"), uow)
    batch_of_ids = ["O-1", *(f"O-{n}" for n in range(1000, 1200))]
    for _ in range(20):  # the driver prepares it, the server may settle on a generic plan
        with uow.batch():  # (a rollback makes psycopg forget what it prepared)
            uow.orders.prefetch(batch_of_ids)
    plans = text(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
        " WHERE statement LIKE 'SELECT orders.order_id%'"
    )
    with uow:
        generic, custom = uow.execute(plans).one()
    # Prepared by the driver, but each run planned for the ids it was given: a generic plan
    # made while the table was nearly empty would read every row for each id as it grows.
    assert generic == 0
    assert custom >= 10  # the driver did prepare it (after 5 runs)
