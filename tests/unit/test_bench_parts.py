"""The benchmark's own parts: the life cycles it sends, in rounds or as a steady mix, and how
it attributes the machine's CPU to the parts that spent it."""

from __future__ import annotations

import argparse
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
from workers.bench import STEADY_LAG, latency_timeline, life_cycles

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


# --- the timeline ----------------------------------------------------------------------------


def test_the_timeline_groups_latencies_by_the_second_their_command_was_sent() -> None:
    # Second 0: 100 commands at 10 ms but one at 900 ms; nothing sent in second 1; second 2:
    # two commands. Arrival order (the driver's) differs from sending order.
    sent = [2.5] + [i / 100 for i in range(100)] + [2.0]
    latencies = [0.030] + [0.010] * 99 + [0.900] + [0.020]
    windows = latency_timeline(sent, latencies)
    assert [w["second"] for w in windows] == [0, 2]
    first, last = windows
    assert first == {"second": 0, "commands": 100, "p50_ms": 10.0, "p99_ms": 900.0,
                     "max_ms": 900.0}  # fmt: skip
    assert last == {"second": 2, "commands": 2, "p50_ms": 30.0, "p99_ms": 30.0, "max_ms": 30.0}


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


# --- the machine's slow spells (bench/cpu_jitter.py) ----------------------------------------


def test_slow_repeats_within_the_gap_of_the_last_one_are_one_spell() -> None:
    jitter = _bench_module("cpu_jitter")
    repeat = jitter.Repeat
    repeats = [
        repeat(start=0.00, wall_ms=1.5, cpu_ms=1.5),
        repeat(start=0.01, wall_ms=9.0, cpu_ms=9.0),  # slow: a spell begins
        repeat(start=0.25, wall_ms=12.0, cpu_ms=2.0),  # 0.231 s after the last slow one ended
        repeat(start=0.50, wall_ms=4.5, cpu_ms=4.5),  # exactly 3x: slow, 0.238 s after
        repeat(start=0.90, wall_ms=4.4, cpu_ms=4.4),  # under 3x: not slow
        repeat(start=1.00, wall_ms=15.0, cpu_ms=15.0),  # 0.4955 s after: a second spell
    ]
    spells = jitter.group_spells(repeats, median_ms=1.5)
    assert [(s.start, s.end) for s in spells] == [
        (0.01, pytest.approx(0.5045)), (1.00, pytest.approx(1.015))
    ]  # fmt: skip


def test_the_summary_gives_the_time_in_spells_and_which_clock_saw_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jitter = _bench_module("cpu_jitter")
    # 100 repeats of 1.5 ms over 1 s; two spells of slow repeats, one slow by the wall clock
    # only (the thread was stopped, not slowed).
    repeats = [jitter.Repeat(n / 100, 1.5, 1.5) for n in range(100)]
    repeats[10] = jitter.Repeat(0.10, 20.0, 19.0)
    repeats[11] = jitter.Repeat(0.11, 30.0, 29.0)
    repeats[70] = jitter.Repeat(0.70, 50.0, 1.6)
    monkeypatch.setattr(jitter, "measure", lambda seconds: repeats)
    found = jitter.jitter(1.0)
    assert (found.repeats, found.median_ms, found.max_ms) == (100, 1.5, 50.0)
    assert found.p99_ms == 50.0  # the 99th of 100, as `prepay bench` counts
    assert [(s.start, s.end) for s in found.spells] == [
        (0.10, pytest.approx(0.14)), (0.70, pytest.approx(0.75))
    ]  # fmt: skip
    assert found.spell_share == pytest.approx(0.09)  # 0.10-0.14 and 0.70-0.75
    assert found.slow_share == pytest.approx(0.1)  # 20 + 30 + 50 ms of slow repeats
    assert found.median_gap_s == pytest.approx(0.6)
    assert found.slow_on_cpu_clock == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="seconds: 0"):
        jitter.jitter(0)


def test_targets_says_whether_the_machine_s_spells_reach_a_p99() -> None:
    jitter, targets = _bench_module("cpu_jitter"), _bench_module("targets")
    spells = (jitter.Spell(0.1, 0.2), jitter.Spell(1.7, 1.8))
    ticks = {"steal": 0, "irq": 0, "softirq": 3}
    slow = jitter.Jitter(
        seconds=10, repeats=1500, median_ms=1.5, p99_ms=7.7, max_ms=18.6,
        slow_on_cpu_clock=1.0, slow_seconds=0.15, spells=spells, kernel_ticks=ticks,
    )  # fmt: skip
    note = targets.machine_note(slow)
    assert "at least 1.5% of the time slowed, more than a p99 may spend" in note
    assert "1.5% to 2.0%" in note
    assert "median 1.60 s apart" in note and "softirq 3" in note
    calm = jitter.Jitter(
        seconds=10, repeats=1500, median_ms=1.5, p99_ms=2.0, max_ms=9.0,
        slow_on_cpu_clock=1.0, slow_seconds=0.05, spells=spells[:1], kernel_ticks=ticks,
    )  # fmt: skip
    assert "do not reach a p99" in targets.machine_note(calm)  # 0.5 % slowed


def test_targets_tables_align_their_columns_and_show_what_was_not_measured() -> None:
    targets = _bench_module("targets")
    sqlite = targets.Results(
        naive_per_s=445, prepay_per_s=1812, half_rate=906, half_rate_p99_ms=715.63,
        full_cpu={"workers": 0.41, "broker": 0.22, "all": 0.63, "machine_busy_pct": 166.6},
        half_cpu={"workers": 0.73, "all": 0.73, "machine_busy_pct": 174.0},
    )  # fmt: skip
    found = {"sqlite": sqlite, "postgresql": targets.Results()}
    table = targets.verdicts(found, argparse.Namespace(stored_orders=0)).splitlines()
    assert table[1].split("  ")[0] == "prepay / naive >= 5x"
    assert "4.07x (1,812 / 445): NOT MET" in table[1] and table[1].endswith("not measured")
    assert "715.63 ms at 906/s: NOT MET" in table[2]
    second = table[0].index("postgresql")  # each row's third cell starts under its heading
    assert all(line[second:].startswith("not measured") for line in table[1:])
    cpu = targets.cpu_table(found).splitlines()
    assert cpu[0].split() == ["CPU", "ms", "per", "command", "sqlite", "full", "sqlite", "half"]
    assert cpu[1].split() == ["broker", "0.22", "-"]  # parts in order, "-" where not seen
    assert cpu[-1].split() == ["machine", "busy", "%", "166.6", "174"]
    assert len({len(line) for line in cpu}) == 1  # numbers flush right, in columns


def test_targets_reads_repeated_runs_by_their_median_and_shows_the_spread() -> None:
    targets = _bench_module("targets")
    runs = [{"p99": 700.0}, {"p99": 60.0}, {"p99": 165.0}]
    assert targets.median_run(runs, lambda run: run["p99"]) is runs[2]
    runs.append({"p99": 300.0})  # an even count: the upper middle, a run's own figure
    assert targets.median_run(runs, lambda run: run["p99"]) is runs[3]
    sqlite = targets.Results(
        naive_per_s=504, prepay_per_s=2366, ratios=[4.26, 4.69, 5.35],
        half_rate=1183, half_rate_p99_ms=165.81, half_rate_p99s=[700.0, 60.2, 165.81],
    )  # fmt: skip
    once = targets.Results(naive_per_s=500, prepay_per_s=2000, ratios=[4.0])
    table = targets.verdicts({"sqlite": sqlite, "postgresql": once}, argparse.Namespace(
        stored_orders=0)).splitlines()  # fmt: skip
    assert "4.69x (2,366 / 504; median of 3 pairs, 4.26-5.35x): NOT MET" in table[1]
    assert "4.00x (2,000 / 500): NOT MET" in table[1]  # one pair: no spread
    assert "165.81 ms at 1,183/s (median of 3 runs, 60.2-700 ms): NOT MET" in table[2]


def _figures(per_s: float, p99_ms: float = 0.0) -> Any:
    from workers.bench import Figures

    return Figures(
        commands=40, orders=10, workers=1, seconds=1.0, commands_per_s=per_s, p50_ms=1.0,
        p99_ms=p99_ms, rss_mb=90.0, database="sqlite", cpu_ms_per_command={"all": per_s},
    )  # fmt: skip


def _measuring(
    monkeypatch: pytest.MonkeyPatch, pairs: list[tuple[float, float]], p99s: list[float]
) -> tuple[Any, list[tuple[str, float | None]]]:
    """targets.py with its runs replaced: each pair's (naive, prepay) commands per second (a
    prepay of 0 fails), then the half-rate runs' p99s. Returns the module and each half-rate
    run's (database, rate)."""
    targets = _bench_module("targets")
    queued_pairs, queued_p99s = list(pairs), list(p99s)
    halves: list[tuple[str, float | None]] = []

    def run_pair(*_args: Any) -> tuple[dict[str, float], Any]:
        naive, prepay = queued_pairs.pop(0)
        if prepay <= 0:
            raise RuntimeError("broker gone")
        return {"commands_per_s": naive}, _figures(prepay)

    def run(settings: Any, commands: int, *, rate: float | None = None, **_: Any) -> Any:
        halves.append((settings.database_url, rate))
        return _figures(0.0, queued_p99s.pop(0))

    monkeypatch.setattr(targets, "run_pair", run_pair)
    monkeypatch.setattr(targets.bench, "run", run)
    return targets, halves


def test_targets_measures_at_half_the_median_pair_s_speed_and_judges_the_median_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Ratios 5.0, 4.0 and 4.5: the median pair is the third, 1,800 / 400.
    pairs = [(400.0, 2000.0), (500.0, 2000.0), (400.0, 1800.0)]
    targets, halves = _measuring(monkeypatch, pairs, [700.0, 60.0, 165.0])
    args = argparse.Namespace(commands=40, workers=1, mix="rounds", repeat=3, rss_commands=0,
                              stored_orders=0)  # fmt: skip
    results = targets.Results()
    targets.measure("sqlite", tmp_path, targets.Settings(), args, results)
    assert (results.naive_per_s, results.prepay_per_s) == (400.0, 1800.0)
    assert results.ratios == [5.0, 4.0, 4.5] and results.full_cpu == {"all": 1800.0}
    # Each half-rate run at 900/s, on its pair's own SQLite file.
    assert halves == [(f"sqlite:///{tmp_path}/pair-{n}/prepay-bench.db", 900) for n in range(3)]
    assert (results.half_rate_p99_ms, results.half_rate_p99s) == (165.0, [700.0, 60.0, 165.0])


def test_targets_keeps_the_pairs_measured_before_a_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    targets, halves = _measuring(monkeypatch, [(400.0, 2000.0), (500.0, 0.0)], [])
    args = argparse.Namespace(commands=40, workers=1, mix="rounds", repeat=3, rss_commands=0,
                              stored_orders=0)  # fmt: skip
    results = targets.Results()
    with pytest.raises(RuntimeError, match="broker gone"):
        targets.measure("sqlite", tmp_path, targets.Settings(), args, results)
    assert halves == []
    table = targets.verdicts({"sqlite": results}, args).splitlines()
    assert "5.00x (2,000 / 400): met" in table[1]
    assert table[2].endswith("not measured")


def test_targets_refuses_fewer_than_one_repeat_before_measuring_anything() -> None:
    refused = subprocess.run(
        [sys.executable, "bench/targets.py", "--repeat", "0", "--jitter-seconds", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "--repeat must be at least 1" in refused.stderr
    assert refused.stdout == ""


def _bench_module(name: str) -> Any:
    """A script of bench/, which import each other as top-level modules (`targets` puts
    bench/ on the path itself); the path is as it was afterwards."""
    path = list(sys.path)
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = path
