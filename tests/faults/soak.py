"""The soak: a long stream of commands through `prepay serve --workers 3` while a random worker
process is killed (SIGKILL) every few seconds; then everything is compared with a single
clean worker (the in-memory model) and reconciled, and the figures are printed.

    .venv/bin/python tests/faults/soak.py --commands 20000     # the full soak (minutes)

CI runs it small (tests/faults/test_soak.py), and with one random kill and one kill of the
whole service as the worker-kill test (tests/faults/test_worker_killed.py, 2,000 commands).

Figures: commands, kills, redeliveries (the broker's count of deliveries it made again, from
the management API), duplicates absorbed (deliveries the inbox recognised as already
processed: `prepay_commands_total{outcome="duplicate"}`, summed over every worker process,
killed ones included), duplicate events downstream (the relay's re-sends, de-duplicated by id),
and violations (differences from the model plus `prepay reconcile` violations): 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

if __name__ == "__main__":  # run as a script: import the tests' helpers as pytest would
    sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).parents[2])]

from e2e.conftest import Broker, ServiceProcess, postgres_schema, running_service
from e2e.reference import Model, interleaved, worker_pids

from faults.harness import differences, kill_hard, run_stream, set_up
from faults.workload import COMMANDS_PER_ORDER, orders
from workers import topology
from workers.reconcile import reconcile


@dataclass
class SoakFigures:
    commands: int
    orders: int
    workers: int
    kills: int  # worker processes killed (kill -9) at random
    service_kills: int  # the whole service killed (kill -9) and started again
    redeliveries: int
    redeliveries_seen_by_workers: int
    duplicates_absorbed: int
    duplicate_events_downstream: int
    events: int
    violations: int
    seconds: float
    commands_per_s: float

    def lines(self) -> list[str]:
        return [f"{name:>30}: {value}" for name, value in asdict(self).items()]


class Killer(threading.Thread):
    """Every `every` seconds (uniformly random within), SIGKILL one of the service's worker
    processes at random, among those that have run for `min_age` seconds: by then a worker is
    consuming, and the supervisor counts it healthy and starts it again at once. (Killing
    workers younger than that tests the supervisor's crash-loop back-off instead: restarts
    wait up to 30 s.)"""

    def __init__(
        self,
        service: ServiceProcess,
        every: tuple[float, float],
        seed: int,
        min_age: float,
        max_kills: int | None = None,
    ) -> None:
        super().__init__(name="soak-killer", daemon=True)
        self.service = service
        self.every = every
        self.min_age = min_age
        self.max_kills = max_kills
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.kills = 0

    def run(self) -> None:
        while not self.stop.wait(self.rng.uniform(*self.every)):
            if self.max_kills is not None and self.kills >= self.max_kills:
                return
            process = self.service.process
            if process is None or process.poll() is not None:
                continue
            grown = sorted(p for p in worker_pids(process.pid) if age(p) >= self.min_age)
            if grown:
                kill_hard(self.rng.choice(grown))
                self.kills += 1


def age(pid: int) -> float:
    """Seconds since the process started (Linux /proc); 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return 0.0
    started = int(stat.rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
    return uptime - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def metric_sum(url: str, name: str, labels: str = "") -> int:
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and labels in line and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def broker_redeliveries(broker: Broker, amqp_url: str, shards: int) -> int:
    """What the management API counts, once its statistics caught up (every 5 s)."""
    vhost = urllib.parse.urlsplit(amqp_url).path[1:]
    time.sleep(6)
    total = 0
    for shard in range(shards):
        name = urllib.parse.quote(topology.shard_queue(shard), safe="")
        queue = broker.management("GET", f"/api/queues/{vhost}/{name}")
        total += int(queue.get("message_stats", {}).get("redeliver", 0))
    return total


class Tally:
    """The workers' counters from the service's /metrics. They start again from 0 when the
    whole service is restarted, so `bank` keeps what was counted before such a restart (up
    to the moment just before it)."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.banked = {"duplicates": 0, "redeliveries": 0}

    def now(self) -> dict[str, int]:
        return {
            "duplicates": metric_sum(self.url, "prepay_commands_total", 'outcome="duplicate"'),
            "redeliveries": metric_sum(self.url, "prepay_redeliveries_total"),
        }

    def bank(self) -> None:
        for name, value in self.now().items():
            self.banked[name] += value

    def total(self) -> dict[str, int]:
        return {name: self.banked[name] + value for name, value in self.now().items()}


def restart_hard(service: ServiceProcess) -> None:
    """kill -9 the whole service (the supervisor and its relay); its workers, orphaned, stop
    by themselves; then `prepay serve` is started again."""
    assert service.process is not None
    parent = service.process.pid
    workers = worker_pids(parent)
    kill_hard(parent)
    service.process.wait()
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        if time.monotonic() > deadline:
            raise AssertionError("workers outlived their supervisor")
        time.sleep(0.1)
    service.start()
    service.wait_ready()


def run(
    commands: int = 20_000,
    workers: int = 3,
    kill_every: tuple[float, float] = (2.0, 5.0),
    seed: int = 2026,
    min_age: float = 10.0,
    max_kills: int | None = None,
    restarts_at: Sequence[float] = (),
    broker_stats: bool = True,
    log_dir: Path | None = None,
    timeout: float = 3600.0,
) -> tuple[SoakFigures, list[str]]:
    """Run the soak; returns its figures and the violations found (none, if all is well).
    Besides the random worker kills, the whole service is killed and started again when the
    given fractions of the expected events have arrived downstream (`restarts_at`)."""
    broker = Broker.from_environment()
    problem = broker.check()
    if problem is not None:
        raise RuntimeError(problem)
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="prepay-soak-"))
    model = Model()
    setup, plans = orders(model, commands // COMMANDS_PER_ORDER)
    steps = interleaved(plans, seed)
    port = free_port()
    env = {"PREPAY_METRICS_PORT": str(port)}
    with (
        postgres_schema() as url,
        running_service(broker, url, log_dir, workers, env=env) as service,
    ):
        set_up(service, setup)
        tally = Tally(port)
        restarts = [0]

        def restart() -> None:
            tally.bank()
            restart_hard(service)
            restarts[0] += 1

        killer = Killer(service, kill_every, seed, min_age, max_kills)
        killer.start()
        started = time.monotonic()
        try:
            faults = [(fraction, restart) for fraction in restarts_at]
            sink, figures = run_stream(service, model, steps, faults, timeout=timeout)
        finally:
            killer.stop.set()
            killer.join()
        seconds = time.monotonic() - started
        counted = tally.total()
        # The management API's statistics lag by up to 5 s: worth the wait only when asked.
        redeliveries = broker_redeliveries(broker, service.amqp_url, 4) if broker_stats else -1
        found = differences(service, model, plans, sink)
        reconciled = reconcile(service.engine)
        found += [f"reconcile: {v.order_id} {v.code} {v.message}" for v in reconciled.violations]
    result = SoakFigures(
        commands=len(steps),
        orders=len(plans),
        workers=workers,
        kills=killer.kills,
        service_kills=restarts[0],
        redeliveries=redeliveries,
        redeliveries_seen_by_workers=counted["redeliveries"],
        duplicates_absorbed=counted["duplicates"],
        duplicate_events_downstream=figures.duplicates,
        events=figures.events,
        violations=len(found),
        seconds=round(seconds, 1),
        commands_per_s=round(len(steps) / seconds, 1),
    )
    return result, found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--kill-every", type=float, nargs=2, default=(2.0, 5.0), metavar=("MIN", "MAX")
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--min-age", type=float, default=10.0, help="kill only workers this many seconds old"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures, found = run(
        args.commands, args.workers, tuple(args.kill_every), args.seed, args.min_age
    )
    if args.json:
        print(json.dumps(asdict(figures)))
    else:
        print("\n".join(figures.lines()))
    for line in found[:20]:
        print("violation:", line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
