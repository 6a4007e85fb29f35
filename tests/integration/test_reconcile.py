"""`prepay reconcile` on SQLite and PostgreSQL: clean after real commands, and each kind of
damage to the stored rows is found and fails the command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, delete, update
from typer.testing import CliRunner

from schemas.tables import DOCUMENT_LINES, LEDGER_ENTRIES, ORDER_LINES, ORDERS, POSTED_DOCUMENTS
from workers.cli import app
from workers.outbox import fetch_batch, settle_published
from workers.reconcile import reconcile, render
from workers.store import SqlUnitOfWork
from workflows.bus import process
from workflows.commands import (
    CreateOrder,
    InvoiceOrder,
    InvoicePrepayment,
    LineInput,
    RecordPayment,
    UpsertParty,
)
from workflows.memory import InMemoryUnitOfWork

pytestmark = pytest.mark.integration

D = Decimal
DAY = datetime(2026, 11, 27, tzinfo=UTC).date()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    fixture = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    found: Engine = request.getfixturevalue(fixture)
    return found


def commands(order_id: str) -> list[object]:
    line = LineInput(1, "A", D(2), D("50.00"), vat_percent=D(20))
    return [
        CreateOrder(order_id, "sales", "C1", "EUR", DAY, lines=(line,)),
        InvoicePrepayment(order_id),
        RecordPayment(order_id, f"P-{order_id}", D("36.00"), "EUR"),
        InvoiceOrder(order_id),
    ]


def run(engine: Engine, *order_ids: str, publish: bool = True) -> None:
    """Each order's life cycle, then the relay's part: everything published (removed from
    the outbox)."""
    uow = SqlUnitOfWork(engine)
    process("party", UpsertParty("C1", "sales", "C", D(30)), uow)
    for order_id in order_ids:
        for index, command in enumerate(commands(order_id)):
            assert not process(f"{order_id}-{index}", command, uow).rejected  # type: ignore[arg-type]
    if publish:
        with engine.begin() as connection:
            settle_published(connection, [r.id for r in fetch_batch(connection, 1000)])


def codes(engine: Engine) -> set[tuple[str, str]]:
    return {(v.order_id, v.code) for v in reconcile(engine).violations}


def test_a_store_written_by_the_workers_reconciles(engine: Engine) -> None:
    run(engine, "SO-1", "SO-2", "SO-3")
    result = reconcile(engine)
    assert (result.orders, result.violations, result.pending_events) == (3, [], 0)
    assert render(result) == "3 orders checked, 0 violation(s), 0 event(s) awaiting the relay"


def test_the_database_and_the_in_memory_store_agree(engine: Engine) -> None:
    """The same checks on both sides of the storage port (the memory store is the model)."""
    run(engine, "SO-1")
    memory = InMemoryUnitOfWork()
    process("party", UpsertParty("C1", "sales", "C", D(30)), memory)
    for index, command in enumerate(commands("SO-1")):
        process(f"SO-1-{index}", command, memory)  # type: ignore[arg-type]
    with SqlUnitOfWork(engine, read_only=True) as uow:
        assert uow.orders.get("SO-1") == memory.store.orders["SO-1"]
        assert uow.documents.for_order("SO-1") == memory.store.documents["SO-1"]


def test_a_line_changed_behind_the_domain_is_found(engine: Engine) -> None:
    run(engine, "SO-1", "SO-2")
    with engine.begin() as connection:
        connection.execute(
            update(ORDER_LINES)
            .where(ORDER_LINES.c.order_id == "SO-2")
            .values(prepayment_deducted=D("99.00"))
        )
    found = codes(engine)
    assert ("SO-2", "line.deducted_above_invoiced") in found
    assert ("SO-2", "order.documents_mismatch") in found
    assert not [x for x in found if x[0] == "SO-1"]


def test_a_lost_document_is_found(engine: Engine) -> None:
    run(engine, "SO-1", "SO-2")
    with engine.begin() as connection:
        for table in (DOCUMENT_LINES, LEDGER_ENTRIES, POSTED_DOCUMENTS):
            connection.execute(delete(table).where(table.c.document_no == "INV-000001"))
    found = codes(engine)
    assert ("SO-1", "line.invoiced_mismatch") in found
    assert ("series sales.invoice", "series.gap") in found


def test_a_state_that_is_not_what_the_figures_say_is_found(engine: Engine) -> None:
    run(engine, "SO-1")
    with engine.begin() as connection:
        connection.execute(update(ORDERS).values(state="paid"))
    assert codes(engine) >= {("SO-1", "order.state_mismatch"), ("SO-1", "history.state_mismatch")}


def test_events_left_in_the_outbox_are_found_after_the_grace(engine: Engine) -> None:
    run(engine, "SO-1", publish=False)
    grace = timedelta(seconds=30)
    fresh = reconcile(engine, outbox_grace=grace)
    assert fresh.violations == []  # just written: the relay's time has not run out
    assert fresh.pending_events == 9
    later = datetime.now(UTC) + timedelta(minutes=1)
    (late,) = reconcile(engine, outbox_grace=grace, now=later).violations
    assert (late.order_id, late.code) == ("SO-1", "outbox.not_drained")
    assert late.message.startswith("9 event(s) unpublished since")


def test_the_command_exits_non_zero_with_violations(engine: Engine) -> None:
    run(engine, "SO-1")
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    clean = runner.invoke(app, ["reconcile", "--database-url", url], catch_exceptions=False)
    assert clean.exit_code == 0, clean.output
    assert "1 orders checked, 0 violation(s)" in clean.output
    with engine.begin() as connection:
        connection.execute(update(ORDERS).values(prepayment_paid=D("1.00")))
    broken = runner.invoke(app, ["reconcile", "--json", "--database-url", url])
    assert broken.exit_code == 1, broken.output
    report = json.loads(broken.output)
    assert report["orders"] == 1
    assert {v["code"] for v in report["violations"]} >= {"order.payments_mismatch"}


def test_an_unreachable_database_exits_2(tmp_path: object) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    result = CliRunner().invoke(app, ["reconcile", "--database-url", url])
    assert result.exit_code == 2
    assert "cannot read" in result.output
