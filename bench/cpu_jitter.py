"""The machine's own hiccups: a fixed piece of pure-Python work, repeated every few ms on an
otherwise idle machine, and how often it takes several times its usual CPU time.

    .venv/bin/python bench/cpu_jitter.py [--seconds 15] [--cpu N]

Run it with nothing else running. On a machine without hiccups the slowest repeats stay near
the median. On the eighth development machine (a KVM guest), both cores slowed about
tenfold together, for 50-150 ms every 1.3-1.7 s: a step of the worker that takes 2 ms took
20-40 ms then. No service can keep a p99 under 50 ms through that, which is why it is
measured apart from `prepay bench` (docs/performance.md, the eighth machine).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cpu", type=int, help="pin to this core (default: any)")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    repeats = measure(args.seconds)
    cpus = sorted(cpu for _, cpu in repeats)
    median = cpus[len(cpus) // 2]
    slow = [cpu for cpu in cpus if cpu >= SLOW * median]
    groups = hiccups(repeats, median)
    print(f"repeats                {len(repeats):,}")
    print(f"CPU ms per repeat      p50 {median:.2f}  p99 {cpus[int(len(cpus) * 0.99)]:.2f}  "
          f"max {cpus[-1]:.2f}")  # fmt: skip
    print(f"slow (>= {SLOW:g}x p50)      {len(slow)} ({len(slow) / len(cpus):.1%} of repeats)")
    print(f"hiccups                {len(groups)} in {args.seconds:g} s")
    if len(groups) > 1:
        starts = [group[0] for group in groups]
        gaps = sorted(b - a for a, b in itertools.pairwise(starts))
        print(f"time between hiccups   median {gaps[len(gaps) // 2]:.2f} s")
        print("hiccup starts (s)      " + " ".join(f"{s:.2f}" for s in starts))


if __name__ == "__main__":
    main()
