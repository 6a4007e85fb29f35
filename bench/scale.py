"""Throughput against a small and a big store, side by side (issue 7: with 1,000,000 orders
stored, >= 90 % of the throughput with 1,000).

    .venv/bin/python bench/stored_orders.py --orders 1000 --database-url URL_SMALL
    .venv/bin/python bench/stored_orders.py --orders 1000000 --database-url URL_LARGE
    .venv/bin/python bench/scale.py --small URL_SMALL --large URL_LARGE [--commands N]

Runs `prepay bench` against each (small first, then large, then small again, so that a
machine warming up or slowing down shows as a difference between the two small runs) and
prints the ratio of the large run to the mean of the small ones.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

from workers import bench
from workers.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", required=True, help="database URL with few orders stored")
    parser.add_argument("--large", required=True, help="database URL with many orders stored")
    parser.add_argument("--commands", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    settings = Settings()
    figures = {}
    for name, url in (("small", args.small), ("large", args.large), ("small again", args.small)):
        figures[name] = bench.run(
            settings.model_copy(update={"database_url": url}), args.commands, args.workers
        )
        found = figures[name]
        print(
            f"{name:12} {found.commands_per_s:>8,.0f} commands/s  "
            f"p50 {found.p50_ms:.1f} ms  p99 {found.p99_ms:.1f} ms",
            flush=True,
        )
    small = (figures["small"].commands_per_s + figures["small again"].commands_per_s) / 2
    ratio = figures["large"].commands_per_s / small
    print(f"ratio        {ratio:>8.2f}   (large / mean of small; target >= 0.90)")
    for name, found in figures.items():
        print(name, asdict(found))


if __name__ == "__main__":
    main()
