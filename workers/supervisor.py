"""`prepay serve --workers N`: N consumer processes on one machine, one relay, restarts.

Each worker process consumes its share of the shard queues (`topology.shards_of`), so the
commands of one order always reach the same process and take effect in publish order. The
parent runs the one outbox relay (events leave in the order they were recorded, whichever
worker recorded them) and starts a worker again when it dies, with a growing pause if it
keeps dying right after its start. SIGTERM or SIGINT stops the workers (each finishes its
in-flight commands and hands back the rest), then the relay publishes what they committed.

Each worker mirrors whether its consumer holds a broker connection into a flag in shared
memory, so the supervisor's `/readyz` can answer for all of them.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from workers import db, logs, metrics, service
from workers.config import Settings
from workers.kicks import Kicks, kicker
from workers.relay import Relay

if TYPE_CHECKING:
    from workers.monitoring import Monitor

log = structlog.get_logger("prepay.supervisor")

# A worker that lived this long before dying was healthy: restart it without delay.
_HEALTHY_AFTER_S = 10.0
_FIRST_RESTART_DELAY_S = 0.5
_MAX_RESTART_DELAY_S = 30.0
_STOP_TIMEOUT_S = 30.0


def run_worker(
    settings: Settings,
    index: int,
    count: int,
    connected: Any = None,
    kicks: Connection | None = None,
) -> None:
    """The body of one worker process: consumers only, the parent relays."""
    logs.configure(settings.log_level)  # a spawned interpreter starts unconfigured
    worker = service.build(
        settings,
        worker_index=index,
        worker_count=count,
        with_relay=False,
        on_batch_committed=kicker(kicks) if kicks is not None else None,
    )
    if connected is not None:
        _mirror(worker.consumer.connected, connected, worker.consumer.stop)
    _stop_when_orphaned()
    service.run_until_signalled(worker)


def _stop_when_orphaned() -> None:
    """A worker whose supervisor died without stopping it (kill -9) stops itself gracefully,
    rather than consume on as an orphan that nobody relays for, restarts or stops, holding its
    shard queues against the workers of the next `prepay serve`."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        log.warning("worker.orphaned", parent_pid=parent.pid)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="prepay-parent-watch", daemon=True).start()


def _mirror(event: threading.Event, flag: Any, stop: threading.Event) -> None:
    """Copy the consumer's connected event into the flag the supervisor reads."""

    def loop() -> None:
        while not stop.wait(0.1):
            flag.value = int(event.is_set())
        flag.value = 0

    threading.Thread(target=loop, name="prepay-connected", daemon=True).start()


@dataclass
class _Slot:
    index: int
    connected: Any  # multiprocessing Value: the worker's consumer holds a broker connection
    process: BaseProcess | None = None
    started_at: float = 0.0
    restart_delay_s: float = _FIRST_RESTART_DELAY_S
    start_after: float = 0.0


class Supervisor:
    def __init__(self, settings: Settings, count: int, monitor: Monitor | None = None) -> None:
        self.settings = settings
        self.count = count
        self.monitor = monitor
        self.context = multiprocessing.get_context("spawn")
        # No lock: a worker killed while holding it would leave the supervisor waiting forever.
        self.slots = [_Slot(i, self.context.Value("b", 0, lock=False)) for i in range(count)]
        self.stop = threading.Event()
        self.kicks = Kicks(self.context)

    def consumers_connected(self) -> bool:
        return all(slot.connected.value for slot in self.slots)

    def run(self) -> int:
        """Run until SIGTERM or SIGINT (exit status 0) or until the relay fails for good (1)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        if self.count > self.settings.shards:
            log.warning("supervisor.idle_workers", workers=self.count, shards=self.settings.shards)
        engine = db.make_engine(self.settings.database_url)
        relay = Relay(
            engine,
            self.settings.amqp_url,
            batch=self.settings.relay_batch,
            source=self.settings.source,
            on_published=metrics.EVENTS_PUBLISHED.inc,
        )
        service.settle_heap()
        relay_thread = threading.Thread(target=relay.run, name="prepay-relay", daemon=True)
        relay_thread.start()
        self.kicks.watch(relay.kick)
        status = 0
        try:
            while not self.stop.is_set():
                self._tend(time.monotonic())
                if not relay_thread.is_alive():
                    log.error("supervisor.relay_died")
                    status = 1
                    break
                if self.monitor is not None:
                    self.monitor.beat()
                self.stop.wait(0.2)
        finally:
            self._stop_workers()
            relay.shutdown()
            relay_thread.join(_STOP_TIMEOUT_S)
            engine.dispose()
            log.info("supervisor.stopped")
        return status

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("supervisor.stopping", signal=signal.Signals(signum).name)
        if self.monitor is not None:
            self.monitor.stopping()
        self.stop.set()

    def _tend(self, now: float) -> None:
        for slot in self.slots:
            process = slot.process
            if process is not None and process.is_alive():
                continue
            if process is not None:
                self._note_death(slot, process, now)
            if now >= slot.start_after and not self.stop.is_set():
                self._start(slot, now)

    def _note_death(self, slot: _Slot, process: BaseProcess, now: float) -> None:
        lived = now - slot.started_at
        if lived >= _HEALTHY_AFTER_S:
            slot.restart_delay_s = _FIRST_RESTART_DELAY_S
            slot.start_after = now
        else:
            slot.start_after = now + slot.restart_delay_s
            slot.restart_delay_s = min(slot.restart_delay_s * 2, _MAX_RESTART_DELAY_S)
        log.warning(
            "supervisor.worker_died",
            worker=slot.index,
            pid=process.pid,
            exitcode=process.exitcode,
            lived_s=round(lived, 1),
            restart_in_s=round(slot.start_after - now, 1),
        )
        process.close()
        slot.process = None
        slot.connected.value = 0  # a killed worker could not say so itself

    def _start(self, slot: _Slot, now: float) -> None:
        process = self.context.Process(
            target=run_worker,
            args=(self.settings, slot.index, self.count, slot.connected, self.kicks.sender),
            name=f"prepay-worker-{slot.index}",
        )
        process.start()
        slot.process, slot.started_at = process, now
        log.info("supervisor.worker_started", worker=slot.index, pid=process.pid)

    def _stop_workers(self) -> None:
        running = [s.process for s in self.slots if s.process is not None]
        for process in running:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker stops gracefully
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("supervisor.worker_killed", pid=process.pid)
                process.kill()
                process.join()
