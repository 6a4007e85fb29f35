"""`kill -9` in the middle of 2,000 commands over 200 orders (`prepay serve --workers 3` on
PostgreSQL): a worker process killed at random, which the supervisor starts again, and later
the whole service, supervisor and relay included (its workers notice and stop, and `prepay
serve` is started again). Nothing is lost, nothing is done twice: the end state is a single
clean worker's, event for event, and `prepay reconcile` finds nothing. It runs on the
soak's machinery (`tests/faults/soak.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e.conftest import Broker

from faults import soak

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

COMMANDS = 2000  # 200 orders of 10
MAX_KILLS = 1  # bounded: each kill idles a worker's shards while it starts again


def test_kill_9_mid_stream_then_restart(broker: Broker, tmp_path: Path) -> None:
    figures, violations = soak.run(
        COMMANDS, workers=3, kill_every=(1.0, 2.0), min_age=3.0, max_kills=MAX_KILLS,
        restarts_at=(0.6,), broker_stats=False, log_dir=tmp_path, timeout=300,
    )  # fmt: skip
    print("\n".join(["", "[kill -9 / soak]", *figures.lines()]))
    assert violations == []
    assert (figures.commands, figures.orders) == (COMMANDS, 200)
    assert figures.kills >= 1 and figures.service_kills == 1
