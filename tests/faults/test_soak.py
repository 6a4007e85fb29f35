"""The soak, small: `tests/faults/soak.py` with a few hundred orders, three workers and a
random worker killed every few seconds. The full one (20,000 commands) runs by hand:
`.venv/bin/python tests/faults/soak.py --commands 20000`."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e.conftest import Broker

from faults import soak

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

COMMANDS = 1000


def test_soak_with_random_kills(broker: Broker, tmp_path: Path) -> None:
    figures, violations = soak.run(
        COMMANDS, workers=3, kill_every=(2.0, 4.0), min_age=6.0, log_dir=tmp_path, timeout=300
    )
    print("\n".join(["", "[soak]", *figures.lines()]))
    assert violations == []
    assert figures.violations == 0
    assert figures.commands == COMMANDS and figures.kills >= 1
    assert figures.duplicates_absorbed >= 0 and figures.redeliveries >= 0
