"""The worker's own cost per command, without the broker: `prepay bench`'s life cycles (create,
prepayment invoice, payment, final invoice, in rounds) through the command processor and the
SQL store in batches, as the consumer hands them over. Prints CPU and wall time per command
for each round.

    .venv/bin/python bench/in_process.py [--batch 200] [--orders 2000] [--pause-ms 0]
        [--database-url URL]

On a host whose speed drifts (CPU time per command varied by 2x between identical runs on one
machine), compare builds by instruction counts instead, which do not drift:

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        .venv/bin/python bench/in_process.py --orders 300

Start-up is the same in both builds, so the difference of the two totals divided by the
number of commands is the difference per command (run once with twice the orders for the
total per command).

`--pause-ms` sleeps before each batch, as a worker does between batches when commands
trickle in, and times the batches only. On a virtual machine the same batch can cost several
times the CPU after a pause (its caches and branch predictors went to other work meanwhile):
compare `--batch 1` with `--pause-ms 0` and `--pause-ms 6` (docs/performance.md, the ninth
machine).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from workers import db
from workers.bench import PARTY, command_message, life_cycles, prepayment_gross
from workers.processing import CommandProcessor
from workers.service import settle_heap
from workers.store import SqlUnitOfWork

ROUNDS = ("order.create", "prepayment.invoice", "payment.record", "order.invoice")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=200, help="commands per transaction")
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument(
        "--pause-ms", type=float, default=0.0, help="sleep before each batch (not timed)"
    )
    args = parser.parse_args()
    if args.pause_ms < 0:
        parser.error("--pause-ms must not be negative")
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'in_process.db'}"
        for line in measure(url, args.batch, args.orders, args.pause_ms / 1000):
            print(line)


def measure(url: str, batch: int, orders: int, pause_s: float = 0.0) -> list[str]:
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        processor = CommandProcessor(SqlUnitOfWork(engine))
        processor.handle(command_message("party.upsert", PARTY, "BENCH-C").body)
        amount = prepayment_gross()
        bodies = [
            command_message(command_type, data, data["order_id"]).body
            for command_type, data in life_cycles(orders, uuid.uuid4().hex[:8], amount)
        ]
        settle_heap()  # as the service does before it consumes
        pause = f", {pause_s * 1000:g} ms pause before each" if pause_s else ""
        lines = [
            f"{'round':20} {'CPU us/command':>15} {'wall us/command':>16}   batch {batch}{pause}"
        ]
        for number, name in enumerate(ROUNDS):
            chunk = bodies[number * orders : (number + 1) * orders]
            cpu = wall = 0.0
            for start in range(0, len(chunk), batch):
                if pause_s:
                    time.sleep(pause_s)
                cpu_before, wall_before = time.thread_time(), time.perf_counter()
                results = processor.handle_batch(chunk[start : start + batch])
                cpu += time.thread_time() - cpu_before
                wall += time.perf_counter() - wall_before
                refused = [r for r in results if r.kind != "applied"]
                if refused:
                    raise SystemExit(f"{name}: {refused[0].kind}: {refused[0].reason}")
            lines.append(f"{name:20} {cpu / orders * 1e6:15.0f} {wall / orders * 1e6:16.0f}")
        return lines
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
