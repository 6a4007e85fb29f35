"""prepay against the naive worker, side by side, on the same broker and database(s).

    .venv/bin/python bench/compare.py [--commands N] [--workers K] [--databases sqlite,postgresql]

For each database it runs the naive worker (bench/naive_worker.py) and `prepay bench` with the
same number of commands, and prints both and the ratio (target: prepay >= 5x naive).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from naive_worker import run as run_naive

from workers import bench
from workers.config import Settings

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def urls(kind: str, folder: Path) -> tuple[str, str]:
    """(prepay's database, the naive worker's database) for one kind."""
    if kind == "sqlite":
        return f"sqlite:///{folder}/prepay-bench.db", f"sqlite:///{folder}/naive-bench.db"
    return POSTGRES, POSTGRES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.databases.split(","):
            prepay_url, naive_url = urls(kind, Path(folder))
            naive = run_naive(args.commands, naive_url, settings.amqp_url)
            ours = bench.run(
                settings.model_copy(update={"database_url": prepay_url}),
                args.commands,
                workers=args.workers,
            )
            ratio = ours.commands_per_s / naive["commands_per_s"]
            print(f"== {kind}")
            print(
                f"naive   {naive['commands_per_s']:>10,.0f} commands/s  "
                f"p50 {naive['p50_ms']:.1f} ms  p99 {naive['p99_ms']:.1f} ms"
            )
            print(
                f"prepay  {ours.commands_per_s:>10,.0f} commands/s  "
                f"p50 {ours.p50_ms:.1f} ms  p99 {ours.p99_ms:.1f} ms  rss {ours.rss_mb} MB"
            )
            print(f"ratio   {ratio:>10.2f}x   (target >= 5x)")
            print(asdict(ours))


if __name__ == "__main__":
    main()
