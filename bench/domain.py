"""Domain throughput: whole order life cycles through the real handlers and the in-memory
unit of work, no I/O. Prints commands per second and peak memory (target >= 20,000/s).

    .venv/bin/python bench/domain.py [--commands 100000]
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from workflows.bus import process
from workflows.commands import (
    AmendOrder,
    Command,
    CreateOrder,
    InvoiceLine,
    InvoiceOrder,
    InvoicePrepayment,
    LineInput,
    LineUpdate,
    PaymentTerms,
    RecordPayment,
    UpsertParty,
)
from workflows.memory import InMemoryUnitOfWork, MemoryStore

DAY = date(2026, 11, 27)


def life_cycle(n: int) -> list[Command]:
    """Seven commands: create, prepay, raise a quantity, prepay the difference, pay,
    ship part, ship the rest."""
    order_id = f"SO-{n}"
    lines = (
        LineInput(1, "ITEM-A", Decimal(3), Decimal("99.99"), vat_percent=Decimal(25)),
        LineInput(
            2,
            "ITEM-B",
            Decimal(7),
            Decimal("12.35"),
            line_discount_percent=Decimal(5),
            vat_percent=Decimal(12),
        ),
    )
    return [
        CreateOrder(order_id, "sales", "C-1", "EUR", DAY, lines),
        InvoicePrepayment(order_id),
        AmendOrder(order_id, update_lines=(LineUpdate(1, quantity=Decimal(4)),)),
        InvoicePrepayment(order_id),
        RecordPayment(order_id, f"PAY-{n}", Decimal("1000.00"), "EUR"),
        InvoiceOrder(order_id, lines=(InvoiceLine(1, Decimal(1)),)),
        InvoiceOrder(order_id),
    ]


def commands(total: int) -> Iterator[Command]:
    produced, n = 0, 0
    while produced < total:
        for command in life_cycle(n):
            if produced == total:
                return
            yield command
            produced += 1
        n += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=100_000)
    args = parser.parse_args()
    store = MemoryStore()
    party = UpsertParty("C-1", "sales", "Customer", Decimal(30), payment_terms=PaymentTerms(14))
    uow = InMemoryUnitOfWork(store)  # one per worker, a transaction per command
    process("setup", party, uow)
    work = list(commands(args.commands))
    gc.collect()
    rejected = 0
    started = time.perf_counter()
    for index, command in enumerate(work):
        rejected += process(f"cmd-{index}", command, uow).rejected
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"commands        {len(work):>12,}")
    print(f"rejected        {rejected:>12,}")
    print(f"events          {len(store.outbox):>12,}")
    print(f"seconds         {elapsed:>12.2f}")
    print(f"commands/s      {len(work) / elapsed:>12,.0f}   (target >= 20,000)")
    print(f"peak RSS MB     {peak_mb:>12.1f}")


if __name__ == "__main__":
    main()
