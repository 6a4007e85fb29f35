"""Cross-cutting policies as small named hooks (dramatiq-style), not `if`s in the loop:
metrics for each handled command and batch, and the outbox gauges."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from workers import metrics
from workers.consumer import Delivery
from workers.outbox import oldest_pending_age, pending_count
from workers.processing import Result
from workflows import events as ev


def record_batch(commands: int, seconds: float) -> None:
    metrics.BATCH_COMMANDS.observe(commands)
    metrics.CONSUMER_BUSY.inc(seconds)


def record_result(result: Result, delivery: Delivery, seconds: float) -> None:
    command_type = result.command_type or "unreadable"
    metrics.COMMANDS.labels(command_type, result.kind).inc()
    metrics.LATENCY.labels(command_type).observe(seconds)
    if delivery.redelivered:
        metrics.REDELIVERIES.inc()
    if result.kind == "dead":
        metrics.DEAD_LETTERS.inc()
    if result.outcome is None:
        return
    if result.outcome.error is not None:
        metrics.REJECTIONS.labels(result.outcome.error.code).inc()
    for event in result.outcome.events:
        if event.type == ev.ORDER_STATE_CHANGED:
            metrics.TRANSITIONS.labels(event.data["from"], event.data["to"]).inc()


def watch_outbox(engine: Engine, stop: threading.Event, every_s: float = 5.0) -> threading.Thread:
    """Refresh the outbox gauges (pending rows, age of the oldest) on a daemon thread, now
    and then every `every_s` until `stop` is set."""

    def loop() -> None:
        while True:
            try:
                with engine.connect() as connection:
                    metrics.OUTBOX_PENDING.set(pending_count(connection))
                    age = oldest_pending_age(connection)
                    metrics.OUTBOX_OLDEST_AGE.set(max(0.0, age.total_seconds()) if age else 0.0)
            except Exception:  # the gauges go stale rather than kill anything
                pass
            if stop.wait(every_s):
                return

    thread = threading.Thread(target=loop, name="prepay-outbox-gauges", daemon=True)
    thread.start()
    return thread
