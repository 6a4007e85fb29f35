"""The benchmark's own parts: the life cycles it sends, in rounds or as a steady mix, and how
it attributes the machine's CPU to the parts that spent it."""

from __future__ import annotations

import importlib
import itertools
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from workers import bench_cpu
from workers.bench import STEADY_LAG, life_cycles

ROOT = Path(__file__).resolve().parents[2]
STEPS = ["order.create", "prepayment.invoice", "payment.record", "order.invoice"]


def as_keys(commands: list[tuple[str, dict[str, str]]]) -> list[tuple[str, str]]:
    return [(command_type, data["order_id"]) for command_type, data in commands]


@pytest.mark.parametrize("orders", [1, 3, 10, 250, 1000])
def test_both_mixes_send_the_same_whole_life_cycles_each_in_its_order(orders: int) -> None:
    rounds = list(life_cycles(orders, "r", "81.39"))
    steady = list(life_cycles(orders, "r", "81.39", mix="steady"))
    assert sorted(map(repr, steady)) == sorted(map(repr, rounds))
    assert len(steady) == 4 * orders
    for commands in (rounds, steady):
        steps: dict[str, list[str]] = {}
        for command_type, order_id in as_keys(commands):
            steps.setdefault(order_id, []).append(command_type)
        assert len(steps) == orders
        assert all(sequence == STEPS for sequence in steps.values())


def test_rounds_send_every_create_before_any_invoice() -> None:
    kinds = [command_type for command_type, _ in life_cycles(300, "r", "1")]
    assert kinds == [kind for kind in STEPS for _ in range(300)]


def test_the_steady_mix_holds_every_step_in_equal_shares_once_under_way() -> None:
    orders = 2000
    kinds = [command_type for command_type, _ in life_cycles(orders, "r", "1", mix="steady")]
    # Away from the start and the end, where the life cycles only begin or only finish,
    # every run of 4 x lag commands holds each step lag times.
    ramp = 4 * STEADY_LAG * 3
    middle = kinds[ramp : len(kinds) - ramp]
    for start in range(0, len(middle) - 4 * STEADY_LAG + 1, 4 * STEADY_LAG):
        window = Counter(middle[start : start + 4 * STEADY_LAG])
        assert window == {kind: STEADY_LAG for kind in STEPS}


def test_in_the_steady_mix_an_order_moves_on_a_lag_of_orders_later() -> None:
    keys = as_keys(list(life_cycles(1000, "r", "1", mix="steady")))
    at = {key: position for position, key in enumerate(keys)}
    for n in (300, 500, 600):  # under way: every slot sends one step of four orders
        order_id = f"B-r-{n}"
        gaps = [at[(b, order_id)] - at[(a, order_id)] for a, b in itertools.pairwise(STEPS)]
        # Each step goes out beside the create of the order `STEADY_LAG` later.
        assert gaps == [4 * STEADY_LAG + 1] * 3


def test_an_unknown_mix_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="mix: 'random'"):
        list(life_cycles(4, "r", "1", mix="random"))  # type: ignore[arg-type]


# --- CPU by part -----------------------------------------------------------------------------


def test_cpu_per_command_adds_up_each_part_and_counts_a_new_process_from_zero() -> None:
    tick = 1 / os.sysconf("SC_CLK_TCK")
    before = bench_cpu.Sample(
        {(1, 10): ("workers", 100), (2, 10): ("broker", 50), (3, 10): ("workers", 7)}, 1000, 4000
    )
    after = bench_cpu.Sample(
        {(1, 10): ("workers", 300), (2, 10): ("broker", 150), (3, 10): ("workers", 7),
         (4, 90): ("postgresql", 40)},
        1000 + 600, 4000 + 800,
    )  # fmt: skip
    figures = bench_cpu.per_command(before, after, commands=100)
    assert figures["workers"] == pytest.approx(200 * tick * 1000 / 100, abs=1e-3)
    assert figures["broker"] == pytest.approx(100 * tick * 1000 / 100, abs=1e-3)
    assert figures["postgresql"] == pytest.approx(40 * tick * 1000 / 100, abs=1e-3)
    assert figures["all"] == pytest.approx(340 * tick * 1000 / 100, abs=1e-3)
    # 600 of 800 ticks busy, on all the cores.
    assert figures["machine_busy_pct"] == pytest.approx(75 * (os.cpu_count() or 1), abs=0.1)


@pytest.mark.parametrize("part_after", ["postgresql", "workers"])
def test_a_reused_pid_counts_from_zero_whatever_its_part(part_after: str) -> None:
    # A backend with pid 9 ended; a new process got pid 9 (a later start time).
    before = bench_cpu.Sample({(9, 100): ("postgresql", 500)}, 0, 100)
    after = bench_cpu.Sample({(9, 250): (part_after, 20)}, 10, 200)
    figures = bench_cpu.per_command(before, after, commands=1)
    assert figures[part_after] == pytest.approx(20 / os.sysconf("SC_CLK_TCK") * 1000, abs=1e-3)
    assert figures["all"] == figures[part_after]


@pytest.mark.skipif(not bench_cpu.available(), reason="reads Linux's /proc")
def test_a_sample_finds_the_service_its_children_and_the_load_generator() -> None:
    # This process stands for the service and a child of it for a worker; then the other way
    # round, with this process as the load generator.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        as_service = parts(bench_cpu.sample(os.getpid(), load_generator_pid=child.pid))
        as_generator = parts(bench_cpu.sample(child.pid, load_generator_pid=os.getpid()))
    finally:
        child.kill()
        child.wait(5)
    assert (as_service[os.getpid()], as_service[child.pid]) == ("supervisor and relay", "workers")
    assert as_generator[os.getpid()] == "load generator"
    assert as_generator[child.pid] == "supervisor and relay"


def parts(sample: bench_cpu.Sample) -> dict[int, str]:
    return {pid: part for (pid, _started), (part, _used) in sample.ticks.items()}


@pytest.mark.skipif(not bench_cpu.available(), reason="reads Linux's /proc")
def test_a_sample_counts_what_a_reaped_child_spent() -> None:
    # PostgreSQL's short-lived backends end before the second sample: the postmaster, their
    # parent, holds what they spent. Here this process is the parent.
    before = bench_cpu.sample(service_pid=-1, load_generator_pid=os.getpid())
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", spin], check=True)
    after = bench_cpu.sample(service_pid=-1, load_generator_pid=os.getpid())
    spent = bench_cpu.per_command(before, after, commands=1)["load generator"]
    assert spent >= 300 - 20  # ms: the child's 0.3 s, give or take a tick or two


# --- the machine's hiccups (bench/cpu_jitter.py) ------------------------------------------


def test_slow_repeats_close_together_are_one_hiccup() -> None:
    hiccups = _bench_module("cpu_jitter").hiccups
    repeats = [(0.00, 1.5), (0.01, 9.0), (0.02, 1.5), (0.05, 12.0), (0.40, 1.4),
               (1.50, 15.0), (1.90, 4.5), (1.95, 4.4), (3.00, 1.5)]  # fmt: skip
    # Slow from 3x the median (1.5 ms): 0.01 and 0.05 are one hiccup; 1.50 another; 1.90 is
    # more than 0.3 s after it, a third; 4.4 ms is under 4.5.
    assert hiccups(repeats, median=1.5) == [[0.01, 0.05], [1.50], [1.90]]


def test_a_machine_whose_p99_step_is_slow_has_hiccups_and_says_how_far_apart() -> None:
    jitter = _bench_module("cpu_jitter")
    found = jitter.Jitter(15, 2000, 1.5, 7.7, 18.6, 0.02, [0.1, 1.6, 4.4, 6.0])
    assert found.hiccups and found.median_gap_s == pytest.approx(1.6)
    steady = jitter.Jitter(15, 2000, 1.5, 2.9, 16.5, 0.005, [1.0])
    assert not steady.hiccups and steady.median_gap_s is None
    verdict = _bench_module("targets").hiccup_verdict(found)
    assert "not judgeable" in verdict and "median 1.60 s apart" in verdict
    assert "not judgeable" not in _bench_module("targets").hiccup_verdict(steady)


def _bench_module(name: str) -> Any:
    """A script of bench/ (they import each other as top-level modules)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "bench"))
