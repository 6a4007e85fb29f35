"""`kill -9` in the middle of 2,000 commands over 200 orders: first one worker process (the
supervisor starts it again), later the whole service, parent and relay included (its workers
notice and stop, and `prepay serve` is started again). Nothing is lost, nothing done twice:
the end state is a single clean worker's, event for event."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e.conftest import Broker, ServiceProcess, postgres_schema, running_service
from e2e.reference import Model, interleaved, worker_pids

from faults.harness import assert_same_as_one_clean_worker, kill_hard, run_stream, set_up
from faults.workload import orders

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

ORDERS = 200
WORKERS = 2


def kill_one_worker(service: ServiceProcess, killed: list[int]) -> None:
    assert service.process is not None
    victim = min(worker_pids(service.process.pid))
    kill_hard(victim)
    killed.append(victim)


def kill_everything_and_restart(service: ServiceProcess, killed: list[int]) -> None:
    assert service.process is not None
    parent = service.process.pid
    workers = worker_pids(parent)
    kill_hard(parent)
    service.process.wait()
    killed.append(parent)
    # Orphaned, the workers stop by themselves rather than consume on for nobody.
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "workers outlived their supervisor"
        time.sleep(0.1)
    service.start()
    service.wait_ready()


def test_kill_9_mid_stream_then_restart(broker: Broker, tmp_path: Path) -> None:
    model = Model()
    setup, plans = orders(model, ORDERS)
    killed: list[int] = []
    with (
        postgres_schema() as url,
        running_service(broker, url, tmp_path, workers=WORKERS) as service,
    ):
        set_up(service, setup)
        sink, figures = run_stream(
            service,
            model,
            interleaved(plans, seed=6),
            faults=[
                (0.25, lambda: kill_one_worker(service, killed)),
                (0.6, lambda: kill_everything_and_restart(service, killed)),
            ],
        )
        assert len(killed) == 2
        assert figures.commands == 2000
        assert_same_as_one_clean_worker(service, model, plans, sink)
        figures.notes["kills"] = len(killed)
        print(figures.line("kill -9"))
