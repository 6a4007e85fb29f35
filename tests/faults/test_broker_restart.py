"""RabbitMQ stopped and started in the middle of a stream (`rabbitmqctl stop_app` / `start_app`):
the worker and the relay reconnect by themselves, the upstream re-sends what the broker did
not confirm, and the end state is a single clean worker's, with every event delivered."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e.conftest import Broker, running_service
from e2e.reference import Model, interleaved

from faults.harness import (
    assert_same_as_one_clean_worker,
    rabbitmqctl,
    restart_broker,
    run_stream,
    set_up,
)
from faults.workload import orders

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

ORDERS = 40
DOWN_S = 3.0
RATE = 80.0  # commands per second


def test_broker_stopped_and_started_mid_stream(broker: Broker, tmp_path: Path) -> None:
    rabbitmqctl()  # fails (CI) or skips before anything starts when it is missing
    model = Model()
    setup, plans = orders(model, ORDERS)
    url = f"sqlite:///{tmp_path / 'prepay.db'}"
    with running_service(broker, url, tmp_path) as service:
        set_up(service, setup)
        sink, figures = run_stream(
            service,
            model,
            interleaved(plans, seed=7),
            faults=[(0.3, lambda: restart_broker(broker, DOWN_S))],
            rate=RATE,  # still publishing when the broker goes
        )
        assert figures.publisher_resends > 0
        assert service.alive
        assert_same_as_one_clean_worker(service, model, plans, sink)
        figures.notes["sink_reconnects"] = sink.reconnects
        print(figures.line("broker restart"))
