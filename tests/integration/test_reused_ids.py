"""A command id is an idempotency key: the same command sent again is a duplicate (dropped
quietly), but another command under a used id is neither applied nor dropped quietly: it goes
to the dead-letter queue with the reason. Checked on SQLite and PostgreSQL (the in-memory
reference: tests/unit/test_invariants.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine

from workers.processing import CommandProcessor
from workers.publishing import command_envelope
from workers.store import SqlUnitOfWork

pytestmark = pytest.mark.integration

PARTY = {"party_id": "C1", "side": "sales", "name": "C", "prepayment_percent": "30"}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    fixture = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    found: Engine = request.getfixturevalue(fixture)
    return found


def body(command_type: str, data: dict[str, Any], command_id: str, **envelope: Any) -> bytes:
    return json.dumps(
        command_envelope(command_type, data, command_id=command_id) | envelope
    ).encode()


def test_a_resent_command_is_a_duplicate_even_with_a_new_envelope(engine: Engine) -> None:
    processor = CommandProcessor(SqlUnitOfWork(engine))
    assert processor.handle(body("party.upsert", PARTY, "c-1")).kind == "applied"
    again = body("party.upsert", dict(reversed(PARTY.items())), "c-1", source="retry",
                 time="2026-11-28T00:00:00Z")  # fmt: skip
    assert processor.handle(again).kind == "duplicate"


def test_another_command_under_a_used_id_is_parked_with_the_reason(engine: Engine) -> None:
    processor = CommandProcessor(SqlUnitOfWork(engine))
    assert processor.handle(body("party.upsert", PARTY, "c-1")).kind == "applied"
    changed = processor.handle(body("party.upsert", PARTY | {"name": "D"}, "c-1"))
    other_type = processor.handle(body("order.cancel", {"order_id": "SO-1"}, "c-1"))
    for result in (changed, other_type):
        assert result.kind == "dead"
        assert result.reason is not None and result.reason.startswith("command id reused: c-1")
    with SqlUnitOfWork(engine, read_only=True) as uow:
        party = uow.parties.get("C1")
        assert party is not None and party.name == "C"


def test_a_rejected_command_id_reused_is_parked_too(engine: Engine) -> None:
    processor = CommandProcessor(SqlUnitOfWork(engine))
    first = processor.handle(body("order.cancel", {"order_id": "SO-NONE"}, "c-2"))
    assert first.kind == "rejected"
    assert processor.handle(body("order.cancel", {"order_id": "SO-NONE"}, "c-2")).kind == (
        "duplicate"
    )
    invalid = processor.handle(body("order.cancel", {"order": 1}, "c-3"))
    assert invalid.kind == "rejected"
    assert processor.handle(body("order.cancel", {"order": 1}, "c-3")).kind == "duplicate"
    assert processor.handle(body("order.cancel", {"order_id": "SO-2"}, "c-3")).kind == "dead"


def test_in_a_batch_the_first_use_decides(engine: Engine) -> None:
    processor = CommandProcessor(SqlUnitOfWork(engine))
    bodies = [
        body("party.upsert", PARTY, "c-1"),
        body("party.upsert", PARTY, "c-1"),
        body("party.upsert", PARTY | {"name": "D"}, "c-1"),
    ]
    assert [r.kind for r in processor.handle_batch(bodies)] == ["applied", "duplicate", "dead"]
