"""Where the machine's CPU went during a benchmark, by part: the service's workers, its
supervisor (which runs the relay), the broker, PostgreSQL, and the load generator.

On one machine every part shares the same cores, so a latency figure means little without
knowing how busy the machine was and who kept it busy (docs/performance.md, the eighth
machine: at half the maximum rate every part spent about twice its full-speed CPU per
command). Read from Linux's `/proc`; elsewhere there is nothing to read and no figures are
given. A process's figure includes its children that ended and were reaped meanwhile:
PostgreSQL's short-lived backends (the monitor's, for one) are counted by the postmaster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
# The processes of the broker and of the database, by the name the kernel gives them.
BROKER_NAMES = frozenset({"beam.smp"})
DATABASE_NAMES = frozenset({"postgres"})


@dataclass(frozen=True, slots=True)
class Sample:
    # (pid, start time): (part, clock ticks so far). The start time tells a pid reused by a
    # new process from the one sampled before.
    ticks: dict[tuple[int, int], tuple[str, int]]
    machine_busy: int  # clock ticks of all cores so far, spent busy
    machine_total: int  # and spent in all (steal left out of both: not this machine's work)


def available() -> bool:
    return (PROC / "stat").is_file()


def sample(service_pid: int, load_generator_pid: int | None = None) -> Sample:
    """CPU used so far by each process of the parts named in the module's docstring."""
    load_generator_pid = os.getpid() if load_generator_pid is None else load_generator_pid
    ticks: dict[tuple[int, int], tuple[str, int]] = {}
    for (pid, started), (name, parent, used) in _processes().items():
        part = _part(pid, name, parent, service_pid, load_generator_pid)
        if part is not None:
            ticks[pid, started] = (part, used)
    busy, total = _machine()
    return Sample(ticks, busy, total)


def per_command(before: Sample, after: Sample, commands: int) -> dict[str, float]:
    """Milliseconds of CPU per command, by part and in all, and `machine_busy_pct`: how busy
    the whole machine was (100 per core). A process that started in between counts from
    zero; one that ended in between is counted by its parent if that one is in a part (the
    postmaster for PostgreSQL's backends and autovacuum workers), or not at all. Counted
    through its parent, a process that was already running at the first sample counts whole,
    its time before that sample too: an overcount, small for the parts' short-lived
    processes."""
    seconds_per_tick = 1 / os.sysconf("SC_CLK_TCK")
    by_part: dict[str, float] = {}
    for key, (part, used) in after.ticks.items():
        earlier = before.ticks.get(key)
        spent = used - (earlier[1] if earlier is not None and earlier[0] == part else 0)
        by_part[part] = by_part.get(part, 0.0) + spent * seconds_per_tick
    figures = {part: round(s * 1000 / commands, 3) for part, s in sorted(by_part.items())}
    figures["all"] = round(sum(by_part.values()) * 1000 / commands, 3)
    total = after.machine_total - before.machine_total
    cores = os.cpu_count() or 1
    busy = (after.machine_busy - before.machine_busy) / total if total else 0.0
    figures["machine_busy_pct"] = round(busy * 100 * cores, 1)
    return figures


def _part(
    pid: int, name: str, parent: int, service_pid: int, load_generator_pid: int
) -> str | None:
    if pid == service_pid:
        return "supervisor and relay"
    if parent == service_pid:  # the workers, and multiprocessing's idle resource tracker
        return "workers"
    if pid == load_generator_pid:
        return "load generator"
    if name in BROKER_NAMES:
        return "broker"
    if name in DATABASE_NAMES:
        return "postgresql"
    return None


def _processes() -> dict[tuple[int, int], tuple[str, int, int]]:
    """(pid, start time): (name, parent pid, clock ticks of it and its reaped children), for
    every process still there."""
    found: dict[tuple[int, int], tuple[str, int, int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # The name is in parentheses and may hold spaces; the fields after it are plain.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        used = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        found[int(entry.name), int(fields[19])] = (name, int(fields[1]), used)
    return found


def all_cores_ticks() -> list[int]:
    """The clock ticks of all cores since boot, as /proc/stat's first line gives them: user
    nice system idle iowait irq softirq steal guest guest_nice."""
    return [int(x) for x in (PROC / "stat").read_text().splitlines()[0].split()[1:]]


def _machine() -> tuple[int, int]:
    """(busy, all) clock ticks of all cores since boot: idle and waiting for I/O are idle."""
    values = all_cores_ticks()
    # user nice system idle iowait irq softirq; steal (the hypervisor ran someone else) is
    # left out, and guest time is already inside user and nice.
    user, nice, system, idle, iowait, irq, softirq = values[:7]
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait
