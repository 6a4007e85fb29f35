"""`prepay serve`: logging, migrations, the HTTP endpoint, then a supervisor that runs the
outbox relay and N worker processes (consumers), one by default.

Why the relay has a process of its own even beside a single worker: in one process the
consumer and the relay share one interpreter lock, and each waited for the other. Apart,
measured on SQLite with one worker (alternating runs, the same build): 2,229-2,298 against
1,776-1,870 commands/s at full speed, and at 700 commands/s p99 command-to-event 52-55
against 76-149 ms; on PostgreSQL at 600/s p99 173-181 against 254-315 ms. It costs a second
process (about 100 MB) and the supervisor restarts a worker that dies.

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
    with _shared_metrics():
        return _run(settings, workers)


@contextmanager
def _shared_metrics() -> Iterator[None]:
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

    from workers import db, logs
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
        supervisor = Supervisor(settings, workers, monitor)
        monitor.ready_when("broker", supervisor.consumers_connected)
        try:
            monitor.start()
        except OSError as error:
            log.error("metrics.port_unavailable", port=settings.metrics_port, error=str(error))
            return 1
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
