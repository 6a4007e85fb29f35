"""Final and partial invoices with the prepayment deducted (spec section 4.6)."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from workflows.commands import InvoiceLine
from workflows.documents import Amounts, DocumentLine
from workflows.errors import DomainError, ValidationFailed
from workflows.money import HUNDRED, ZERO, round_money
from workflows.order import Order, OrderLine
from workflows.prepayment import LineShare, prepayment_document_lines
from workflows.setup import PostingAccounts
from workflows.vat import group_vat, split, spread


class InvoicedLine(NamedTuple):
    line: OrderLine
    quantity: Decimal
    base: Decimal
    vat: Decimal
    deducted: Decimal
    deducted_vat: Decimal


class InvoicePlan(NamedTuple):
    lines: list[InvoicedLine]
    document_lines: list[DocumentLine]
    deducted: Amounts


def check_prepayment_gate(order: Order) -> None:
    """Shipping waits for the prepayment: all invoiced, and (with the check on) all paid."""
    for line in order.sorted_lines():
        if line.prepayment_to_bill > ZERO:
            raise DomainError(
                f"order {order.order_id} line {line.line_no}: prepayment of "
                f"{line.prepayment_to_bill} is not invoiced yet; post a prepayment invoice first",
                field="order_id",
                code="prepayment.not_invoiced",
            )
    if order.check_prepayment_when_posting and order.prepayment_outstanding > ZERO:
        unpaid = [inv.document_no for inv in order.prepayment_invoices if inv.open > ZERO]
        raise DomainError(
            f"order {order.order_id}: prepayment invoice(s) {', '.join(unpaid)} are unpaid "
            f"({order.prepayment_outstanding} {order.currency} outstanding)",
            field="order_id",
            code="prepayment.unpaid",
        )


def select_quantities(
    order: Order, requested: tuple[InvoiceLine, ...] | None
) -> list[tuple[OrderLine, Decimal]]:
    if requested is None:
        chosen = [
            (x, remaining) for x in order.sorted_lines() if (remaining := x.quantity_remaining)
        ]
    else:
        chosen = []
        seen: set[int] = set()
        for index, item in enumerate(requested):
            line = order.line(item.line_no, f"lines.{index}.line_no")
            remaining = line.quantity_remaining
            within = item.quantity * remaining > ZERO and abs(item.quantity) <= abs(remaining)
            if item.line_no in seen or not within:
                raise ValidationFailed(
                    f"order {order.order_id} line {line.line_no}: cannot invoice quantity "
                    f"{item.quantity}; {remaining} remains to be invoiced",
                    field=f"lines.{index}.quantity",
                    code="invoice.quantity_exceeds_remaining",
                )
            seen.add(item.line_no)
            chosen.append((line, item.quantity))
        chosen.sort(key=lambda pair: pair[0].line_no)
    if not chosen:
        raise DomainError(
            f"order {order.order_id} has nothing left to invoice",
            code="invoice.nothing_to_invoice",
        )
    return chosen


def _item_base(line: OrderLine, quantity: Decimal, currency: str) -> Decimal:
    """What this invoice bills for the line: proportional to the quantity, the remainder on
    the last invoice, so the line's invoices add up to its line amount exactly."""
    open_amount = line.line_amount - line.amount_invoiced
    if quantity == line.quantity_remaining:
        return open_amount
    return round_money(open_amount * quantity / line.quantity_remaining, currency)


def _deduction(
    line: OrderLine, quantity: Decimal, base: Decimal, vat: Decimal, currency: str
) -> tuple[Decimal, Decimal]:
    undeducted = line.prepayment_undeducted
    undeducted_vat = line.prepayment_vat_undeducted
    if quantity == line.quantity_remaining:
        # The last invoice of a line deducts exactly what is left, VAT included, so the
        # prepayment and VAT accounts net to zero.
        return undeducted, undeducted_vat
    if line.prepayment_percent == HUNDRED and undeducted >= base:
        # Fully prepaid: a partial invoice deducts the whole amount it bills.
        return base, min(vat, undeducted_vat)
    deducted = round_money(undeducted * quantity / line.quantity_remaining, currency)
    if undeducted == ZERO:
        return ZERO, ZERO
    # The deduction carries the prepayment's VAT in the proportion it was invoiced.
    return deducted, round_money(undeducted_vat * deducted / undeducted, currency)


def _vat_group(line: OrderLine) -> tuple[Decimal, bool]:
    """Rate and sign, as Business Central's VAT amount lines: a negative line's VAT is rounded
    on its own, not netted against a positive line's before rounding."""
    return line.vat_percent, line.line_amount < ZERO


def _item_vats(
    order: Order, chosen: list[tuple[OrderLine, Decimal]], bases: dict[int, Decimal]
) -> dict[int, Decimal]:
    """VAT of the item lines, per group and cumulative, like prepayment VAT: what the group's
    invoiced amount carries once this invoice is posted, less what earlier invoices carried.
    Partial invoices then add up to the VAT of one invoice for everything, which is exactly
    the prepayment VAT at 100 %, so a fully prepaid line never ends a cent short."""
    currency, include = order.currency, order.prices_include_vat
    invoiced_before: dict[tuple[Decimal, bool], Decimal] = {}
    for line in order.lines.values():
        key = _vat_group(line)
        invoiced_before[key] = invoiced_before.get(key, ZERO) + line.amount_invoiced
    groups: dict[tuple[Decimal, bool], list[OrderLine]] = {}
    for line, _ in chosen:
        groups.setdefault(_vat_group(line), []).append(line)
    vats: dict[int, Decimal] = {}
    for key, group in groups.items():
        rate, before = key[0], invoiced_before[key]
        group_bases = [bases[line.line_no] for line in group]
        after = before + sum(group_bases, ZERO)
        total = group_vat(after, rate, include, currency) - group_vat(
            before, rate, include, currency
        )
        for line, vat in zip(group, spread(total, group_bases, currency), strict=True):
            vats[line.line_no] = vat
    return vats


def plan_invoice(
    order: Order, requested: tuple[InvoiceLine, ...] | None, accounts: PostingAccounts
) -> InvoicePlan:
    check_prepayment_gate(order)
    chosen = select_quantities(order, requested)
    currency = order.currency
    bases = {line.line_no: _item_base(line, qty, currency) for line, qty in chosen}
    vats = _item_vats(order, chosen, bases)
    planned: list[InvoicedLine] = []
    items: list[DocumentLine] = []
    shares: list[LineShare] = []
    items_gross = ZERO
    for line, qty in chosen:
        base, vat = bases[line.line_no], vats[line.line_no]
        deducted, deducted_vat = _deduction(line, qty, base, vat, currency)
        planned.append(InvoicedLine(line, qty, base, vat, deducted, deducted_vat))
        net, gross = split(base, vat, order.prices_include_vat)
        description = line.description or line.item_id
        items.append(
            DocumentLine(
                description, accounts.revenue, net, line.vat_percent, vat, gross, line.line_no, qty
            )
        )
        items_gross += gross
        if deducted or deducted_vat:
            shares.append((line, deducted, deducted_vat))
    deductions = prepayment_document_lines(order, shares, accounts, deduction=True)
    total_deducted = Amounts.of(deductions)
    amount_due = items_gross + total_deducted.gross
    if amount_due < ZERO:
        raise DomainError(
            f"order {order.order_id}: the prepayment deduction exceeds what this invoice bills "
            f"(amount due would be {amount_due}); invoice more quantity or credit the prepayment",
            field="lines",
            code="invoice.negative_amount_due",
        )
    return InvoicePlan(
        planned,
        items + deductions,
        Amounts(-total_deducted.net, -total_deducted.vat, -total_deducted.gross),
    )


def apply_invoice(plan: InvoicePlan) -> None:
    for p in plan.lines:
        p.line.quantity_invoiced += p.quantity
        p.line.amount_invoiced += p.base
        p.line.prepayment_deducted += p.deducted
        p.line.prepayment_vat_deducted += p.deducted_vat
