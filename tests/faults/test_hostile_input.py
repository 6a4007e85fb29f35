"""Hostile input through the worker's core (`CommandProcessor` on a real SQLite store, the code
the RabbitMQ consumer runs): every generated message is answered by `command.rejected` or
parked as a dead letter with its reason, nothing raises, and no business data changes.
`tests/e2e/test_hostile_input.py` sends a sample of the same messages to the running service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from faults.hostile import Hostile, hostile, new_world
from workers.db import create_all, make_engine
from workers.processing import CommandProcessor, Result
from workers.publishing import command_envelope
from workers.store import SqlUnitOfWork
from workflows import events as ev

# What a command may change only by being accepted: everything but the inbox, the outbox and
# the order history (where a rejection is recorded).
LOGS = {"inbox", "outbox", "order_history"}
# A dead letter for these reasons is an answer; any other reason is a bug that was parked.
DEAD_REASONS = ("malformed message: ", "command id reused: ")


# Strategies need the world when the test is defined; it is set up in the module's database.
WORLD = new_world()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("hostile") / "prepay.db"
    found = make_engine(f"sqlite:///{path}", sqlite_synchronous="OFF")
    create_all(found)
    processor = CommandProcessor(SqlUnitOfWork(found))
    for command_type, data, command_id in WORLD.setup():
        body = json.dumps(command_envelope(command_type, data, command_id=command_id)).encode()
        assert processor.handle(body).kind == "applied"
    yield found
    found.dispose()


def business_state(engine: Engine) -> dict[str, list[Any]]:
    with engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table))]
            for table in SQLModel.metadata.sorted_tables
            if table.name not in LOGS
        }


def assert_answered(message: Hostile, result: Result) -> None:
    assert result.kind in ("rejected", "dead"), (message.label, result)
    if result.kind == "dead":
        assert result.reason and result.reason.startswith(DEAD_REASONS), (message.label, result)
        assert message.dead, (message.label, result.reason)
        return
    assert not message.dead, (message.label, result)
    assert result.outcome is not None and result.outcome.error is not None
    (event,) = result.outcome.events
    assert event.type == ev.COMMAND_REJECTED
    assert event.data["command_id"] == message.message_id
    assert event.data["code"] and event.data["message"], event.data


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(messages=st.lists(hostile(WORLD), min_size=1, max_size=4))
def test_hostile_messages_are_answered_and_change_nothing(
    engine: Engine, messages: list[Hostile]
) -> None:
    processor = CommandProcessor(SqlUnitOfWork(engine), sleep=lambda _: None)
    before = business_state(engine)
    # One message alone, or several in one group-commit batch (each in its own savepoint).
    results = processor.handle_batch([m.body for m in messages])
    for message, result in zip(messages, results, strict=True):
        assert_answered(message, result)
    assert business_state(engine) == before, [m.label for m in messages]


def test_a_valid_command_after_all_that_still_works(engine: Engine) -> None:
    processor = CommandProcessor(SqlUnitOfWork(engine))
    body = command_envelope("prepayment.invoice", {"order_id": WORLD.draft_order})
    result = processor.handle(json.dumps(body).encode())
    assert result.kind == "applied", result
    assert [e.type for e in result.outcome.events] == [  # type: ignore[union-attr]
        ev.PREPAYMENT_INVOICE_POSTED,
        ev.ORDER_AMENDED,
        ev.ORDER_STATE_CHANGED,
    ]
