"""One contract for the storage port, proven on every backend (pyeventsourcing style): the
abstract `StoreContract` holds the tests, `TestMemoryStore`, `TestSqliteStore` and
`TestPostgresStore` only say how to open a unit of work.

The life-cycle tests drive the real handlers through `workflows.bus.process` and run every
command twice, on the backend under test and on an in-memory reference store, asserting the
same outcome at each step and the same orders, documents, payments, history and outbox at
the end.
"""

from __future__ import annotations

import abc
import itertools
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from workers.event_json import encode_wire
from workers.outbox import fetch_batch
from workers.store import SqlUnitOfWork
from workflows.bus import Outcome, process
from workflows.commands import (
    AmendOrder,
    CancelOrder,
    Command,
    CreateOrder,
    CreditPrepayment,
    InvoiceLine,
    InvoiceOrder,
    InvoicePrepayment,
    LineInput,
    LineUpdate,
    PaymentTerms,
    RecordPayment,
    SetPrepaymentTotal,
    UpsertParty,
    UpsertPrepaymentRule,
)
from workflows.documents import Amounts, DocumentLine, LedgerEntry, PostedDocument
from workflows.errors import ConcurrencyConflict
from workflows.events import Event
from workflows.memory import InMemoryUnitOfWork, MemoryStore
from workflows.order import Order, OrderLine
from workflows.payments import PaymentRecord
from workflows.setup import Party, PrepaymentRule
from workflows.unit_of_work import AbstractUnitOfWork

pytestmark = pytest.mark.integration

D = Decimal
DAY = date(2026, 11, 27)


class Backend(abc.ABC):
    @abc.abstractmethod
    def uow(self) -> AbstractUnitOfWork: ...

    @abc.abstractmethod
    def payments(self, order_id: str) -> list[PaymentRecord]: ...

    @abc.abstractmethod
    def outbox(self) -> list[tuple[str, str | None, Any]]:
        """(type, subject, data as it travels) of every recorded event, in order."""


class MemoryBackend(Backend):
    def __init__(self) -> None:
        self.store = MemoryStore()

    def uow(self) -> AbstractUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def payments(self, order_id: str) -> list[PaymentRecord]:
        return [x for x in self.store.payments if x.order_id == order_id]

    def outbox(self) -> list[tuple[str, str | None, Any]]:
        return [(e.type, e.subject, json.loads(encode_wire(e.data))) for e in self.store.outbox]


class SqlBackend(Backend):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def payments(self, order_id: str) -> list[PaymentRecord]:
        with self.uow() as uow:
            return uow.documents.payments_for_order(order_id)

    def outbox(self) -> list[tuple[str, str | None, Any]]:
        with self.engine.connect() as connection:
            records = fetch_batch(connection, 10_000)
        return [(r.type, r.subject, r.data()) for r in records]


def _outcome(outcome: Outcome) -> tuple[Any, ...]:
    error = outcome.error
    return (
        outcome.events,
        outcome.duplicate,
        error and (type(error), error.code, error.message, error.field),
    )


class Run:
    """Sends each command to the backend and to the reference store, in lockstep."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.reference = MemoryBackend()
        self._ids = itertools.count(1)

    def send(self, command: Command, command_id: str | None = None) -> Outcome:
        command_id = command_id or f"cmd-{next(self._ids)}"
        got = process(command_id, command, self.backend.uow())
        expected = process(command_id, command, self.reference.uow())
        assert _outcome(got) == _outcome(expected), command
        return got

    def ok(self, command: Command) -> list[Event]:
        outcome = self.send(command)
        assert outcome.error is None, f"{outcome.error.code}: {outcome.error.message}"
        return outcome.events

    def refused(self, command: Command) -> str:
        outcome = self.send(command)
        assert outcome.error is not None, f"{command} was accepted"
        return outcome.error.code

    def order(self, order_id: str) -> Order:
        with self.backend.uow() as uow:
            order = uow.orders.get(order_id)
        assert order is not None
        return order

    def assert_same_as_reference(self, *order_ids: str) -> None:
        ref = self.reference.store
        for order_id in order_ids:
            with self.backend.uow() as uow:
                assert uow.orders.get(order_id) == ref.orders[order_id]
                assert uow.documents.for_order(order_id) == ref.documents[order_id]
                assert uow.history.for_order(order_id) == ref.history[order_id]
            assert self.backend.payments(order_id) == self.reference.payments(order_id)
        assert self.backend.outbox() == self.reference.outbox()


def customer(party_id: str = "C1", **kwargs: Any) -> UpsertParty:
    return UpsertParty(party_id, "sales", f"Customer {party_id}", **kwargs)


def vendor(party_id: str = "V1", **kwargs: Any) -> UpsertParty:
    return UpsertParty(party_id, "purchase", f"Vendor {party_id}", **kwargs)


def line(no: int, quantity: str, price: str, vat: str = "19", **kwargs: Any) -> LineInput:
    percent = kwargs.pop("percent", None)
    return LineInput(
        no,
        kwargs.pop("item", f"ITEM-{no}"),
        D(quantity),
        D(price),
        vat_percent=D(vat),
        prepayment_percent=None if percent is None else D(percent),
        **kwargs,
    )


def sales_order(order_id: str, *lines: LineInput, **kwargs: Any) -> CreateOrder:
    kwargs.setdefault("party_id", "C1")
    return CreateOrder(order_id, "sales", currency="EUR", order_date=DAY, lines=lines, **kwargs)


def purchase_order(order_id: str, *lines: LineInput, **kwargs: Any) -> CreateOrder:
    kwargs.setdefault("party_id", "V1")
    return CreateOrder(order_id, "purchase", currency="EUR", order_date=DAY, lines=lines, **kwargs)


def _document(order_id: str, number: str = "PPI-000009", lines: int = 2) -> PostedDocument:
    items = [
        DocumentLine(f"line {n}", "2350", D("10.00"), D("19"), D("1.90"), D("11.90"), n, D("2.5"))
        for n in range(1, lines + 1)
    ]
    deduction = DocumentLine("deduction", "2350", D(-1), D(0), D(0), D(-1), is_deduction=True)
    document_lines = (*items, deduction)
    return PostedDocument(
        document_no=number,
        document_type="prepayment_invoice",
        order_id=order_id,
        side="sales",
        party_id="C1",
        posting_date=DAY,
        due_date=date(2026, 12, 11),
        currency="EUR",
        prices_include_vat=False,
        lines=document_lines,
        ledger=(LedgerEntry("1200", D("22.80"), D(0)), LedgerEntry("2350", D(0), D("22.80"))),
        payment_discount_date=date(2026, 12, 4),
        payment_discount_percent=D("2"),
        deducted=Amounts(D("-1"), D("0"), D("-1")) if lines else None,
    )


class StoreContract(abc.ABC):
    """The tests every backend must pass. Subclasses say how to make their backend."""

    @abc.abstractmethod
    def make_backend(self, request: pytest.FixtureRequest) -> Backend: ...

    @pytest.fixture
    def backend(self, request: pytest.FixtureRequest) -> Backend:
        return self.make_backend(request)

    @pytest.fixture
    def run(self, backend: Backend) -> Run:
        return Run(backend)

    # --- whole life cycles ------------------------------------------------------------------

    def test_sales_life_cycle_with_amendment_additional_invoice_and_partial_invoice(
        self, run: Run
    ) -> None:
        terms = PaymentTerms(due_days=14, discount_days=7, discount_percent=D("2"))
        run.ok(customer(payment_terms=terms, price_group="RETAIL"))
        run.ok(UpsertPrepaymentRule("sales", "ITEM-1", "all", D("30")))
        run.ok(UpsertPrepaymentRule("sales", "ITEM-1", "price_group", D("35"), "RETAIL"))
        run.ok(
            sales_order(
                "SO-1",
                line(1, "10", "12.50", description="Widget"),
                line(2, "4", "99.99", vat="7", percent="50"),
                line(3, "1", "1000", percent="0"),
            )
        )
        assert run.order("SO-1").lines[1].prepayment_percent == D("35")
        run.ok(InvoicePrepayment("SO-1"))
        run.ok(AmendOrder("SO-1", update_lines=(LineUpdate(1, quantity=D("12")),)))
        assert run.order("SO-1").state == "amended"
        run.ok(InvoicePrepayment("SO-1", posting_date=date(2026, 12, 1)))
        outstanding = run.order("SO-1").prepayment_outstanding
        run.ok(RecordPayment("SO-1", "PAY-1", D("50.00"), "EUR", received_date=DAY))
        assert run.order("SO-1").state == "partially_paid"
        run.ok(RecordPayment("SO-1", "PAY-2", outstanding - D("50.00"), "EUR"))
        assert run.order("SO-1").state == "paid"
        run.ok(InvoiceOrder("SO-1", lines=(InvoiceLine(1, D("5")),)))
        assert run.order("SO-1").state == "partially_invoiced"
        run.ok(InvoiceOrder("SO-1"))
        order = run.order("SO-1")
        assert order.state == "final_invoiced"
        assert order.version == 7
        with run.backend.uow() as uow:
            numbers = [d.document_no for d in uow.documents.for_order("SO-1")]
        assert numbers == ["PPI-000001", "PPI-000002", "INV-000001", "INV-000002"]
        run.assert_same_as_reference("SO-1")

    def test_set_total_credit_memo_and_cancellation(self, run: Run) -> None:
        run.ok(customer(prepayment_percent=D("40")))
        run.ok(sales_order("SO-2", line(1, "3", "100"), line(2, "1", "50", vat="7")))
        run.ok(SetPrepaymentTotal("SO-2", D("100.00")))
        percent = run.order("SO-2").lines[1].prepayment_percent
        assert percent == D(100) * D("85.71") / D(300)  # back-computed, kept unrounded
        run.ok(InvoicePrepayment("SO-2"))
        run.ok(RecordPayment("SO-2", "PAY-1", D("30.00"), "EUR"))
        run.ok(CreditPrepayment("SO-2"))
        assert run.order("SO-2").state == "amended"
        assert run.order("SO-2").unapplied_credit == D("30.00")
        assert run.refused(InvoicePrepayment("SO-3")) == "order.not_found"
        run.ok(CancelOrder("SO-2", reason="customer withdrew"))
        assert run.order("SO-2").state == "cancelled"
        assert run.refused(AmendOrder("SO-2", prepayment_percent=D("10"))) == (
            "order.invalid_state"
        )
        run.assert_same_as_reference("SO-2")

    def test_purchase_life_cycle_with_vendor_document_numbers(self, run: Run) -> None:
        run.ok(vendor(prepayment_percent=D("25")))
        run.ok(purchase_order("PO-1", line(1, "8", "250"), line(2, "2", "40.10", vat="7")))
        assert run.refused(InvoicePrepayment("PO-1")) == "purchase.external_document_no_required"
        run.ok(InvoicePrepayment("PO-1", external_document_no="V-PP-1"))
        run.ok(AmendOrder("PO-1", add_lines=(line(3, "1", "99.95"),)))
        used = InvoicePrepayment("PO-1", external_document_no="V-PP-1")
        assert run.refused(used) == "purchase.external_document_no_used"
        run.ok(InvoicePrepayment("PO-1", external_document_no="V-PP-2"))
        outstanding = run.order("PO-1").prepayment_outstanding
        run.ok(RecordPayment("PO-1", "PAY-1", outstanding, "EUR"))
        assert run.order("PO-1").state == "paid"
        run.ok(InvoiceOrder("PO-1", external_document_no="V-INV-1"))
        assert run.order("PO-1").state == "final_invoiced"
        with run.backend.uow() as uow:
            documents = uow.documents.for_order("PO-1")
            assert uow.external_numbers.is_used("V1", "V-PP-2")
            assert not uow.external_numbers.is_used("V2", "V-PP-2")
        assert [(d.document_no, d.external_document_no) for d in documents] == [
            ("PPPI-000001", "V-PP-1"),
            ("PPPI-000002", "V-PP-2"),
            ("PINV-000001", "V-INV-1"),
        ]
        run.assert_same_as_reference("PO-1")

    def test_setup_upserts_replace_by_key(self, run: Run) -> None:
        run.ok(customer(prepayment_percent=D("10")))
        run.ok(customer(prepayment_percent=D("20"), price_group="VIP"))
        start = date(2026, 1, 1)
        run.ok(UpsertPrepaymentRule("sales", "ITEM-1", "all", D("5")))
        run.ok(UpsertPrepaymentRule("sales", "ITEM-1", "all", D("6")))
        run.ok(UpsertPrepaymentRule("sales", "ITEM-1", "all", D("7"), starting_date=start))
        run.ok(UpsertPrepaymentRule("sales", "ITEM-1", "party", D("8"), "C1"))
        run.ok(UpsertPrepaymentRule("purchase", "ITEM-1", "all", D("9")))
        assert run.refused(vendor("C1")) == "party.side_mismatch"
        with run.backend.uow() as uow:
            party = uow.parties.get("C1")
            rules = uow.rules.for_item("sales", "ITEM-1")
            assert uow.parties.get("nobody") is None
            assert uow.rules.for_item("sales", "ITEM-2") == []
        assert party == Party("C1", "sales", "Customer C1", D("20"), "VIP")
        key = {r.key: r for r in rules}
        assert len(key) == 3 and key[("sales", "ITEM-1", "all", "", None)].percent == D("6")
        assert key[("sales", "ITEM-1", "all", "", start)] == PrepaymentRule(
            "sales", "ITEM-1", "all", None, D("7"), start
        )

    # --- exactly once --------------------------------------------------------------------

    def test_a_redelivered_command_changes_nothing(self, run: Run) -> None:
        run.ok(customer())
        first = run.send(sales_order("SO-1", line(1, "1", "10")), "create-1")
        again = run.send(sales_order("SO-1", line(1, "2", "20")), "create-1")
        assert first.events and again.duplicate and again.events == []
        assert run.order("SO-1").lines[1].quantity == D("1")
        with run.backend.uow() as uow:
            assert len(uow.history.for_order("SO-1")) == 1
        assert [t for t, _, _ in run.backend.outbox()] == ["order.created"]

    def test_a_redelivered_rejected_command_is_not_answered_twice(self, run: Run) -> None:
        assert run.refused(InvoicePrepayment("SO-9")) == "order.not_found"
        again = run.send(InvoicePrepayment("SO-9"), "cmd-1")
        assert again.duplicate
        with run.backend.uow() as uow:
            (rejected,) = uow.history.for_order("SO-9")
        assert rejected.type == "command.rejected" and rejected.data["command_id"] == "cmd-1"
        assert [rejected] == run.reference.store.history["SO-9"]
        assert run.backend.outbox() == run.reference.outbox()

    def test_inbox_claims_an_id_once(self, backend: Backend) -> None:
        with backend.uow() as uow:
            assert uow.inbox.claim("a")
            assert not uow.inbox.claim("a")
            uow.commit()
        with backend.uow() as uow:
            assert not uow.inbox.claim("a")
            assert uow.inbox.claim("b")
            uow.rollback()
        with backend.uow() as uow:
            assert uow.inbox.claim("b")

    def test_a_refused_command_changes_nothing_but_inbox_and_outbox(self, run: Run) -> None:
        run.ok(customer())
        run.ok(sales_order("SO-1", line(1, "2", "10", percent="50")))
        run.ok(InvoicePrepayment("SO-1"))
        before = run.order("SO-1")
        code = run.refused(InvoiceOrder("SO-1"))
        assert code == "prepayment.unpaid"
        assert run.order("SO-1") == before
        with run.backend.uow() as uow:
            history = uow.history.for_order("SO-1")
            assert len(uow.documents.for_order("SO-1")) == 1
            assert uow.numbers.next("sales.invoice") == 1  # the refusal took no number
        assert history[-1].type == "command.rejected"
        assert history[-1].data["state"] == "prepayment_invoiced"
        run.assert_same_as_reference("SO-1")

    # --- transactions ----------------------------------------------------------------------

    def test_rollback_leaves_nothing(self, run: Run) -> None:
        run.ok(customer())
        uow = run.backend.uow()
        with uow:
            assert uow.inbox.claim("cmd-x")
            uow.parties.upsert(Party("C2", "sales", "Customer C2"))
            uow.rules.upsert(PrepaymentRule("sales", "ITEM-1", "all", None, D("10")))
            order = Order(
                "SO-X", "sales", "C1", "EUR", DAY, DAY, False, D(0), True, True, PaymentTerms()
            )
            order.lines[1] = OrderLine(1, "ITEM-1", "", D(1), D(1), D(0), D(0), D(0))
            uow.orders.add(order)
            assert uow.numbers.next("sales.invoice") == 1
            uow.external_numbers.claim("V1", "EXT-1")
            uow.documents.add(_document("SO-X"))
            uow.documents.add_payment(PaymentRecord("PAY-X", "SO-X", D(5), "EUR", None, (), D(5)))
            uow.record_events([Event("order.created", "SO-X", {"order_id": "SO-X"})])
        with run.backend.uow() as uow:
            assert uow.parties.get("C2") is None
            assert uow.rules.for_item("sales", "ITEM-1") == []
            assert uow.orders.get("SO-X") is None
            assert uow.documents.for_order("SO-X") == []
            assert uow.history.for_order("SO-X") == []
            assert not uow.external_numbers.is_used("V1", "EXT-1")
            assert uow.numbers.next("sales.invoice") == 1
            assert uow.inbox.claim("cmd-x")
        assert run.backend.outbox() == []
        assert run.backend.payments("SO-X") == []

    def test_documents_read_back_whole(self, backend: Backend) -> None:
        posted = [_document("SO-1", "PPI-000001"), _document("SO-1", "INV-000001", lines=0)]
        with backend.uow() as uow:
            for document in posted:
                uow.documents.add(document)
            uow.documents.add(_document("SO-2", "PPI-000002"))
            uow.commit()
        with backend.uow() as uow:
            assert uow.documents.for_order("SO-1") == posted
            assert uow.documents.for_order("SO-3") == []

    def test_one_unit_of_work_runs_many_transactions(self, backend: Backend) -> None:
        uow = backend.uow()
        process("c1", customer(), uow)
        process("c2", sales_order("SO-1", line(1, "1", "10", percent="100")), uow)
        refused = process("c3", InvoiceOrder("SO-1"), uow)  # rolls back, then re-enters
        process("c4", InvoicePrepayment("SO-1"), uow)
        assert refused.error is not None and refused.error.code == "prepayment.not_invoiced"
        with uow:
            order = uow.orders.get("SO-1")
            history = uow.history.for_order("SO-1")
        assert order is not None and order.state == "prepayment_invoiced"
        assert [e.type for e in history] == [
            "order.created",
            "command.rejected",
            "prepayment_invoice.posted",
            "order.amended",
            "order.state_changed",
        ]

    def test_number_series_are_gapless_and_per_series(self, backend: Backend) -> None:
        with backend.uow() as uow:
            taken = [uow.numbers.next("sales.invoice") for _ in range(3)]
            other = uow.numbers.next("purchase.invoice")
            uow.commit()
        with backend.uow() as uow:
            assert uow.numbers.next("sales.invoice") == 4
            uow.rollback()
        with backend.uow() as uow:
            assert uow.numbers.next("sales.invoice") == 4
            uow.commit()
        assert taken == [1, 2, 3] and other == 1

    def test_adding_an_order_that_exists_is_a_conflict(self, run: Run) -> None:
        run.ok(customer())
        run.ok(sales_order("SO-1", line(1, "1", "10")))
        existing = run.order("SO-1")
        with run.backend.uow() as uow, pytest.raises(ConcurrencyConflict):
            uow.orders.add(existing)

    # --- exact values --------------------------------------------------------------------

    def test_decimals_round_trip_exactly(self, run: Run) -> None:
        huge, tiny = "99999999999999.99", "0.001"
        run.ok(customer(prepayment_percent=D("33.33333333333333333333333333")))
        run.ok(sales_order("SO-1", line(1, tiny, huge), line(2, "3", "0.01", percent="12.5")))
        run.ok(AmendOrder("SO-1", update_lines=(LineUpdate(2, prepayment_line_amount=D("0.01")),)))
        run.ok(UpsertPrepaymentRule("sales", "ITEM-1", "all", D("0.00001")))
        with run.backend.uow() as uow:
            party = uow.parties.get("C1")
            order = uow.orders.get("SO-1")
            (rule,) = uow.rules.for_item("sales", "ITEM-1")
        assert party is not None and order is not None
        assert str(party.prepayment_percent) == "33.33333333333333333333333333"
        assert str(order.lines[1].quantity) == tiny
        assert str(order.lines[1].unit_price) == huge
        assert str(order.lines[1].line_amount) == "100000000000.00"
        assert str(order.lines[2].prepayment_percent) == "33.33333333333333333333333333"
        assert str(rule.percent) == "0.00001"
        run.assert_same_as_reference("SO-1")

    def test_history_is_kept_per_order(self, run: Run) -> None:
        run.ok(customer())
        events: dict[str, list[Event]] = {"SO-1": [], "SO-2": []}
        for order_id in ("SO-1", "SO-2"):
            events[order_id] += run.ok(sales_order(order_id, line(1, "1", "10", percent="10")))
        for order_id in ("SO-2", "SO-1"):
            events[order_id] += run.ok(InvoicePrepayment(order_id))
        events["SO-1"] += run.send(InvoicePrepayment("SO-1")).events
        with run.backend.uow() as uow:
            assert uow.history.for_order("SO-1") == events["SO-1"]
            assert uow.history.for_order("SO-2") == events["SO-2"]
            assert uow.history.for_order("SO-3") == []
        run.assert_same_as_reference("SO-1", "SO-2")

    def test_history_reads_back_in_order_with_exact_values(self, run: Run) -> None:
        run.ok(customer())
        recorded = run.ok(sales_order("SO-1", line(1, "3", "33.33", percent="10")))
        recorded += run.send(AmendOrder("SO-1")).events  # refused: nothing to amend
        recorded += run.ok(InvoicePrepayment("SO-1", posting_date=date(2026, 12, 24)))
        with run.backend.uow() as uow:
            history = uow.history.for_order("SO-1")
        assert history == recorded
        posted = history[2].data
        assert posted["posting_date"] == date(2026, 12, 24)
        assert str(posted["totals"]["gross"]) == "11.90"
        assert run.backend.outbox()[2][2]["totals"]["gross"] == "11.90"


class TestMemoryStore(StoreContract):
    def make_backend(self, request: pytest.FixtureRequest) -> Backend:
        return MemoryBackend()


class SqlStoreContract(StoreContract):
    """What only a SQL store promises beyond the port: the version check."""

    def test_saving_a_stale_order_is_a_conflict_not_a_lost_update(self, run: Run) -> None:
        run.ok(customer())
        run.ok(sales_order("SO-1", line(1, "1", "10")))
        stale = run.order("SO-1")
        run.ok(AmendOrder("SO-1", update_lines=(LineUpdate(1, quantity=D("5")),)))
        stale.lines[1].quantity = D("7")
        with run.backend.uow() as uow, pytest.raises(ConcurrencyConflict):
            uow.orders.save(stale)
            uow.commit()  # writes are held back until here
        order = run.order("SO-1")
        assert order.lines[1].quantity == D("5") and order.version == 1

    def test_correlation_id_is_the_command_id(self, run: Run) -> None:
        run.ok(customer())
        run.send(sales_order("SO-1", line(1, "1", "10")), "create-SO-1")
        run.send(AmendOrder("SO-1"), "amend-SO-1")
        backend = run.backend
        assert isinstance(backend, SqlBackend)
        with SqlUnitOfWork(backend.engine) as uow:
            entries = uow.history.entries("SO-1")
        with backend.engine.connect() as connection:
            outbox = fetch_batch(connection)
        assert [e.correlation_id for e in entries] == ["create-SO-1", "amend-SO-1"]
        assert [r.correlation_id for r in outbox] == ["create-SO-1", "amend-SO-1"]
        assert [e.event_id for e in entries] == [r.event_id for r in outbox]


class TestSqliteStore(SqlStoreContract):
    def make_backend(self, request: pytest.FixtureRequest) -> Backend:
        return SqlBackend(request.getfixturevalue("sqlite_engine"))


class TestPostgresStore(SqlStoreContract):
    def make_backend(self, request: pytest.FixtureRequest) -> Backend:
        return SqlBackend(request.getfixturevalue("pg_engine"))
