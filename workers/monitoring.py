"""The running service's HTTP endpoint: `/metrics`, `/healthz` and `/readyz`, with the
probes behind them and the outbox gauges kept fresh.

- `/healthz` answers 200 while the process's main loop keeps beating (`beat()`, called by
  the service's or the supervisor's loop every fraction of a second).
- `/readyz` answers 200 when the command consumers hold a broker connection and the database
  answers `SELECT 1`, and 503 from the moment a stop was signalled (`stopping()`), while the
  in-flight commands are finished, so no orchestrator counts on a process that is leaving.

The probes open a fresh database connection each time (no pool), with a short connect timeout
on PostgreSQL: a probe reports whether the database can be reached now, not whether a pooled
connection once could, and never hangs the way the database might.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer

import structlog
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from workers import db, metrics, observe
from workers.config import Settings

log = structlog.get_logger("prepay.monitoring")

PROBE_CONNECT_TIMEOUT_S = 3
# The loop beats at least every half second; this much silence means it is stuck.
STALE_AFTER_S = 10.0


def probe_url(database_url: str) -> URL:
    url = db.normalize_url(database_url)
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": str(PROBE_CONNECT_TIMEOUT_S)})
    return url


class Monitor:
    def __init__(self, settings: Settings, *, outbox_every_s: float = 5.0) -> None:
        self.port = settings.metrics_port
        self.outbox_every_s = outbox_every_s
        self.health = metrics.Health()
        # Read-only: on SQLite its transactions start DEFERRED and never take the write lock.
        self.engine = db.make_engine(
            probe_url(settings.database_url),
            poolclass=NullPool,
            execution_options={db.READ_ONLY: True},
        )
        self.server: ThreadingHTTPServer | None = None
        self._stop = threading.Event()
        self._last_beat = time.monotonic()
        self.health.liveness["loop"] = self._beating
        self.ready_when("database", self._database_answers)

    def ready_when(self, name: str, check: Callable[[], bool]) -> None:
        """Add a readiness probe (register them all before `start`)."""
        self.health.checks[name] = check

    def start(self) -> int:
        """Serve the endpoint (raises OSError when the port is taken); returns the port."""
        self.server = metrics.serve(self.port, self.health)
        port = int(self.server.server_address[1])
        observe.watch_outbox(self.engine, self._stop, self.outbox_every_s)
        log.info("metrics.listening", port=port, url=f"http://127.0.0.1:{port}/metrics")
        return port

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    def stopping(self) -> None:
        """Safe in a signal handler: one assignment."""
        self.health.shutting_down = True

    def close(self) -> None:
        self._stop.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.engine.dispose()

    def _beating(self) -> bool:
        return time.monotonic() - self._last_beat < STALE_AFTER_S

    def _database_answers(self) -> bool:
        with self.engine.connect() as connection:
            return bool(connection.execute(text("SELECT 1")).scalar_one() == 1)
