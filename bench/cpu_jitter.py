"""The machine's own slow spells: a fixed piece of pure-Python work, repeated with short pauses
on an otherwise idle machine, and how often and for how long it takes several times its usual
time.

    .venv/bin/python bench/cpu_jitter.py [--seconds 15] [--cpu N]

Run it with nothing else running. Each repeat is timed twice: by the wall clock and by the
thread's CPU clock. A repeat slow on both ran slowly (the guest kernel charges a vCPU's
stolen time to steal, not to the thread, where the host reports it); slow by the wall clock
only, it was stopped or preempted. Steal, irq and softirq time over the run come from
`/proc/stat`. Spells are printed in the monotonic clock's seconds, so that two runs side by
side (one per core) can be matched.

On the eighth development machine (a KVM guest) both cores slowed 3-13 fold together, within
a few ms of each other and by both clocks, in spells every 1.6 s: 3.6 % of the time in slow
repeats, 13-16 % from the first slow repeat of each spell to its last. Measured apart from
`prepay bench` so that the machine's part of a latency tail can be told from the service's
(docs/performance.md, the eighth machine); `bench/targets.py` runs it first.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from dataclasses import dataclass

from workers import bench_cpu

WORK = 20_000  # loop turns per repeat: about 1.5 ms of CPU on the development machines
PAUSE_S = 0.005  # between repeats, so that the machine is mostly idle
SLOW = 3.0  # a repeat this many times the median, by either clock, is slow
SPELL_GAP_S = 0.3  # slow repeats closer than this (from the last one) are one spell


@dataclass(frozen=True, slots=True)
class Repeat:
    start: float  # monotonic clock, seconds
    wall_ms: float
    cpu_ms: float


@dataclass(frozen=True, slots=True)
class Spell:
    start: float  # monotonic clock, seconds: when its first slow repeat began
    end: float  # when its last slow repeat ended


@dataclass(frozen=True, slots=True)
class Jitter:
    seconds: float
    repeats: int
    median_ms: float  # wall time of a repeat
    p99_ms: float
    max_ms: float
    slow_on_cpu_clock: float  # share of the slow repeats that were slow by the CPU clock too
    slow_seconds: float  # in slow repeats: the spells without the normal repeats between
    spells: tuple[Spell, ...]
    kernel_ticks: dict[str, int]  # steal, irq, softirq ticks over the run, all cores

    @property
    def spell_share(self) -> float:
        """Share of the run's time inside spells, from each one's first slow repeat to its last
        (an upper bound: normal repeats between them count too)."""
        return sum(s.end - s.start for s in self.spells) / self.seconds

    @property
    def slow_share(self) -> float:
        """Share of the run's time spent in slow repeats (a lower bound: the pauses between
        them count as normal)."""
        return self.slow_seconds / self.seconds

    @property
    def median_gap_s(self) -> float | None:
        starts = [s.start for s in self.spells]
        gaps = sorted(b - a for a, b in itertools.pairwise(starts))
        return gaps[len(gaps) // 2] if gaps else None


def work() -> int:
    total = 0
    for i in range(WORK):
        total += i * i
    return total


def measure(seconds: float) -> list[Repeat]:
    work()  # once before timing: the first call pays for warming the interpreter's caches
    repeats: list[Repeat] = []
    started = time.monotonic()
    while (now := time.monotonic()) - started < seconds:
        cpu = time.thread_time()
        work()
        wall_ms = (time.monotonic() - now) * 1000
        repeats.append(Repeat(now, wall_ms, (time.thread_time() - cpu) * 1000))
        time.sleep(PAUSE_S)
    return repeats


def group_spells(repeats: list[Repeat], median_ms: float) -> list[Spell]:
    spells: list[Spell] = []
    for repeat in repeats:
        if repeat.wall_ms < SLOW * median_ms:
            continue
        end = repeat.start + repeat.wall_ms / 1000
        if spells and repeat.start - spells[-1].end < SPELL_GAP_S:
            spells[-1] = Spell(spells[-1].start, end)
        else:
            spells.append(Spell(repeat.start, end))
    return spells


def summarize(repeats: list[Repeat], seconds: float, kernel_ticks: dict[str, int]) -> Jitter:
    walls = sorted(r.wall_ms for r in repeats)
    cpus = sorted(r.cpu_ms for r in repeats)
    median = walls[len(walls) // 2]
    slow = [r for r in repeats if r.wall_ms >= SLOW * median]
    slow_cpu = sum(1 for r in slow if r.cpu_ms >= SLOW * cpus[len(cpus) // 2])
    return Jitter(
        seconds=seconds,
        repeats=len(repeats),
        median_ms=median,
        p99_ms=walls[min(len(walls) - 1, int(len(walls) * 0.99))],  # as `prepay bench`'s p99
        max_ms=walls[-1],
        slow_on_cpu_clock=slow_cpu / len(slow) if slow else 0.0,
        slow_seconds=sum(r.wall_ms for r in slow) / 1000,
        spells=tuple(group_spells(repeats, median)),
        kernel_ticks=kernel_ticks,
    )


def jitter(seconds: float) -> Jitter:
    if seconds <= 0:
        raise ValueError(f"seconds: {seconds} is not a positive duration")
    before = _kernel_ticks()
    repeats = measure(seconds)
    after = _kernel_ticks()
    return summarize(repeats, seconds, {k: after[k] - before[k] for k in after})


def describe(found: Jitter) -> dict[str, str]:
    """The figures, by name, as printed."""
    gap = found.median_gap_s
    lengths = sorted((s.end - s.start) * 1000 for s in found.spells)
    return {
        "repeats": f"{found.repeats:,} in {found.seconds:g} s",
        "wall ms per repeat": (
            f"p50 {found.median_ms:.2f}  p99 {found.p99_ms:.2f}  max {found.max_ms:.2f}"
        ),
        "slow spells": (
            f"{len(found.spells)}"
            + (f", median {gap:.2f} s apart" if gap is not None else "")
            + (f", {lengths[0]:.0f}-{lengths[-1]:.0f} ms long" if lengths else "")
        ),
        "time slowed": f"{found.slow_share:.1%} to {found.spell_share:.1%}",
        "slow by the CPU clock": f"{found.slow_on_cpu_clock:.0%} of the slow repeats",
        "kernel ticks": "  ".join(f"{k} {v}" for k, v in found.kernel_ticks.items()),
        "spell starts (s)": " ".join(f"{s.start:.3f}" for s in found.spells),
    }


def _kernel_ticks() -> dict[str, int]:
    """Steal, irq and softirq ticks of all cores so far (zeros where /proc/stat is missing)."""
    if not bench_cpu.available():
        return {"steal": 0, "irq": 0, "softirq": 0}
    values = bench_cpu.all_cores_ticks()
    return {"steal": values[7], "irq": values[5], "softirq": values[6]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cpu", type=int, help="pin to this core (default: any)")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    for name, value in describe(jitter(args.seconds)).items():
        print(f"{name:22} {value}")


if __name__ == "__main__":
    main()
