"""Command handlers: `(command, unit_of_work) -> events`. Each reads as the business rule it
implements: load, check, plan, then apply. Nothing is written before every check passed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from workflows import events as ev
from workflows import lifecycle
from workflows.commands import (
    AmendOrder,
    CancelOrder,
    Command,
    CreateOrder,
    CreditPrepayment,
    InvoiceOrder,
    InvoicePrepayment,
    RecordPayment,
    SetPrepaymentTotal,
    UpsertParty,
    UpsertPrepaymentRule,
)
from workflows.documents import (
    DocumentLine,
    DocumentType,
    PostedDocument,
    due_dates,
    format_document_no,
    ledger_entries,
    series_name,
)
from workflows.errors import AlreadyExists, DomainError, NotFound, ValidationFailed
from workflows.events import Event
from workflows.invoicing import apply_invoice, plan_invoice
from workflows.order import Order, PrepaymentInvoiceBalance
from workflows.ordering import amend_lines, build_order, distribute_total
from workflows.payments import PaymentRecord, apply_payment, plan_payment
from workflows.prepayment import (
    apply_prepayment_credit,
    apply_prepayment_invoice,
    plan_prepayment_credit,
    plan_prepayment_invoice,
    prepayment_document_lines,
)
from workflows.setup import Party, PrepaymentRule, validate_party, validate_rule
from workflows.unit_of_work import AbstractUnitOfWork
from workflows.views import order_data


def upsert_party(cmd: UpsertParty, uow: AbstractUnitOfWork) -> list[Event]:
    party = Party(
        party_id=cmd.party_id,
        side=cmd.side,
        name=cmd.name,
        prepayment_percent=cmd.prepayment_percent,
        price_group=cmd.price_group,
        payment_terms=cmd.payment_terms,
        check_prepayment_when_posting=cmd.check_prepayment_when_posting,
    )
    validate_party(party)
    existing = uow.parties.get(cmd.party_id)
    if existing is not None and existing.side != cmd.side:
        raise ValidationFailed(
            f"party {cmd.party_id} is a {existing.side} party and cannot become {cmd.side}",
            field="side",
            code="party.side_mismatch",
        )
    uow.parties.upsert(party)
    return []


def upsert_rule(cmd: UpsertPrepaymentRule, uow: AbstractUnitOfWork) -> list[Event]:
    rule = PrepaymentRule(
        cmd.side,
        cmd.item_id,
        cmd.applies_to,
        cmd.code,
        cmd.percent,
        cmd.starting_date,
        cmd.ending_date,
    )
    validate_rule(rule)
    uow.rules.upsert(rule)
    return []


def create_order(cmd: CreateOrder, uow: AbstractUnitOfWork) -> list[Event]:
    if uow.orders.get(cmd.order_id) is not None:
        raise AlreadyExists(
            f"order {cmd.order_id} already exists",
            field="order_id",
            code="order.already_exists",
        )
    party = _party(uow, cmd.party_id, cmd.side)
    order = build_order(cmd, party, lambda item: uow.rules.for_item(cmd.side, item))
    uow.orders.add(order)
    return [Event(ev.ORDER_CREATED, order.order_id, order_data(order))]


def amend_order(cmd: AmendOrder, uow: AbstractUnitOfWork) -> list[Event]:
    order = _order(uow, cmd.order_id)
    lifecycle.ensure_allowed(order, "amend")
    party = _party(uow, order.party_id, order.side)
    amend_lines(order, cmd, party, lambda item: uow.rules.for_item(order.side, item))
    return _changed(order, uow, "amend")


def set_prepayment_total(cmd: SetPrepaymentTotal, uow: AbstractUnitOfWork) -> list[Event]:
    order = _order(uow, cmd.order_id)
    lifecycle.ensure_allowed(order, "set_prepayment_total")
    distribute_total(order, cmd.amount)
    return _changed(order, uow, "set_prepayment_total")


def invoice_prepayment(cmd: InvoicePrepayment, uow: AbstractUnitOfWork) -> list[Event]:
    order = _order(uow, cmd.order_id)
    lifecycle.ensure_allowed(order, "invoice_prepayment")
    _check_external_no(order, cmd.external_document_no, uow)
    shares = plan_prepayment_invoice(order)
    accounts = uow.posting_accounts[order.side]
    lines = prepayment_document_lines(order, shares, accounts)
    document = _post(
        uow, order, "prepayment_invoice", lines, cmd.posting_date, cmd.external_document_no
    )
    apply_prepayment_invoice(shares)
    order.prepayment_invoices.append(
        PrepaymentInvoiceBalance(document.document_no, document.amount_due, document.amount_due)
    )
    return _posted(order, uow, document, ev.PREPAYMENT_INVOICE_POSTED, "invoice_prepayment")


def credit_prepayment(cmd: CreditPrepayment, uow: AbstractUnitOfWork) -> list[Event]:
    order = _order(uow, cmd.order_id)
    lifecycle.ensure_allowed(order, "credit_prepayment")
    _check_external_no(order, cmd.external_document_no, uow)
    shares = plan_prepayment_credit(order, cmd.lines)
    accounts = uow.posting_accounts[order.side]
    lines = prepayment_document_lines(order, shares, accounts)
    document = _post(
        uow, order, "prepayment_credit_memo", lines, cmd.posting_date, cmd.external_document_no
    )
    apply_prepayment_credit(shares)
    _close_invoices_by_credit(order, document.amount_due)
    return _posted(order, uow, document, ev.PREPAYMENT_CREDIT_MEMO_POSTED, "credit_prepayment")


def record_payment(cmd: RecordPayment, uow: AbstractUnitOfWork) -> list[Event]:
    order = _order(uow, cmd.order_id)
    lifecycle.ensure_allowed(order, "record_payment")
    plan = plan_payment(order, cmd)
    apply_payment(order, cmd, plan)
    applied = tuple((inv.document_no, amount) for inv, amount in plan.applied)
    uow.documents.add_payment(
        PaymentRecord(
            cmd.payment_id,
            order.order_id,
            cmd.amount,
            cmd.currency,
            cmd.received_date,
            applied,
            plan.unapplied,
        )
    )
    moved = lifecycle.fire(order, "record_payment")
    uow.orders.save(order)
    recorded = Event(
        ev.PAYMENT_RECORDED,
        order.order_id,
        {
            "order_id": order.order_id,
            "state": order.state,
            "payment_id": cmd.payment_id,
            "amount": cmd.amount,
            "currency": cmd.currency,
            "received_date": cmd.received_date,
            "applied": [{"document_no": no, "amount": amount} for no, amount in applied],
            "unapplied": plan.unapplied,
            "prepayment_outstanding": order.prepayment_outstanding,
        },
    )
    return [recorded, *_state_event(order, moved, "record_payment")]


def invoice_order(cmd: InvoiceOrder, uow: AbstractUnitOfWork) -> list[Event]:
    order = _order(uow, cmd.order_id)
    lifecycle.ensure_allowed(order, "invoice")
    _check_external_no(order, cmd.external_document_no, uow)
    accounts = uow.posting_accounts[order.side]
    plan = plan_invoice(order, cmd.lines, accounts)
    document = _post(
        uow,
        order,
        "invoice",
        plan.document_lines,
        cmd.posting_date,
        cmd.external_document_no,
        deducted=plan.deducted,
    )
    apply_invoice(plan)
    return _posted(order, uow, document, ev.INVOICE_POSTED, "invoice")


def cancel_order(cmd: CancelOrder, uow: AbstractUnitOfWork) -> list[Event]:
    order = _order(uow, cmd.order_id)
    lifecycle.ensure_allowed(order, "cancel")
    for line in order.sorted_lines():
        if line.prepayment_undeducted:
            raise DomainError(
                f"order {order.order_id} line {line.line_no} has {line.prepayment_undeducted} "
                f"{order.currency} of invoiced prepayment; post a prepayment credit memo first",
                field="order_id",
                code="order.cancel_requires_credit_memo",
            )
    moved = lifecycle.fire(order, "cancel")
    uow.orders.save(order)
    cancelled = Event(
        ev.ORDER_CANCELLED,
        order.order_id,
        {"order_id": order.order_id, "state": order.state, "reason": cmd.reason},
    )
    return [cancelled, *_state_event(order, moved, "cancel")]


HANDLERS: dict[type[Any], Callable[[Any, AbstractUnitOfWork], list[Event]]] = {
    UpsertParty: upsert_party,
    UpsertPrepaymentRule: upsert_rule,
    CreateOrder: create_order,
    AmendOrder: amend_order,
    SetPrepaymentTotal: set_prepayment_total,
    InvoicePrepayment: invoice_prepayment,
    CreditPrepayment: credit_prepayment,
    RecordPayment: record_payment,
    InvoiceOrder: invoice_order,
    CancelOrder: cancel_order,
}


def handle(command: Command, uow: AbstractUnitOfWork) -> list[Event]:
    return HANDLERS[type(command)](command, uow)


def _order(uow: AbstractUnitOfWork, order_id: str) -> Order:
    order = uow.orders.get(order_id)
    if order is None:
        raise NotFound(f"order {order_id} does not exist", field="order_id", code="order.not_found")
    return order


def _party(uow: AbstractUnitOfWork, party_id: str, side: str) -> Party:
    party = uow.parties.get(party_id)
    if party is None:
        raise NotFound(
            f"{side} party {party_id} does not exist; send party.upsert first",
            field="party_id",
            code="party.not_found",
        )
    if party.side != side:
        raise ValidationFailed(
            f"party {party_id} is a {party.side} party, not a {side} party",
            field="party_id",
            code="party.side_mismatch",
        )
    return party


def _check_external_no(order: Order, number: str | None, uow: AbstractUnitOfWork) -> None:
    """Purchase documents carry the vendor's own number, unique per vendor."""
    if order.side != "purchase":
        return
    if not number:
        raise ValidationFailed(
            f"purchase order {order.order_id}: the vendor's document number is required",
            field="external_document_no",
            code="purchase.external_document_no_required",
        )
    if uow.external_numbers.is_used(order.party_id, number):
        raise ValidationFailed(
            f"purchase order {order.order_id}: vendor {order.party_id} document number "
            f"{number} was already used",
            field="external_document_no",
            code="purchase.external_document_no_used",
        )


def _post(
    uow: AbstractUnitOfWork,
    order: Order,
    document_type: DocumentType,
    lines: list[DocumentLine],
    posting_date: date | None,
    external_no: str | None,
    deducted: Any = None,
) -> PostedDocument:
    """Number and store a planned document. Runs only after every check passed, so a
    number is never taken by a refused command (the series stays gapless)."""
    day = posting_date or order.posting_date
    due_date, discount_date, discount_percent = due_dates(day, order.payment_terms)
    accounts = uow.posting_accounts[order.side]
    number = uow.numbers.next(series_name(order.side, document_type))
    if external_no and order.side == "purchase":
        uow.external_numbers.claim(order.party_id, external_no)
    document = PostedDocument(
        document_no=format_document_no(order.side, document_type, number),
        document_type=document_type,
        order_id=order.order_id,
        side=order.side,
        party_id=order.party_id,
        posting_date=day,
        due_date=due_date,
        currency=order.currency,
        prices_include_vat=order.prices_include_vat,
        lines=tuple(lines),
        ledger=ledger_entries(
            order.side, accounts, lines, document_type == "prepayment_credit_memo"
        ),
        external_document_no=external_no,
        payment_discount_date=discount_date,
        payment_discount_percent=discount_percent,
        deducted=deducted,
    )
    uow.documents.add(document)
    return document


def _close_invoices_by_credit(order: Order, credited: Decimal) -> None:
    """A credit memo cancels what is still open, newest invoice first; what it credits
    beyond that was already paid and becomes the party's credit (owed back)."""
    left = credited
    for invoice in reversed(order.prepayment_invoices):
        take = min(left, invoice.open)
        invoice.open -= take
        left -= take
    order.unapplied_credit += left


def _posted(
    order: Order, uow: AbstractUnitOfWork, document: PostedDocument, event_type: str, trigger: str
) -> list[Event]:
    moved = lifecycle.fire(order, trigger)
    uow.orders.save(order)
    return [
        Event(event_type, order.order_id, document.event_data(order.state)),
        Event(ev.ORDER_AMENDED, order.order_id, order_data(order)),
        *_state_event(order, moved, trigger),
    ]


def _changed(order: Order, uow: AbstractUnitOfWork, trigger: str) -> list[Event]:
    moved = lifecycle.fire(order, trigger)
    uow.orders.save(order)
    return [
        Event(ev.ORDER_AMENDED, order.order_id, order_data(order)),
        *_state_event(order, moved, trigger),
    ]


def _state_event(order: Order, moved: tuple[str, str] | None, trigger: str) -> list[Event]:
    if moved is None:
        return []
    source, dest = moved
    data = {
        "order_id": order.order_id,
        "state": dest,
        "from": source,
        "to": dest,
        "trigger": trigger,
    }
    return [Event(ev.ORDER_STATE_CHANGED, order.order_id, data)]
