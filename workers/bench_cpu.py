"""Where the machine's CPU went during a benchmark, by part: the service's workers, its
supervisor (which runs the relay), the broker, PostgreSQL, and the load generator.

On one machine every part shares the same cores, so a latency figure means little without
knowing how busy the machine was and who kept it busy: at half the maximum rate the broker
and the load generator spent three to four times as much CPU per command as at full speed
(they batch less), and that, not the worker alone, is what filled the machine. Read from
Linux's `/proc`; elsewhere there is nothing to read and no figures are given.
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
    ticks: dict[int, tuple[str, int]]  # pid: (part, user and system clock ticks so far)
    machine_busy: int  # clock ticks of all cores, busy and in all
    machine_total: int


def available() -> bool:
    return (PROC / "stat").is_file()


def sample(service_pid: int, load_generator_pid: int | None = None) -> Sample:
    """CPU used so far by each process of the parts named in the module's docstring."""
    load_generator_pid = os.getpid() if load_generator_pid is None else load_generator_pid
    ticks: dict[int, tuple[str, int]] = {}
    for pid, (name, parent, used) in _processes().items():
        part = _part(pid, name, parent, service_pid, load_generator_pid)
        if part is not None:
            ticks[pid] = (part, used)
    busy, total = _machine()
    return Sample(ticks, busy, total)


def per_command(before: Sample, after: Sample, commands: int) -> dict[str, float]:
    """Milliseconds of CPU per command, by part and in all, and `machine_busy_pct`: how busy
    the whole machine was (100 per core). A process that started in between counts from
    zero; one that ended in between is not seen (none of the parts does, while measured)."""
    seconds_per_tick = 1 / os.sysconf("SC_CLK_TCK")
    by_part: dict[str, float] = {}
    for pid, (part, used) in after.ticks.items():
        earlier = before.ticks.get(pid)
        spent = used - (earlier[1] if earlier is not None and earlier[0] == part else 0)
        by_part[part] = by_part.get(part, 0.0) + spent * seconds_per_tick
    figures = {part: round(s * 1000 / commands, 3) for part, s in sorted(by_part.items())}
    figures["all"] = round(sum(by_part.values()) * 1000 / commands, 3)
    total = after.machine_total - before.machine_total
    cores = os.cpu_count() or 1
    busy = (after.machine_busy - before.machine_busy) / total if total else 0.0
    figures["machine_busy_pct"] = round(busy * 100 * cores, 1)
    return figures


def _part(pid: int, name: str, parent: int, service_pid: int, generator_pid: int) -> str | None:
    if pid == service_pid:
        return "supervisor and relay"
    if parent == service_pid:
        return "workers"
    if pid == generator_pid:
        return "load generator"
    if name in BROKER_NAMES:
        return "broker"
    if name in DATABASE_NAMES:
        return "postgresql"
    return None


def _processes() -> dict[int, tuple[str, int, int]]:
    """pid: (name, parent pid, user + system clock ticks), for every process still there."""
    found: dict[int, tuple[str, int, int]] = {}
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
        found[int(entry.name)] = (name, int(fields[1]), int(fields[11]) + int(fields[12]))
    return found


def _machine() -> tuple[int, int]:
    """(busy, all) clock ticks of all cores since boot: idle and waiting for I/O are idle."""
    values = [int(x) for x in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    return total - idle, total
