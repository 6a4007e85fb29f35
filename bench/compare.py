"""prepay against the naive worker, side by side, on the same broker and database(s).

    .venv/bin/python bench/compare.py [--commands N] [--workers K] [--repeat R]
                                      [--databases sqlite,postgresql]

For each database it runs the naive worker (bench/naive_worker.py) and `prepay bench` with the
same number of commands, and prints both and the ratio (target: prepay >= 5x naive). With
`--repeat R` it runs R such pairs, one after the other, and prints the median of the pairs'
ratios: on a machine whose speed drifts within the hour (measured: by a fifth to a third), a
ratio from two runs taken back to back is worth more than one from runs minutes apart.
"""

from __future__ import annotations

import argparse
import statistics
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
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs per database")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.databases.split(","):
            ratios = []
            for pair in range(args.repeat):
                pair_folder = Path(folder) / f"{kind}-{pair}"  # a new SQLite file per run
                pair_folder.mkdir()
                ratios.append(
                    compare_once(kind, pair_folder, settings, args.commands, args.workers)
                )
            if len(ratios) > 1:
                print(
                    f"median  {statistics.median(ratios):>10.2f}x over {len(ratios)} pairs "
                    f"({min(ratios):.2f}-{max(ratios):.2f}x)   (target >= 5x)",
                    flush=True,
                )


def run_pair(
    kind: str,
    folder: Path,
    settings: Settings,
    commands: int,
    workers: int,
    mix: bench.Mix = "rounds",
) -> tuple[dict[str, float], bench.Figures]:
    """The naive worker then prepay, at full speed, on one database."""
    prepay_url, naive_url = urls(kind, folder)
    naive = run_naive(commands, naive_url, settings.amqp_url)
    ours = bench.run(
        settings.model_copy(update={"database_url": prepay_url}),
        commands,
        workers=workers,
        mix=mix,
    )
    return naive, ours


def compare_once(kind: str, folder: Path, settings: Settings, commands: int, workers: int) -> float:
    """The naive worker then prepay on one database; prints both and returns the ratio."""
    naive, ours = run_pair(kind, folder, settings, commands, workers)
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
    print(asdict(ours), flush=True)
    return ratio


if __name__ == "__main__":
    main()
