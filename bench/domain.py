"""Domain throughput: whole order life cycles through the real handlers and the in-memory
unit of work, no I/O. Prints commands per second and peak memory (target >= 20,000/s).

    .venv/bin/python bench/domain.py [--commands 100000] [--processes 2]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path

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


def commands(total: int, shard: int = 0, shards: int = 1) -> Iterator[Command]:
    """`total` commands of whole life cycles; with shards, this shard's orders only (as the
    service spreads orders over workers by order id)."""
    produced, n = 0, shard
    while produced < total:
        for command in life_cycle(n):
            if produced == total:
                return
            yield command
            produced += 1
        n += shards


def run_shard(total: int, shard: int, shards: int) -> dict[str, float]:
    """One worker's share, on its own in-memory store; returns its figures."""
    store = MemoryStore()
    party = UpsertParty("C-1", "sales", "Customer", Decimal(30), payment_terms=PaymentTerms(14))
    uow = InMemoryUnitOfWork(store)  # one per worker, a transaction per command
    process("setup", party, uow)
    work = list(commands(total, shard, shards))
    # The pre-built commands are the benchmark's input, not state of the system measured (the
    # service parses each command when it arrives and lets it go): frozen, they are not
    # walked again by every full collection. What the store keeps is still collected.
    gc.collect()
    gc.freeze()
    rejected = 0
    started = time.perf_counter()
    for index, command in enumerate(work):
        rejected += process(f"cmd-{shard}-{index}", command, uow).rejected
    elapsed = time.perf_counter() - started
    return {
        "commands": len(work),
        "rejected": rejected,
        "events": len(store.outbox),
        "seconds": elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def cpu_model() -> str:
    """The processor, so that a figure says what it was measured on (they differ by 1.7x
    between two machines of the same kind here)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown processor"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes, each with its share of the orders (the machine has "
        f"{os.cpu_count()} cores)",
    )
    args = parser.parse_args()
    shards = args.processes
    per_shard = [args.commands // shards + (i < args.commands % shards) for i in range(shards)]
    started = time.perf_counter()
    with ProcessPoolExecutor(shards, mp_context=get_context("spawn")) as pool:
        figures = list(pool.map(run_shard, per_shard, range(shards), [shards] * shards))
    wall = time.perf_counter() - started
    total = sum(int(f["commands"]) for f in figures)
    slowest = max(f["seconds"] for f in figures)
    print(f"machine         {cpu_model()} x {os.cpu_count()}")
    print(f"processes       {shards:>12}")
    print(f"commands        {total:>12,}")
    print(f"rejected        {sum(int(f['rejected']) for f in figures):>12,}")
    print(f"events          {sum(int(f['events']) for f in figures):>12,}")
    print(f"seconds         {slowest:>12.2f}   (slowest process; {wall:.2f} with start-up)")
    for index, f in enumerate(figures):
        print(f"  process {index}     {f['commands'] / f['seconds']:>12,.0f} commands/s")
    print(f"commands/s      {total / slowest:>12,.0f}   (target >= 20,000)")
    print(f"peak RSS MB     {max(f['peak_rss_mb'] for f in figures):>12.1f}   (largest process)")


if __name__ == "__main__":
    main()
