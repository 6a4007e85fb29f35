"""Shared builders for the domain unit tests: command factories with readable defaults and a
small harness that runs commands through `process` on the in-memory unit of work."""

from __future__ import annotations

import copy
import itertools
from datetime import date
from decimal import Decimal
from typing import Any

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
from workflows.documents import PostedDocument
from workflows.errors import DomainError
from workflows.events import Event
from workflows.memory import InMemoryUnitOfWork, MemoryStore
from workflows.order import Order, OrderLine

D = Decimal
ORDER_DATE = date(2026, 11, 27)


# --- command factories -------------------------------------------------------------------


def customer(
    party_id: str = "C1",
    percent: str = "0",
    *,
    price_group: str | None = None,
    terms: PaymentTerms | None = None,
    check: bool = True,
) -> UpsertParty:
    return UpsertParty(
        party_id=party_id,
        side="sales",
        name=f"Customer {party_id}",
        prepayment_percent=D(percent),
        price_group=price_group,
        payment_terms=terms or PaymentTerms(),
        check_prepayment_when_posting=check,
    )


def vendor(
    party_id: str = "V1",
    percent: str = "0",
    *,
    price_group: str | None = None,
    terms: PaymentTerms | None = None,
    check: bool = True,
) -> UpsertParty:
    return UpsertParty(
        party_id=party_id,
        side="purchase",
        name=f"Vendor {party_id}",
        prepayment_percent=D(percent),
        price_group=price_group,
        payment_terms=terms or PaymentTerms(),
        check_prepayment_when_posting=check,
    )


def rule(
    item_id: str,
    applies_to: Any,
    percent: str,
    code: str | None = None,
    *,
    side: Any = "sales",
    starting: date | None = None,
    ending: date | None = None,
) -> UpsertPrepaymentRule:
    return UpsertPrepaymentRule(side, item_id, applies_to, D(percent), code, starting, ending)


def line(
    line_no: int,
    quantity: str,
    unit_price: str,
    *,
    vat: str = "0",
    percent: str | None = None,
    discount: str = "0",
    item: str | None = None,
    description: str = "",
) -> LineInput:
    return LineInput(
        line_no=line_no,
        item_id=item or f"ITEM-{line_no}",
        quantity=D(quantity),
        unit_price=D(unit_price),
        description=description,
        line_discount_percent=D(discount),
        vat_percent=D(vat),
        prepayment_percent=None if percent is None else D(percent),
    )


def order(
    *lines: LineInput,
    order_id: str = "SO-1",
    party_id: str = "C1",
    side: Any = "sales",
    currency: str = "EUR",
    percent: str | None = None,
    incl_vat: bool = False,
    compress: bool = True,
    posting_date: date | None = None,
) -> CreateOrder:
    return CreateOrder(
        order_id=order_id,
        side=side,
        party_id=party_id,
        currency=currency,
        order_date=ORDER_DATE,
        lines=tuple(lines),
        posting_date=posting_date,
        prices_include_vat=incl_vat,
        prepayment_percent=None if percent is None else D(percent),
        compress_prepayment=compress,
    )


def purchase_order(*lines: LineInput, order_id: str = "PO-1", **kwargs: Any) -> CreateOrder:
    kwargs.setdefault("party_id", "V1")
    return order(*lines, order_id=order_id, side="purchase", **kwargs)


def amend(order_id: str = "SO-1", **kwargs: Any) -> AmendOrder:
    return AmendOrder(order_id=order_id, **kwargs)


def update(line_no: int, **changes: str) -> LineUpdate:
    return LineUpdate(line_no, **{name: D(value) for name, value in changes.items()})


def set_total(amount: str, order_id: str = "SO-1") -> SetPrepaymentTotal:
    return SetPrepaymentTotal(order_id, D(amount))


def prepay(
    order_id: str = "SO-1", *, ext: str | None = None, on: date | None = None
) -> InvoicePrepayment:
    return InvoicePrepayment(order_id, posting_date=on, external_document_no=ext)


def credit(order_id: str = "SO-1", *lines: int, ext: str | None = None) -> CreditPrepayment:
    return CreditPrepayment(order_id, lines=tuple(lines), external_document_no=ext)


def pay(
    amount: str,
    order_id: str = "SO-1",
    *,
    payment_id: str | None = None,
    currency: str = "EUR",
    document_no: str | None = None,
) -> RecordPayment:
    return RecordPayment(
        order_id,
        payment_id or f"PAY-{next(_payment_ids)}",
        D(amount),
        currency,
        document_no=document_no,
    )


def invoice(
    order_id: str = "SO-1", *quantities: tuple[int, str], ext: str | None = None
) -> InvoiceOrder:
    lines = tuple(InvoiceLine(n, D(q)) for n, q in quantities) if quantities else None
    return InvoiceOrder(order_id, lines=lines, external_document_no=ext)


def cancel(order_id: str = "SO-1") -> CancelOrder:
    return CancelOrder(order_id)


_payment_ids = itertools.count(1)


# --- the harness -------------------------------------------------------------------------


class Harness:
    """Runs commands against one MemoryStore, as the bus would, with fresh command ids."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self._ids = itertools.count(1)

    def process(self, command: Command, command_id: str | None = None) -> Outcome:
        return process(
            command_id or f"cmd-{next(self._ids)}", command, InMemoryUnitOfWork(self.store)
        )

    def ok(self, *commands: Command) -> list[Event]:
        """Run commands that must be accepted; the events of the last one."""
        events: list[Event] = []
        for command in commands:
            outcome = self.process(command)
            assert outcome.error is None, f"{outcome.error.code}: {outcome.error.message}"
            events = outcome.events
        return events

    def refuse(self, command: Command) -> DomainError:
        """Run a command that must be refused, and prove it changed nothing but the inbox
        and the outbox's `command.rejected`."""
        before = self._snapshot()
        outcome = self.process(command)
        assert outcome.error is not None, "the command was accepted"
        assert [e.type for e in outcome.events] == ["command.rejected"]
        assert self._snapshot() == before
        return outcome.error

    def _snapshot(self) -> dict[str, Any]:
        s = self.store
        return copy.deepcopy(
            {
                "parties": s.parties,
                "rules": dict(s.rules),
                "orders": s.orders,
                "documents": dict(s.documents),
                "payments": s.payments,
                "numbers": dict(s.numbers),
                "external_numbers": s.external_numbers,
            }
        )

    def order(self, order_id: str = "SO-1") -> Order:
        return self.store.orders[order_id]

    def line(self, line_no: int, order_id: str = "SO-1") -> OrderLine:
        return self.store.orders[order_id].lines[line_no]

    def state(self, order_id: str = "SO-1") -> str:
        return self.store.orders[order_id].state

    def documents(self, order_id: str = "SO-1") -> list[PostedDocument]:
        return self.store.documents[order_id]

    def last_document(self, order_id: str = "SO-1") -> PostedDocument:
        return self.store.documents[order_id][-1]


# --- reading events and documents ----------------------------------------------------------


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


def data(events: list[Event], event_type: str) -> dict[str, Any]:
    (found,) = [e.data for e in events if e.type == event_type]
    return found


def figures(document: PostedDocument) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(net, vat, gross) of each document line."""
    return [(x.net, x.vat, x.gross) for x in document.lines]


def ledger(document: PostedDocument) -> dict[str, tuple[Decimal, Decimal]]:
    """account -> (debit, credit)."""
    return {e.account: (e.debit, e.credit) for e in document.ledger}


def totals(document: PostedDocument) -> tuple[Decimal, Decimal, Decimal]:
    t = document.totals
    return (t.net, t.vat, t.gross)
