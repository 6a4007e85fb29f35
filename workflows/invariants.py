"""The invariants every stored order must satisfy, whatever happened to the process that wrote
it: its lines' prepayment fields, its posted documents, its payments and its history agree with
each other to the cent. Pure: the caller loads the order and what belongs to it (`prepay
reconcile` from the database, the property tests from the in-memory store).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from workflows import events as ev
from workflows import lifecycle
from workflows.documents import PostedDocument
from workflows.events import Event
from workflows.money import ZERO, is_multiple_of_precision
from workflows.order import Order
from workflows.payments import PaymentRecord

_LINE_AMOUNTS = (
    "line_amount",
    "prepayment_line_amount",
    "prepayment_invoiced",
    "prepayment_vat_invoiced",
    "prepayment_deducted",
    "prepayment_vat_deducted",
    "amount_invoiced",
)
_POSTED_EVENT = {
    "prepayment_invoice": ev.PREPAYMENT_INVOICE_POSTED,
    "prepayment_credit_memo": ev.PREPAYMENT_CREDIT_MEMO_POSTED,
    "invoice": ev.INVOICE_POSTED,
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant: a stable `code` to match on and a message naming the figures."""

    order_id: str
    code: str
    message: str


def check_order(
    order: Order, documents: Sequence[PostedDocument], payments: Sequence[PaymentRecord]
) -> list[Violation]:
    """Every invariant of one order against its documents and payments; [] when it is sound."""
    found = [
        *_lines(order),
        *_documents(order, documents),
        *_document_totals(order, documents),
        *_invoiced_quantities(order, documents),
        *_payments(order, documents, payments),
        *_state(order),
    ]
    return [Violation(order.order_id, code, message) for code, message in found]


def check_history(
    order: Order,
    documents: Sequence[PostedDocument],
    payments: Sequence[PaymentRecord],
    history: Sequence[Event],
) -> list[Violation]:
    """The order's recorded events tell the same story as the order: every document and
    payment was announced, and the last event leaves the order in the state it is in (an
    order whose events stop short of its state is stuck mid-way for downstream)."""
    found: list[tuple[str, str]] = []
    announced = {(e.type, e.data.get("document_no")) for e in history}
    for document in documents:
        if (_POSTED_EVENT[document.document_type], document.document_no) not in announced:
            found.append(
                ("history.document_missing", f"{document.document_no} has no posted event")
            )
    recorded = {e.data.get("payment_id") for e in history if e.type == ev.PAYMENT_RECORDED}
    for payment in payments:
        if payment.payment_id not in recorded:
            found.append(("history.payment_missing", f"payment {payment.payment_id} has no event"))
    last = history[-1].data.get("state") if history else None
    if last != order.state:
        found.append(
            ("history.state_mismatch", f"the order is {order.state}, its last event says {last}")
        )
    return [Violation(order.order_id, code, message) for code, message in found]


def _lines(order: Order) -> Iterator[tuple[str, str]]:
    currency = order.currency
    for line in order.sorted_lines():
        where = f"line {line.line_no}"
        if not ZERO <= line.prepayment_deducted <= line.prepayment_invoiced:
            yield (
                "line.deducted_above_invoiced",
                f"{where}: deducted {line.prepayment_deducted} is not between 0 and the "
                f"{line.prepayment_invoiced} invoiced",
            )
        if abs(line.prepayment_vat_deducted) > abs(line.prepayment_vat_invoiced):
            yield (
                "line.deducted_above_invoiced",
                f"{where}: VAT deducted {line.prepayment_vat_deducted} exceeds the "
                f"{line.prepayment_vat_invoiced} invoiced",
            )
        if line.prepayment_invoiced > line.prepayment_line_amount:
            yield (
                "line.invoiced_above_prepayment",
                f"{where}: invoiced {line.prepayment_invoiced} exceeds the prepayment line "
                f"amount {line.prepayment_line_amount}",
            )
        if abs(line.quantity_invoiced) > abs(line.quantity):
            yield (
                "line.quantity_above_ordered",
                f"{where}: invoiced quantity {line.quantity_invoiced} exceeds {line.quantity}",
            )
        for name in _LINE_AMOUNTS:
            value = getattr(line, name)
            if not is_multiple_of_precision(value, currency):
                yield "amount.precision", f"{where}: {name} {value} is not whole {currency}"
    for value in (order.prepayment_paid, order.unapplied_credit):
        if not is_multiple_of_precision(value, currency):
            yield "amount.precision", f"order amount {value} is not whole {currency}"
    for invoice in order.prepayment_invoices:
        if not ZERO <= invoice.open <= invoice.gross:
            yield (
                "prepayment_invoice.open_out_of_range",
                f"{invoice.document_no}: open {invoice.open} is not between 0 and its "
                f"gross {invoice.gross}",
            )


def _documents(order: Order, documents: Sequence[PostedDocument]) -> Iterator[tuple[str, str]]:
    for document in documents:
        no = document.document_no
        header = (document.order_id, document.side, document.currency, document.party_id)
        if header != (order.order_id, order.side, order.currency, order.party_id):
            yield "document.order_mismatch", f"{no}: order, side, currency or party differ"
        debit = sum((e.debit for e in document.ledger), ZERO)
        credit = sum((e.credit for e in document.ledger), ZERO)
        if debit != credit:
            yield "document.unbalanced", f"{no}: debit {debit} != credit {credit}"
        if document.amount_due < 0:
            yield "document.negative_amount", f"{no}: amount due {document.amount_due}"
        for line in document.lines:
            if line.gross != line.net + line.vat:
                yield (
                    "document.line_arithmetic",
                    f"{no}: {line.description}: {line.net} + {line.vat} != {line.gross}",
                )
            for value in (line.net, line.vat, line.gross):
                if not is_multiple_of_precision(value, order.currency):
                    yield "amount.precision", f"{no}: {value} is not whole {order.currency}"


def _document_totals(
    order: Order, documents: Sequence[PostedDocument]
) -> Iterator[tuple[str, str]]:
    """What the documents billed, credited and deducted is what the lines say they did."""
    include = order.prices_include_vat
    invoiced = invoiced_vat = deducted = deducted_vat = ZERO
    for document in documents:
        for x in document.lines:
            base = x.gross if include else x.net
            if document.document_type == "prepayment_invoice":
                invoiced, invoiced_vat = invoiced + base, invoiced_vat + x.vat
            elif document.document_type == "prepayment_credit_memo":
                invoiced, invoiced_vat = invoiced - base, invoiced_vat - x.vat
            elif x.is_deduction:
                deducted, deducted_vat = deducted - base, deducted_vat - x.vat
    lines = order.lines.values()
    expected = {
        "prepayment invoiced": (invoiced, sum((x.prepayment_invoiced for x in lines), ZERO)),
        "prepayment VAT invoiced": (
            invoiced_vat,
            sum((x.prepayment_vat_invoiced for x in lines), ZERO),
        ),
        "prepayment deducted": (deducted, sum((x.prepayment_deducted for x in lines), ZERO)),
        "prepayment VAT deducted": (
            deducted_vat,
            sum((x.prepayment_vat_deducted for x in lines), ZERO),
        ),
    }
    for name, (on_documents, on_lines) in expected.items():
        if on_documents != on_lines:
            yield (
                "order.documents_mismatch",
                f"{name}: the documents say {on_documents}, the lines {on_lines}",
            )


def _invoiced_quantities(
    order: Order, documents: Sequence[PostedDocument]
) -> Iterator[tuple[str, str]]:
    """Each line's invoiced quantity and amount are the sum of its invoice lines."""
    quantities: dict[int, Decimal] = {}
    amounts: dict[int, Decimal] = {}
    for document in documents:
        if document.document_type != "invoice":
            continue
        for x in document.lines:
            if x.is_deduction or x.order_line_no is None:
                continue
            n = x.order_line_no
            quantities[n] = quantities.get(n, ZERO) + (x.quantity or ZERO)
            amounts[n] = amounts.get(n, ZERO) + (x.gross if order.prices_include_vat else x.net)
    for n in sorted(set(quantities) | set(order.lines)):
        line = order.lines.get(n)
        stored = (line.quantity_invoiced, line.amount_invoiced) if line else (ZERO, ZERO)
        billed = (quantities.get(n, ZERO), amounts.get(n, ZERO))
        if stored != billed:
            yield (
                "line.invoiced_mismatch",
                f"line {n}: invoiced quantity and amount {stored[0]} / {stored[1]}, "
                f"the invoices {billed[0]} / {billed[1]}",
            )


def _payments(
    order: Order, documents: Sequence[PostedDocument], payments: Sequence[PaymentRecord]
) -> Iterator[tuple[str, str]]:
    invoices = {d.document_no: d for d in documents if d.document_type == "prepayment_invoice"}
    balances = {x.document_no: x for x in order.prepayment_invoices}
    if set(balances) != set(invoices):
        yield (
            "order.invoices_mismatch",
            f"the order tracks {sorted(balances)}, the prepayment invoices are {sorted(invoices)}",
        )
    for no in sorted(set(balances) & set(invoices)):
        if balances[no].gross != invoices[no].amount_due:
            yield (
                "order.invoices_mismatch",
                f"{no}: tracked gross {balances[no].gross}, amount due {invoices[no].amount_due}",
            )
    if order.payment_ids != [p.payment_id for p in payments]:
        yield (
            "order.payments_mismatch",
            f"the order lists payments {order.payment_ids}, the records "
            f"{[p.payment_id for p in payments]}",
        )
    applied = ZERO
    for payment in payments:
        spread = sum((amount for _, amount in payment.applied), ZERO)
        if spread + payment.unapplied != payment.amount or payment.currency != order.currency:
            yield (
                "payment.unbalanced",
                f"payment {payment.payment_id}: {spread} applied + {payment.unapplied} "
                f"unapplied != {payment.amount} {payment.currency}",
            )
        applied += spread
    if applied != order.prepayment_paid:
        yield (
            "order.payments_mismatch",
            f"the payments applied {applied}, the order says {order.prepayment_paid} paid",
        )
    # What is no longer open on the invoices was paid, or cancelled by a credit memo; what a
    # credit memo credited beyond what was open became the party's credit.
    closed = sum((x.gross - x.open for x in order.prepayment_invoices), ZERO)
    credited = sum(
        (d.amount_due for d in documents if d.document_type == "prepayment_credit_memo"), ZERO
    )
    credit_left = order.unapplied_credit - sum((p.unapplied for p in payments), ZERO)
    if closed != order.prepayment_paid + credited - credit_left:
        yield (
            "order.balance_mismatch",
            f"{closed} of the prepayment invoices is closed, but {order.prepayment_paid} was "
            f"paid and {credited - credit_left} cancelled by credit memos",
        )


def _state(order: Order) -> Iterator[tuple[str, str]]:
    if order.state not in lifecycle.STATES:
        yield "order.unknown_state", f"state {order.state!r} is not a state of the machine"
        return
    if order.state == lifecycle.CANCELLED:
        for line in order.sorted_lines():
            if line.prepayment_undeducted:
                yield (
                    "order.state_mismatch",
                    f"cancelled, but line {line.line_no} still holds "
                    f"{line.prepayment_undeducted} of invoiced prepayment",
                )
        return
    settled = lifecycle.settled_state(order)
    if settled != order.state:
        yield "order.state_mismatch", f"the order is {order.state}, its figures say {settled}"
    if order.state == lifecycle.FINAL_INVOICED:
        for line in order.sorted_lines():
            done = (line.prepayment_deducted, line.prepayment_vat_deducted, line.amount_invoiced)
            due = (line.prepayment_invoiced, line.prepayment_vat_invoiced, line.line_amount)
            if done != due:
                yield (
                    "order.final_incomplete",
                    f"final invoiced, but line {line.line_no} deducted/invoiced {done} of {due}",
                )
