"""Fault injection for the fault tests (`tests/faults`); every hook is off unless its
environment variable is set, and none is read anywhere else.

`PREPAY_FAULT_RELAY_EXIT_BEFORE_MARK=N`: once the broker has confirmed at least N events, the
process running the relay exits on the spot (`os._exit`: no cleanup, as if killed) after the
confirms of a batch and before that batch is removed from the outbox (the variable's name is
from when confirmed rows were marked published instead). A restarted relay sends the batch
again under the same event ids, which is what consumers must de-duplicate.
"""

from __future__ import annotations

import os
import sys

RELAY_EXIT_BEFORE_MARK = "PREPAY_FAULT_RELAY_EXIT_BEFORE_MARK"
EXIT_CODE = 86


class _RelayCrash:
    def __init__(self) -> None:
        self.after = int(os.environ.get(RELAY_EXIT_BEFORE_MARK) or 0)
        self.confirmed = 0

    def before_mark(self, count: int) -> None:
        """Called with each confirmed batch, before it is removed from the outbox."""
        if not self.after:
            return
        self.confirmed += count
        if self.confirmed >= self.after:
            sys.stderr.write(
                f"{RELAY_EXIT_BEFORE_MARK}: exiting with {count} events confirmed, not removed\n"
            )
            sys.stderr.flush()
            os._exit(EXIT_CODE)


relay_crash = _RelayCrash()
