"""The machine's own hiccups: a fixed piece of pure-Python work, repeated every few ms on an
otherwise idle machine, and how often it takes several times its usual CPU time.

    .venv/bin/python bench/cpu_jitter.py [--seconds 15] [--cpu N]

Run it with nothing else running. On a machine without hiccups the slowest repeats stay near
the median. On the eighth development machine (a KVM guest), both cores slowed about
tenfold together, for 50-150 ms every 1.3-1.7 s: a step of the worker that takes 2 ms took
20-40 ms then, and 3-9 % of the time was spent so: more than a p99 may, before any load.
Measured apart from `prepay bench` so that the machine's share of a tail can be told from
the service's (docs/performance.md, the eighth machine); `bench/targets.py` runs it first.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from dataclasses import dataclass

WORK = 20_000  # loop turns per repeat: about 1.5 ms of CPU on the development machines
PAUSE_S = 0.005  # between repeats, so that the machine is mostly idle
SLOW = 3.0  # a repeat this many times the median is a hiccup


def work() -> int:
    total = 0
    for i in range(WORK):
        total += i * i
    return total


def measure(seconds: float) -> list[tuple[float, float]]:
    """(start, CPU ms) of each repeat, start in seconds from the first."""
    work()  # warm
    repeats: list[tuple[float, float]] = []
    started = time.monotonic()
    while (now := time.monotonic()) - started < seconds:
        cpu = time.thread_time()
        work()
        repeats.append((now - started, (time.thread_time() - cpu) * 1000))
        time.sleep(PAUSE_S)
    return repeats


def hiccups(repeats: list[tuple[float, float]], median: float) -> list[list[float]]:
    """Start times of slow repeats, grouped into hiccups (slow repeats within 0.3 s)."""
    groups: list[list[float]] = []
    for start, cpu in repeats:
        if cpu < SLOW * median:
            continue
        if groups and start - groups[-1][-1] < 0.3:
            groups[-1].append(start)
        else:
            groups.append([start])
    return groups


@dataclass(frozen=True)
class Jitter:
    seconds: float
    repeats: int
    median_ms: float
    p99_ms: float
    max_ms: float
    slow_share: float  # of repeats, at SLOW x the median or more
    spells: list[float]  # start of each hiccup, seconds from the first repeat

    @property
    def median_gap_s(self) -> float | None:
        gaps = sorted(b - a for a, b in itertools.pairwise(self.spells))
        return gaps[len(gaps) // 2] if gaps else None

    @property
    def hiccups(self) -> bool:
        """Whether a 1 % tail is set by the machine: its p99 repeat is a hiccup."""
        return self.p99_ms >= SLOW * self.median_ms


def jitter(seconds: float) -> Jitter:
    repeats = measure(seconds)
    cpus = sorted(cpu for _, cpu in repeats)
    median = cpus[len(cpus) // 2]
    slow = sum(1 for cpu in cpus if cpu >= SLOW * median)
    return Jitter(
        seconds=seconds,
        repeats=len(repeats),
        median_ms=median,
        p99_ms=cpus[int(len(cpus) * 0.99)],
        max_ms=cpus[-1],
        slow_share=slow / len(cpus),
        spells=[group[0] for group in hiccups(repeats, median)],
    )


def describe(found: Jitter) -> list[str]:
    gap = found.median_gap_s
    return [
        f"repeats                {found.repeats:,}",
        f"CPU ms per repeat      p50 {found.median_ms:.2f}  p99 {found.p99_ms:.2f}  "
        f"max {found.max_ms:.2f}",
        f"slow (>= {SLOW:g}x p50)      {found.slow_share:.1%} of repeats",
        f"hiccups                {len(found.spells)} in {found.seconds:g} s"
        + (f", median {gap:.2f} s apart" if gap is not None else ""),
        "hiccup starts (s)      " + " ".join(f"{s:.2f}" for s in found.spells),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cpu", type=int, help="pin to this core (default: any)")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    print("\n".join(describe(jitter(args.seconds))))


if __name__ == "__main__":
    main()
