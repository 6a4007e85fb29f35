from __future__ import annotations

import pytest
from builders import Harness


@pytest.fixture
def app() -> Harness:
    """A fresh in-memory store with commands run through the bus."""
    return Harness()
