"""`bench/in_process.py` drives whole life cycles through the processor and the SQL store:
every command must be applied, or its figures would measure refusals."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_in_process_bench_applies_every_round_and_prints_its_cost(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    printed = subprocess.run(
        [sys.executable, "bench/in_process.py", "--orders", "5", "--batch", "2",
         "--database-url", url],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout.splitlines()  # fmt: skip
    rounds = [line.split() for line in printed[1:]]
    assert [r[0] for r in rounds] == [
        "order.create", "prepayment.invoice", "payment.record", "order.invoice"
    ]  # fmt: skip
    assert all(float(cpu) > 0 and float(wall) > 0 for _, cpu, wall in rounds)


def test_a_pause_before_each_batch_is_announced_and_left_out_of_the_wall_time(
    tmp_path: Path,
) -> None:
    # 5 orders in batches of one: 20 batches in all, each after a 100 ms sleep. The run
    # cannot be shorter than the sleeps; were they timed, each round's wall time per command
    # would be at least 100,000 us.
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    started = time.monotonic()
    printed = subprocess.run(
        [sys.executable, "bench/in_process.py", "--orders", "5", "--batch", "1",
         "--pause-ms", "100", "--database-url", url],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout.splitlines()  # fmt: skip
    assert time.monotonic() - started >= 20 * 0.1
    assert printed[0].endswith("batch 1, 100 ms pause before each")
    walls = [float(line.split()[2]) for line in printed[1:]]
    assert len(walls) == 4
    assert all(0 < wall < 100_000 for wall in walls)


def test_a_negative_pause_is_refused_by_name() -> None:
    refused = subprocess.run(
        [sys.executable, "bench/in_process.py", "--pause-ms", "-1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "--pause-ms must not be negative" in refused.stderr
