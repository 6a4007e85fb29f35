"""Worker processes telling the relay, in the supervisor, that a batch committed.

Without it the relay finds new outbox rows at its next poll (`Relay.idle_wait_s`, 10 ms),
which adds half a poll to every event on average. A kick is one byte on a pipe that every
worker shares; the relay's side drains whatever piled up and publishes once. A worker never
waits for a kick to be taken: when the pipe is full the relay has kicks enough pending.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext


class Kicks:
    """The pipe, made by the supervisor; `sender` goes to each worker it spawns."""

    def __init__(self, context: SpawnContext) -> None:
        self.receiver, self.sender = context.Pipe(duplex=False)

    def watch(self, on_kick: Callable[[], None]) -> threading.Thread:
        """Call `on_kick` once for each burst of kicks, from a daemon thread."""

        def loop() -> None:
            descriptor = self.receiver.fileno()
            while True:
                try:
                    if not os.read(descriptor, 4096):
                        return  # every sender closed
                except OSError:
                    return  # closed under us: the supervisor is stopping
                on_kick()

        thread = threading.Thread(target=loop, name="prepay-kicks", daemon=True)
        thread.start()
        return thread


def kicker(sender: Connection) -> Callable[[], None]:
    """The worker's side: a function that kicks without ever blocking."""
    descriptor = sender.fileno()
    os.set_blocking(descriptor, False)

    def kick() -> None:
        # Full (earlier kicks are still unread) or nobody reading (the supervisor died, and
        # the worker stops itself): either way the worker carries on, as if it had kicked.
        with contextlib.suppress(OSError):
            os.write(descriptor, b"k")

    return kick
