"""Payments against prepayment invoices (spec section 4.3 and the payment guard)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from workflows.commands import RecordPayment
from workflows.errors import ValidationFailed
from workflows.money import ZERO, is_multiple_of_precision
from workflows.order import Order, PrepaymentInvoiceBalance


class PaymentPlan(NamedTuple):
    applied: list[tuple[PrepaymentInvoiceBalance, Decimal]]
    unapplied: Decimal


def plan_payment(order: Order, cmd: RecordPayment) -> PaymentPlan:
    where = f"order {order.order_id} payment {cmd.payment_id}"
    if cmd.currency != order.currency:
        raise ValidationFailed(
            f"{where}: paid in {cmd.currency}, but the order is in {order.currency}",
            field="currency",
            code="payment.currency_mismatch",
        )
    if cmd.amount <= ZERO or not is_multiple_of_precision(cmd.amount, order.currency):
        raise ValidationFailed(
            f"{where}: amount {cmd.amount} must be positive and in whole {order.currency} "
            "minor units",
            field="amount",
            code="payment.invalid_amount",
        )
    if cmd.payment_id in order.payment_ids:
        raise ValidationFailed(
            f"{where}: this payment id was already recorded on the order",
            field="payment_id",
            code="payment.duplicate",
        )
    if cmd.document_no is not None:
        named = [x for x in order.prepayment_invoices if x.document_no == cmd.document_no]
        if not named:
            raise ValidationFailed(
                f"{where}: {cmd.document_no} is not a prepayment invoice of this order",
                field="document_no",
                code="payment.document_not_found",
            )
        targets = named
    else:
        targets = [x for x in order.prepayment_invoices if x.open > ZERO]  # oldest first
    applied = []
    left = cmd.amount
    for invoice in targets:
        take = min(left, invoice.open)
        if take > ZERO:
            applied.append((invoice, take))
            left -= take
    # An overpayment is kept as the party's credit and reported, never absorbed silently.
    return PaymentPlan(applied, left)


def apply_payment(order: Order, cmd: RecordPayment, plan: PaymentPlan) -> None:
    for invoice, amount in plan.applied:
        invoice.open -= amount
    order.prepayment_paid += sum((amount for _, amount in plan.applied), ZERO)
    order.unapplied_credit += plan.unapplied
    order.payment_ids.append(cmd.payment_id)


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    payment_id: str
    order_id: str
    amount: Decimal
    currency: str
    received_date: date | None
    applied: tuple[tuple[str, Decimal], ...]
    unapplied: Decimal
