"""`bench/in_process.py` drives whole life cycles through the processor and the SQL store:
every command must be applied, or its figures would measure refusals."""

from __future__ import annotations

import subprocess
import sys
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
