"""Two workers' batches that take the number series in opposite orders deadlock on
PostgreSQL. The loser must give up its whole batch (releasing the series it holds) and redo
it, not retry the one command in place while still holding the lock the winner waits for."""

from __future__ import annotations

import json
import threading
import time
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from workers.processing import CommandProcessor, Result
from workers.store import SqlUnitOfWork
from workflows.bus import process
from workflows.commands import CreateOrder, InvoicePrepayment, LineInput, UpsertParty

DAY = date(2026, 11, 27)


def body(command_type: str, order_id: str, command_id: str) -> bytes:
    envelope = {"specversion": "1.0", "id": command_id, "source": "t", "type": command_type,
                "subject": order_id, "data": {"order_id": order_id}}  # fmt: skip
    return json.dumps(envelope).encode()


def prepare(engine: Engine) -> None:
    """SO-1 and SO-4 in draft, SO-2 and SO-3 prepayment invoiced (so they can be credited)."""
    uow = SqlUnitOfWork(engine)
    process("p", UpsertParty("C1", "sales", "C", Decimal(30)), uow)
    line = LineInput(1, "A", Decimal(2), Decimal("50.00"), vat_percent=Decimal(25))
    for n in (1, 2, 3, 4):
        process(f"o{n}", CreateOrder(f"SO-{n}", "sales", "C1", "EUR", DAY, (line,)), uow)
    for n in (2, 3):
        process(f"i{n}", InvoicePrepayment(f"SO-{n}"), uow)


def test_opposite_batches_deadlock_once_and_both_complete(pg_engine: Engine) -> None:
    prepare(pg_engine)
    batches = {
        "a": [body("prepayment.invoice", "SO-1", "a1"), body("prepayment.credit", "SO-2", "a2")],
        "b": [body("prepayment.credit", "SO-3", "b1"), body("prepayment.invoice", "SO-4", "b2")],
    }
    # Each batch takes its first number, then waits for the other to take its own: from there
    # each needs the series the other holds.
    both_hold_one = threading.Barrier(2, timeout=10)
    results: dict[str, list[Result]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        uow = SqlUnitOfWork(pg_engine)
        taken = uow.numbers.next
        first = [True]

        def next_number(series: str) -> int:
            number = taken(series)
            if first[0]:
                first[0] = False
                both_hold_one.wait()
            return number

        uow.numbers.next = next_number  # type: ignore[method-assign]
        processor = CommandProcessor(uow, retry_attempts=3, first_delay_s=0.01)
        try:
            results[name] = processor.handle_batch(batches[name])
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(name,)) for name in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert {name: [r.kind for r in found] for name, found in results.items()} == {
        "a": ["applied", "applied"],
        "b": ["applied", "applied"],
    }
    # One deadlock (detected after PostgreSQL's deadlock_timeout, 1 s), one redo.
    assert time.monotonic() - started < 10
    with SqlUnitOfWork(pg_engine, read_only=True) as uow:
        documents: list[Any] = [d for n in (1, 2, 3, 4) for d in uow.documents.for_order(f"SO-{n}")]
    numbers = sorted(d.document_no for d in documents)
    assert numbers == [
        "PPCM-000001", "PPCM-000002", "PPI-000001", "PPI-000002", "PPI-000003", "PPI-000004",
    ]  # fmt: skip
