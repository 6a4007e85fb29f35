"""PostgreSQL unreachable for a few seconds in the middle of a stream (a proxy between the
service and the database resets every connection and turns new ones away; nobody else using
the database notices). Commands wait and retry, in place and then by handing their messages
back; none is rejected or dead-lettered for it; the end state is a single clean worker's."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e.conftest import Broker, postgres_schema, running_service
from e2e.reference import Model, interleaved

from faults.harness import TcpProxy, assert_same_as_one_clean_worker, proxied, run_stream, set_up
from faults.workload import orders

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

ORDERS = 40
DOWN_S = 4.0
RATE = 80.0


def cut_off(proxy: TcpProxy, seconds: float, what: dict[str, int]) -> None:
    what["connections_reset"] = proxy.cut()
    time.sleep(seconds)
    proxy.restore()
    what["connections_turned_away"] = proxy.turned_away


def test_database_unreachable_mid_stream(broker: Broker, tmp_path: Path) -> None:
    model = Model()
    setup, plans = orders(model, ORDERS)
    outage: dict[str, int] = {}
    with postgres_schema() as url, proxied(url) as (proxy, through_proxy):
        # Four in-place attempts (0.35 s) are fewer than the outage lasts: the consumer also
        # has to hand its messages back and take them again.
        env = {"PREPAY_RETRY_ATTEMPTS": "4"}
        with running_service(broker, through_proxy, tmp_path, env=env) as service:
            set_up(service, setup)
            sink, figures = run_stream(
                service,
                model,
                interleaved(plans, seed=8),
                faults=[(0.3, lambda: cut_off(proxy, DOWN_S, outage))],
                rate=RATE,
            )
            assert service.alive
            log = service.log_path.read_text()
            # The checks read past the proxy, on connections of their own.
            service.engine.dispose()
            service._engine, service.database_url = None, url
            assert_same_as_one_clean_worker(service, model, plans, sink)
    assert outage["connections_reset"] > 0 and outage["connections_turned_away"] > 0
    assert '"consumer.paused"' in log and '"command.dead_lettered"' not in log
    figures.notes.update(outage)
    figures.notes["pauses"] = log.count('"consumer.paused"')
    print(figures.line("database outage"))
