"""Kicks from worker processes to the relay (`workers.kicks`): a real pipe, a real process."""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection

from workers.kicks import Kicks, kicker

CONTEXT = multiprocessing.get_context("spawn")


def _kick_from_a_worker(sender: Connection, times: int) -> None:
    kick = kicker(sender)
    for _ in range(times):
        kick()


def test_a_kick_from_a_spawned_worker_reaches_the_relay() -> None:
    kicks = Kicks(CONTEXT)
    kicked = threading.Event()
    kicks.watch(kicked.set)
    worker = CONTEXT.Process(target=_kick_from_a_worker, args=(kicks.sender, 1))
    worker.start()
    worker.join(60)
    assert worker.exitcode == 0
    assert kicked.wait(10)


def test_a_worker_never_waits_for_the_relay_to_take_its_kicks() -> None:
    kicks = Kicks(CONTEXT)  # nobody watches: the pipe fills up
    worker = CONTEXT.Process(target=_kick_from_a_worker, args=(kicks.sender, 200_000))
    worker.start()
    worker.join(60)
    assert worker.exitcode == 0  # 200,000 bytes into a 64 KiB pipe, and it finished
    seen: list[int] = []
    watcher = kicks.watch(lambda: seen.append(1))
    kicks.sender.close()  # every sender gone: the watcher drains what piled up and ends
    watcher.join(10)
    assert not watcher.is_alive()
    assert 1 <= len(seen) <= 64  # drained in bursts of up to 4 KiB, one call per burst


def test_a_kick_with_nobody_left_to_read_it_is_no_error() -> None:
    kicks = Kicks(CONTEXT)
    kick = kicker(kicks.sender)
    kicks.receiver.close()  # the supervisor died: a write would raise BrokenPipeError
    kick()  # the worker's batch is committed and acked; it must not look like a broker failure
