"""The soak, small: `tests/faults/soak.py` with 60 orders, three workers and a random worker
killed every second or so (three times, so the run stays short; the stream takes only a few
seconds, so the kills must come quickly to land in it). The full one (20,000
commands, a kill every 2 to 5 s throughout) runs by hand:
`.venv/bin/python tests/faults/soak.py --commands 20000`."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e.conftest import Broker

from faults import soak

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

COMMANDS = 600
MAX_KILLS = 3  # bounded: each kill idles a worker's shards while it starts again


def test_soak_with_random_kills(broker: Broker, tmp_path: Path) -> None:
    figures, violations = soak.run(
        COMMANDS, workers=3, kill_every=(0.5, 1.0), min_age=2.0, max_kills=MAX_KILLS,
        log_dir=tmp_path, timeout=300,
    )  # fmt: skip
    print("\n".join(["", "[soak]", *figures.lines()]))
    assert violations == []
    assert figures.violations == 0
    assert figures.commands == COMMANDS and figures.kills >= 1
    assert figures.duplicates_absorbed >= 0 and figures.redeliveries >= 0
