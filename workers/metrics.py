"""Prometheus metrics and the health endpoints, served over HTTP from a daemon thread.

`/metrics` (Prometheus text format), `/healthz` (the process loop is alive) and `/readyz`
(broker and database reachable; 503 while shutting down).

With several worker processes (`prepay serve --workers N`) the supervisor serves the one
endpoint and the workers only count: prometheus_client's multiprocess mode, switched on by
`PROMETHEUS_MULTIPROC_DIR` before this module is first imported (`workers.serving`), keeps
every process's values in memory-mapped files there, and a scrape adds them up. Counters and
histograms are summed over all processes, dead ones included, so a restarted worker's counts
never go backwards; the outbox gauges are set by the supervisor alone ("max" over the
processes, whose others hold 0)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REGISTRY = CollectorRegistry(auto_describe=True)

COMMANDS = Counter(
    "prepay_commands_total", "Commands handled, by type and outcome",
    ["type", "outcome"], registry=REGISTRY,
)  # fmt: skip
LATENCY = Histogram(
    "prepay_command_seconds", "Time to handle one command (parse, apply, commit)",
    ["type"], registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)  # fmt: skip
BATCH_COMMANDS = Histogram(
    "prepay_batch_commands", "Commands per database transaction (group commit)",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000), registry=REGISTRY,
)  # fmt: skip
# Its rate per worker process is the share of the time the consumer is busy: the capacity
# signal. At a steady half of the burst maximum a worker was already 94-98 % busy (small
# batches cost more per command); above about 0.8 the latency tail grows fast.
CONSUMER_BUSY = Counter(
    "prepay_consumer_busy_seconds_total",
    "Time the consumers spent handling batches (parse, apply, commit, ack)", registry=REGISTRY,
)  # fmt: skip
REJECTIONS = Counter(
    "prepay_rejections_total", "Commands answered with command.rejected, by code",
    ["code"], registry=REGISTRY,
)  # fmt: skip
REDELIVERIES = Counter(
    "prepay_redeliveries_total", "Deliveries the broker marked as redelivered", registry=REGISTRY
)
DEAD_LETTERS = Counter(
    "prepay_dead_letters_total", "Messages parked in the dead-letter queue", registry=REGISTRY
)
TRANSITIONS = Counter(
    "prepay_state_transitions_total", "Order state transitions",
    ["from_state", "to_state"], registry=REGISTRY,
)  # fmt: skip
EVENTS_PUBLISHED = Counter(
    "prepay_events_published_total", "Events the relay published (confirmed)", registry=REGISTRY
)
OUTBOX_PENDING = Gauge(
    "prepay_outbox_pending", "Events committed but not yet published",
    registry=REGISTRY, multiprocess_mode="max",
)  # fmt: skip
OUTBOX_OLDEST_AGE = Gauge(
    "prepay_outbox_oldest_age_seconds", "Age of the oldest unpublished event",
    registry=REGISTRY, multiprocess_mode="max",
)  # fmt: skip


def exposition() -> bytes:
    """The metrics in Prometheus text format: this process's, or with several worker
    processes, all of theirs added up."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


class Health:
    """What the probes report; the service updates it."""

    def __init__(self) -> None:
        self.shutting_down = False
        self.checks: dict[str, Callable[[], bool]] = {}  # readiness
        self.liveness: dict[str, Callable[[], bool]] = {}

    def ready(self) -> tuple[bool, dict[str, bool]]:
        results = _run(self.checks)
        return (not self.shutting_down and all(results.values())), results

    def alive(self) -> tuple[bool, dict[str, bool]]:
        results = _run(self.liveness)
        return all(results.values()), results


def _run(checks: dict[str, Callable[[], bool]]) -> dict[str, bool]:
    results = {}
    for name, check in checks.items():
        try:
            results[name] = bool(check())
        except Exception:  # a probe must answer, whatever the dependency does
            results[name] = False
    return results


def _report(results: dict[str, bool]) -> str:
    return "".join(f"{name} {'ok' if ok else 'down'}\n" for name, ok in results.items())


def serve(port: int, health: Health, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Start the HTTP endpoint on a daemon thread; port 0 picks a free port
    (read it back from `server.server_address[1]`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                self._send(200, exposition(), CONTENT_TYPE_LATEST)
            elif self.path.startswith("/healthz"):
                ok, results = health.alive()
                self._send(200 if ok else 503, (_report(results) or "ok\n").encode(), "text/plain")
            elif self.path.startswith("/readyz"):
                ok, results = health.ready()
                body = _report(results)
                if health.shutting_down:
                    body += "shutting down\n"
                self._send(200 if ok else 503, body.encode(), "text/plain")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # probes are not news
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="prepay-metrics", daemon=True).start()
    return server
