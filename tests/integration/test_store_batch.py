"""Group commit: several commands in one transaction, each isolated in a savepoint."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from workers.processing import CommandProcessor
from workers.store import SqlUnitOfWork
from workflows.bus import process
from workflows.commands import CreateOrder, InvoicePrepayment, LineInput, UpsertParty
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
