"""The pure parts of operating prepay: how `tail` and `order documents` print, how `queues`
orders and attributes, what `replay` sends, the probes, and the CLI's list of commands."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from typing import Any

import pika
import pytest
from rich.console import Console
from typer.testing import CliRunner

from schemas.examples import ORDER_ID, event_examples
from workers import queues, serving
from workers.bench import recorded_at
from workers.cli import app
from workers.cli_documents import render_documents
from workers.dead_letters import DeadLetter
from workers.event_json import decode_stored, encode_stored, encode_wire
from workers.event_replay import as_record
from workers.metrics import Health
from workers.outbox import OutboxRecord
from workers.relay import envelope_body, properties
from workers.store_events import HistoryEntry
from workers.tail import line
from workflows.events import Event

MOMENT = datetime(2026, 11, 27, 9, 30, 5, 123456, tzinfo=UTC)


def wire(event_type: str, data: dict[str, Any], subject: str | None = ORDER_ID) -> bytes:
    record = OutboxRecord(1, uuid.uuid4(), event_type, subject, "cmd-1", encode_wire(data), MOMENT)
    return envelope_body(record, "prepay")


def test_the_envelope_gives_the_id_and_the_utc_time_as_text_and_the_data_in_wire_form() -> None:
    event_id = uuid.uuid4()
    for moment in (MOMENT, MOMENT.replace(microsecond=0)):
        stored = encode_stored({"amount": Decimal("-0.00"), "day": date(2026, 11, 27)})
        record = OutboxRecord(3, event_id, "order.created", ORDER_ID, "cmd-1", stored, moment)
        body = json.loads(envelope_body(record, "prepay"))
        assert body["id"] == str(event_id) == properties(record).message_id
        assert body["time"] == moment.isoformat().replace("+00:00", "Z")
        assert body["time"].endswith(("05Z", "05.123456Z"))
        assert body["data"] == {"amount": "0.00", "day": "2026-11-27"}
        assert (body["type"], body["subject"], body["correlationid"]) == (
            "order.created", ORDER_ID, "cmd-1"
        )  # fmt: skip


def test_the_bench_reads_when_an_event_was_recorded_from_its_envelope() -> None:
    body = wire("order.created", {"order_id": ORDER_ID})
    assert recorded_at(body) == MOMENT.timestamp()
    assert recorded_at(b'{"type":"order.created"}') is None
    assert recorded_at(b'{"time":"yesterday"}') is None


# --- tail ------------------------------------------------------------------------------------


def test_tail_prints_one_readable_line_per_event() -> None:
    moved = {"order_id": ORDER_ID, "from": "draft", "to": "prepayment_invoiced",
             "trigger": "invoice_prepayment", "state": "prepayment_invoiced"}  # fmt: skip
    fields = line(wire("order.state_changed", moved)).split()
    assert fields[1:4] == ["order.state_changed", ORDER_ID, "prepayment_invoiced"]
    assert fields[4:] == ["draft", "→", "prepayment_invoiced", "(invoice_prepayment)"]
    assert len(fields[0]) == 8 and fields[0].count(":") == 2  # local HH:MM:SS

    posted = event_examples()["prepayment_invoice.posted"]
    fields = line(wire(posted.type, posted.data)).split()
    assert fields[1:4] == ["prepayment_invoice.posted", ORDER_ID, "prepayment_invoiced"]
    assert fields[4:] == ["PPI-000001", "due", "412.80"]


def test_tail_survives_an_event_it_cannot_read() -> None:
    assert line(b"\xff{").startswith("(unreadable event)")
    assert line(b'{"type": "order.cancelled", "data": {"reason": 42}}').split()[1:] == [
        "order.cancelled", "42"
    ]  # fmt: skip


# --- order documents -------------------------------------------------------------------------


def rendered(documents: list[dict[str, Any]]) -> list[str]:
    out = StringIO()
    render_documents(Console(file=out, width=120), documents, ORDER_ID)
    return [x.rstrip() for x in out.getvalue().splitlines()]


def test_a_document_prints_its_lines_totals_and_ledger() -> None:
    final = event_examples()["invoice.posted"].data
    printed = rendered([final])
    assert printed[0] == f"Invoice INV-000001 · sales order {ORDER_ID} · C-100"
    assert printed[1] == "posted 2026-12-10 · due 2026-12-24 · EUR · prices excl. VAT"
    rows = [x.split() for x in printed[2:]]
    assert ["20000", "4", "Helmet", "6110", "25", "100.80", "25.20", "126.00"] in rows
    assert ["Prepayment", "deducted", "2310", "25", "-330.24", "-82.56", "-412.80"] in rows
    assert ["total", "770.56", "192.64", "963.20"] in rows
    assert "amount due 963.20 after deducting 412.80 prepaid" in printed
    ledger = next(x for x in printed if x.startswith("ledger: "))
    assert "Dr 1200 963.20" in ledger and "Cr 6110 1100.80" in ledger


def test_documents_print_alike_from_the_database_and_from_the_wire() -> None:
    data = event_examples()["prepayment_invoice.posted"].data
    from_wire = json.loads(encode_wire(data))  # amounts as strings, dates ISO
    assert rendered([from_wire]) == rendered([data])


@pytest.mark.parametrize(
    "text", ["Kunde zurückgetreten", "lone surrogate \ud800", "nul \x00 and \u2028"]
)
def test_event_payloads_carry_any_text_and_exact_values(text: str) -> None:
    data = {"reason": text, "amount": Decimal("-0.00"), "total": Decimal("1E+3"),
            "day": date(2026, 11, 27), "at": datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
            "lines": [{"net": Decimal("12.50")}]}  # fmt: skip
    wire = json.loads(encode_wire(data))
    assert wire == {"reason": text, "amount": "0.00", "total": "1000", "day": "2026-11-27",
                    "at": "2026-11-27T09:30:00+00:00", "lines": [{"net": "12.50"}]}  # fmt: skip
    typed = decode_stored(encode_stored(data))
    assert typed == data
    assert str(typed["total"]) == "1E+3" and str(typed["lines"][0]["net"]) == "12.50"


def test_values_without_a_json_form_are_refused_by_both_encodings() -> None:
    with pytest.raises(TypeError, match="set has no JSON form"):
        encode_wire({"x": {1}})
    with pytest.raises(TypeError, match="set cannot be stored"):
        encode_stored({"x": {1}})


# --- queues ----------------------------------------------------------------------------------


def test_shard_queues_sort_by_number_before_the_others() -> None:
    names = ["prepay.dead-letters", "prepay.commands.shard-10", "prepay.commands.shard-2",
             "prepay.events.unrouted", "prepay.commands.shard-0"]  # fmt: skip
    assert sorted(names, key=queues._order) == [
        "prepay.commands.shard-0", "prepay.commands.shard-2", "prepay.commands.shard-10",
        "prepay.dead-letters", "prepay.events.unrouted",
    ]  # fmt: skip


def letter(headers: dict[str, Any]) -> DeadLetter:
    return DeadLetter(1, pika.BasicProperties(headers=headers), b"{}")


def test_a_dead_letter_comes_from_the_queue_that_parked_it() -> None:
    assert queues.origin(letter({"x-prepay-queue": "prepay.commands.shard-1"})) == (
        "prepay.commands.shard-1"
    )
    broker_parked = {
        "x-death": [{"queue": b"prepay.commands.shard-3", "reason": b"delivery_limit"}]
    }
    assert queues.origin(letter(broker_parked)) == "prepay.commands.shard-3"
    assert queues.origin(letter({})) is None


def test_the_management_api_is_looked_for_on_the_brokers_host() -> None:
    assert queues.default_management_url("amqp://u:p@rabbit.internal:5672/prod") == (
        "http://rabbit.internal:15672"
    )


# --- replay ----------------------------------------------------------------------------------


def test_a_replayed_event_is_the_relayed_one_byte_for_byte() -> None:
    event = event_examples()["invoice.posted"]
    event_id = uuid.uuid4()
    relayed = OutboxRecord(7, event_id, event.type, event.subject, "cmd-9",
                           encode_stored(event.data), MOMENT)  # fmt: skip
    stored = decode_stored(encode_stored(event.data))  # what the history gives back
    entry = HistoryEntry(42, event_id, "cmd-9", MOMENT, Event(event.type, event.subject, stored))
    again = as_record(entry)
    assert envelope_body(again, "prepay") == envelope_body(relayed, "prepay")
    # An outbox row written before events were stored once held the wire form: it is
    # published byte for byte as the same row written today.
    older = OutboxRecord(7, event_id, event.type, event.subject, "cmd-9",
                         encode_wire(event.data), MOMENT)  # fmt: skip
    assert envelope_body(older, "prepay") == envelope_body(relayed, "prepay")
    was, now = properties(relayed), properties(again)
    assert (now.message_id, now.correlation_id, now.type, now.timestamp, now.headers) == (
        was.message_id, was.correlation_id, was.type, was.timestamp, was.headers
    )  # fmt: skip


# --- probes ----------------------------------------------------------------------------------


def test_readiness_needs_every_check_and_no_shutdown() -> None:
    health = Health()
    health.checks = {"broker": lambda: True, "database": lambda: True}
    assert health.ready() == (True, {"broker": True, "database": True})

    def unreachable() -> bool:
        raise OSError("connection refused")

    health.checks["database"] = unreachable
    assert health.ready() == (False, {"broker": True, "database": False})
    health.checks["database"] = lambda: True
    health.shutting_down = True
    assert health.ready()[0] is False
    assert health.alive() == (True, {})  # shutting down is still alive


def test_shared_metrics_must_be_set_up_before_prometheus_client_loads() -> None:
    import prometheus_client  # noqa: F401  (already loaded in this process)

    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR"):
        serving.run(serving.Settings(), workers=2)


# --- the CLI ---------------------------------------------------------------------------------


def test_the_cli_lists_the_operating_commands() -> None:
    shown = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert shown.exit_code == 0
    for command in ("queues", "tail", "replay", "demo", "bench"):
        assert f" {command} " in shown.output, command
    order = CliRunner().invoke(app, ["order", "--help"])
    assert " documents " in order.output
