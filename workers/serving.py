"""`prepay serve`: logging, migrations, the HTTP endpoint, then the service in this process
(one worker) or a supervisor with N worker processes.

Metrics from N processes at one `/metrics`: prometheus_client's multiprocess mode. This module
creates a private temporary directory and points `PROMETHEUS_MULTIPROC_DIR` at it before
anything imports prometheus_client (the library picks its value store at import, so this
module imports nothing that loads it until then); the spawned workers inherit the variable
and write their counters there, and the supervisor's endpoint adds them up at each scrape
(`workers.metrics.exposition`). The directory is always a fresh one, never an inherited one:
files left by an earlier run would be added in. It is removed when the service stops.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from workers.config import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def run(settings: Settings, workers: int = 1) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit status."""
    with _shared_metrics(workers > 1):
        return _run(settings, workers)


@contextmanager
def _shared_metrics(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    if "prometheus_client" in sys.modules:
        raise RuntimeError(f"{MULTIPROC_ENV} must be set before prometheus_client is imported")
    directory = tempfile.mkdtemp(prefix="prepay-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def _run(settings: Settings, workers: int) -> int:
    import structlog

    from workers import db, logs, service
    from workers.monitoring import Monitor
    from workers.supervisor import Supervisor

    log = structlog.get_logger("prepay.serve")
    logs.configure(settings.log_level)
    db.upgrade(settings.database_url)
    if (problem := _broker_preflight(settings)) is not None:
        log.error("serve.cannot_start", reason=problem)
        return 1
    monitor = Monitor(settings)
    try:
        if workers == 1:
            worker = service.build(settings)
            monitor.ready_when("broker", worker.consumer.connected.is_set)
        else:
            supervisor = Supervisor(settings, workers, monitor)
            monitor.ready_when("broker", supervisor.consumers_connected)
        try:
            monitor.start()
        except OSError as error:
            log.error("metrics.port_unavailable", port=settings.metrics_port, error=str(error))
            return 1
        if workers == 1:
            service.run_until_signalled(worker, monitor)
            return 0
        return supervisor.run()
    finally:
        monitor.close()


def _broker_preflight(settings: Settings) -> str | None:
    """Declare the topology once before starting: a broker that can never serve prepay (the
    consistent-hash plugin missing) is reported plainly instead of retried forever. A broker
    that is merely down is not a problem here: the workers wait for it."""
    from pika.exceptions import AMQPError

    from workers import amqp, topology

    try:
        connection = amqp.connect(settings.amqp_url)
    except (AMQPError, OSError):
        return None
    try:
        topology.declare(connection.channel(), settings.shards)
    except topology.MissingPlugin as error:
        return str(error)
    except AMQPError:
        return None
    finally:
        if connection.is_open:
            connection.close()
    return None
