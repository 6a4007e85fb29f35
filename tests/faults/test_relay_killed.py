"""The relay killed between publishing a batch (confirmed by the broker) and removing it from
the outbox (`PREPAY_FAULT_RELAY_EXIT_BEFORE_MARK`), then the service started again: downstream
sees each event id at least once, and after de-duplication by id exactly once; everything else
is a single clean worker's."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from e2e.conftest import Broker, ServiceProcess, postgres_schema, running_service
from e2e.reference import Model, interleaved

from faults.harness import assert_same_as_one_clean_worker, run_stream, set_up
from faults.workload import orders
from workers import faults

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

ORDERS = 40
CRASH_AFTER_EVENTS = 200


def restart_after_the_crash(service: ServiceProcess, codes: list[int | None]) -> None:
    assert service.process is not None
    deadline = time.monotonic() + 60
    while service.alive:
        assert time.monotonic() < deadline, "the relay never reached its crash point"
        time.sleep(0.05)
    codes.append(service.process.returncode)
    service.extra_env.pop(faults.RELAY_EXIT_BEFORE_MARK)
    service.start()
    service.wait_ready()


def test_relay_killed_between_publishing_and_removing(broker: Broker, tmp_path: Path) -> None:
    model = Model()
    setup, plans = orders(model, ORDERS)
    codes: list[int | None] = []
    env = {faults.RELAY_EXIT_BEFORE_MARK: str(CRASH_AFTER_EVENTS)}
    with (
        postgres_schema() as url,
        running_service(broker, url, tmp_path, env=env) as service,
    ):
        set_up(service, setup)
        sink, figures = run_stream(
            service,
            model,
            interleaved(plans, seed=9),
            faults=[(50 / model.event_count, lambda: restart_after_the_crash(service, codes))],
        )
        assert codes == [faults.EXIT_CODE]
        copies = Counter(event.id for event in sink.received)
        assert figures.duplicates > 0, "the crash re-sent nothing"
        assert set(copies.values()) <= {1, 2}
        assert_same_as_one_clean_worker(service, model, plans, sink)
        figures.notes["events_sent_twice"] = sum(1 for n in copies.values() if n == 2)
        print(figures.line("relay killed before removing"))
