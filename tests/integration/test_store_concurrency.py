"""Two processes apply commands to the same order at the same time. Each round both load the
same version; exactly one commits, the other gets a ConcurrencyConflict and retries, and the
end state equals running every command one after the other.

On PostgreSQL both read the order, the first save wins and the second finds the version moved.
On SQLite, BEGIN IMMEDIATE lets only one writer in: with no busy timeout the second fails at
once (a conflict, retried); with the default timeout it waits its turn and never conflicts.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import URL, Engine, func, select

from schemas.tables import INBOX, ORDER_HISTORY, OUTBOX
from workers.db import make_engine
from workers.store import SqlUnitOfWork
from workflows.bus import process
from workflows.commands import AmendOrder, Command, CreateOrder, LineInput, UpsertParty
from workflows.errors import ConcurrencyConflict
from workflows.memory import InMemoryUnitOfWork, MemoryStore
from workflows.order import Order

pytestmark = pytest.mark.integration

ROUNDS = 12
WAIT = 20  # seconds any process waits for the other before the test fails

SETUP: list[Command] = [
    UpsertParty("C1", "sales", "Customer C1"),
    CreateOrder("SO-1", "sales", "C1", "EUR", date(2026, 11, 27)),
]


def _command(worker: int, round_no: int) -> tuple[str, AmendOrder]:
    line = LineInput(10 + 2 * round_no + worker, f"ITEM-{worker}", Decimal(1), Decimal("10.00"))
    return f"w{worker}-r{round_no}", AmendOrder("SO-1", add_lines=(line,))


class _Rendezvous(SqlUnitOfWork):
    """Meets the other process once right after loading the order, so that both hold the
    same version when they save (or, on SQLite, so the one holding the write lock waits
    until the other has been turned away)."""

    def __init__(self, engine: Engine, meeting: Any) -> None:
        super().__init__(engine)
        self._meeting = meeting
        self._met = False
        load = self.orders.get

        def load_then_meet(order_id: str) -> Order | None:
            order = load(order_id)
            self.meet()
            return order

        self.orders.get = load_then_meet  # type: ignore[method-assign]

    def meet(self) -> None:
        if self._meeting is not None and not self._met:
            self._met = True
            self._meeting.wait(WAIT)


def _worker(url: str, worker: int, busy_timeout: float, start: Any, meeting: Any, out: Any) -> None:
    engine = make_engine(url, busy_timeout=busy_timeout)
    conflicts: list[int] = []
    for round_no in range(ROUNDS):
        command_id, command = _command(worker, round_no)
        start.wait(WAIT)
        uow = _Rendezvous(engine, meeting)
        tries = 0
        while True:
            try:
                outcome = process(command_id, command, uow)
                break
            except ConcurrencyConflict:
                tries += 1
                uow.meet()  # turned away before loading: let the winner go on
                time.sleep(0.002)
        assert outcome.error is None and not outcome.duplicate
        conflicts.append(tries)
    engine.dispose()
    out.put((worker, conflicts))


def _race(url: str, *, busy_timeout: float, rendezvous: bool) -> dict[int, list[int]]:
    # fork starts a worker in milliseconds (spawn would re-import SQLAlchemy for seconds);
    # the workers open their own engine and never touch the parent's pooled connections.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context: Any = multiprocessing.get_context(method)
    start, out = context.Barrier(2), context.Queue()
    meeting = context.Barrier(2) if rendezvous else None
    workers = [
        context.Process(target=_worker, args=(url, n, busy_timeout, start, meeting, out))
        for n in (0, 1)
    ]
    for worker in workers:
        worker.start()
    results: dict[int, list[int]] = {}
    deadline = time.monotonic() + 60
    try:
        while len(results) < len(workers):
            try:
                worker_no, conflicts = out.get(timeout=0.2)
                results[worker_no] = conflicts
            except queue.Empty:
                failed = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
                assert not failed and time.monotonic() < deadline, f"workers failed: {failed}"
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    assert [w.exitcode for w in workers] == [0, 0]
    return results


def _serial_order() -> Order:
    store = MemoryStore()
    commands = [*SETUP, *(_command(w, r)[1] for r in range(ROUNDS) for w in (0, 1))]
    for n, command in enumerate(commands):
        assert process(f"serial-{n}", command, InMemoryUnitOfWork(store)).error is None
    return store.orders["SO-1"]


def _check_end_state(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        order = uow.orders.get("SO-1")
        history = uow.history.for_order("SO-1")
    assert order == _serial_order()
    assert order is not None and order.version == 2 * ROUNDS
    assert [e.type for e in history] == ["order.created"] + ["order.amended"] * 2 * ROUNDS
    with engine.connect() as connection:
        counts = [
            connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (INBOX, OUTBOX, ORDER_HISTORY)
        ]
    assert counts == [2 + 2 * ROUNDS, 1 + 2 * ROUNDS, 1 + 2 * ROUNDS]


def _setup(engine: Engine) -> None:
    for n, command in enumerate(SETUP):
        assert process(f"setup-{n}", command, SqlUnitOfWork(engine)).error is None


def _one_loser_per_round(results: dict[int, list[int]]) -> None:
    for round_no in range(ROUNDS):
        losers = [w for w in (0, 1) if results[w][round_no] > 0]
        assert len(losers) == 1, (round_no, results)


def test_postgresql_one_save_wins_each_round(pg_engine: Engine, pg_url: URL) -> None:
    _setup(pg_engine)
    results = _race(pg_url.render_as_string(hide_password=False), busy_timeout=5, rendezvous=True)
    _one_loser_per_round(results)
    assert all(tries == 1 for worker in results.values() for tries in worker if tries)
    _check_end_state(pg_engine)


def test_sqlite_one_writer_wins_each_round(sqlite_engine: Engine, sqlite_url: str) -> None:
    _setup(sqlite_engine)
    results = _race(sqlite_url, busy_timeout=0, rendezvous=True)
    _one_loser_per_round(results)
    _check_end_state(sqlite_engine)


def test_sqlite_writers_queue_without_conflicts(sqlite_engine: Engine, sqlite_url: str) -> None:
    _setup(sqlite_engine)
    results = _race(sqlite_url, busy_timeout=5, rendezvous=False)
    assert results == {0: [0] * ROUNDS, 1: [0] * ROUNDS}
    _check_end_state(sqlite_engine)
