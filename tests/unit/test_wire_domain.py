"""The wire layer around the real domain: bytes in, commands through the bus on the in-memory
unit of work, events out as bytes, and every event the domain emits fits the contract."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any, get_args

from schemas.events import EVENT_MODELS, decode_event, encode_event
from schemas.examples import command_examples
from schemas.parsing import InvalidCommand, parse_command
from schemas.scalars import State
from workflows import events as ev
from workflows import lifecycle
from workflows.bus import process, reject
from workflows.memory import InMemoryUnitOfWork, MemoryStore

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class Wire:
    """Plays the consumer: parse, process (or reject), encode; keeps the decoded events."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.ids = itertools.count(1)
        self.seen: Counter[str] = Counter()

    def send(self, command_type: str, data: Any) -> list[dict[str, Any]]:
        command_id = f"cmd-{next(self.ids)}"
        body = {"specversion": "1.0", "id": command_id, "source": "test", "type": command_type}
        try:
            parsed = parse_command(json.dumps(body | {"data": data}).encode())
        except InvalidCommand as error:
            uow = InMemoryUnitOfWork(self.store)
            outcome = reject(
                error.command_id, error.command_type, error, uow, order_id=error.order_id
            )
        else:
            outcome = process(parsed.envelope.id, parsed.command, InMemoryUnitOfWork(self.store))
        decoded = []
        for number, event in enumerate(outcome.events):
            wire = encode_event(
                event, event_id=f"{command_id}:{number}", correlation_id=command_id, time=AT
            )
            envelope, _ = decode_event(wire)  # raises if the event breaks the contract
            assert envelope.correlationid == command_id
            self.seen[event.type] += 1
            decoded.append(envelope.data | {"type": envelope.type})
        return decoded


def test_every_event_the_domain_emits_fits_its_model() -> None:
    wire = Wire()
    examples = command_examples()
    for command_type in ("party.upsert", "prepayment_rule.upsert", "order.create"):
        wire.send(command_type, examples[command_type][1])
    wire.send("prepayment.invoice", {"order_id": "SO-1001"})
    wire.send(
        "payment.record",
        {"order_id": "SO-1001", "payment_id": "P-1", "amount": "438.00", "currency": "EUR"},
    )
    wire.send(
        "order.invoice", {"order_id": "SO-1001", "lines": [{"line_no": 10000, "quantity": "1"}]}
    )
    wire.send("order.invoice", {"order_id": "SO-1001"})

    other = examples["order.create"][1] | {"order_id": "SO-2002"}
    wire.send("order.create", other)
    wire.send("order.amend", examples["order.amend"][1] | {"order_id": "SO-2002"})
    wire.send("prepayment.set_total", {"order_id": "SO-2002", "amount": "100"})
    wire.send("prepayment.invoice", {"order_id": "SO-2002"})
    wire.send("prepayment.credit", {"order_id": "SO-2002"})
    wire.send("order.cancel", {"order_id": "SO-2002"})

    assert set(wire.seen) == set(EVENT_MODELS) - {ev.COMMAND_REJECTED}


def test_refusals_from_the_wire_and_from_the_domain_are_both_answered() -> None:
    wire = Wire()
    payment = {"order_id": "SO-1", "payment_id": "P-1", "amount": 1.5, "currency": "EUR"}
    [from_schema] = wire.send("payment.record", payment)
    assert from_schema["type"] == "command.rejected"
    assert from_schema["command_type"] == "payment.record"
    assert from_schema["code"] == "command.invalid"
    assert from_schema["field"] == "amount"

    [from_domain] = wire.send("order.invoice", {"order_id": "SO-404"})
    assert from_domain["type"] == "command.rejected"
    assert from_domain["command_id"] == "cmd-2"
    assert from_domain["order_id"] == "SO-404"


def test_the_wire_states_are_the_state_machines() -> None:
    assert list(get_args(State)) == lifecycle.STATES
