"""Prepayment invoices and credit memos (spec sections 3 and 4.1-4.4). Each posting is first
planned from the order without touching it, so a refusal changes nothing; `apply_*` then
writes the plan into the order's lines."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from workflows.documents import DocumentLine
from workflows.errors import DomainError, ValidationFailed
from workflows.money import ZERO
from workflows.order import Order, OrderLine
from workflows.setup import PostingAccounts
from workflows.vat import group_by_rate, group_vat, split, spread


class LineShare(NamedTuple):
    """One order line's part of a document, on the line basis, with its VAT."""

    line: OrderLine
    base: Decimal
    vat: Decimal


def plan_prepayment_invoice(order: Order) -> list[LineShare]:
    billed = [line for line in order.sorted_lines() if line.prepayment_to_bill > 0]
    if not billed:
        raise DomainError(
            f"order {order.order_id} has no prepayment left to invoice",
            code="prepayment.nothing_to_invoice",
        )
    rate_groups = group_by_rate(order.sorted_lines(), lambda x: x.vat_percent)
    shares: list[LineShare] = []
    for rate, group in group_by_rate(billed, lambda x: x.vat_percent).items():
        # Cumulative VAT over the order's whole VAT group: what all its prepayment carries
        # once this invoice is posted, less what earlier invoices billed. The VAT of n
        # invoices then telescopes to the VAT of one, even when different lines are billed
        # each time (per billed line only, rounding would drift by a cent).
        whole = rate_groups[rate]
        cumulative = sum((x.prepayment_invoiced for x in whole), ZERO) + sum(
            (x.prepayment_to_bill for x in group), ZERO
        )
        billed_vat = sum((x.prepayment_vat_invoiced for x in whole), ZERO)
        vat = group_vat(cumulative, rate, order.prices_include_vat, order.currency) - billed_vat
        increments = [x.prepayment_to_bill for x in group]
        for line, base, line_vat in zip(
            group, increments, spread(vat, increments, order.currency), strict=True
        ):
            shares.append(LineShare(line, base, line_vat))
    return sorted(shares, key=lambda s: s.line.line_no)


def apply_prepayment_invoice(shares: list[LineShare]) -> None:
    for share in shares:
        share.line.prepayment_invoiced += share.base
        share.line.prepayment_vat_invoiced += share.vat


def plan_prepayment_credit(order: Order, line_nos: tuple[int, ...]) -> list[LineShare]:
    if line_nos:
        selected = []
        for index, line_no in enumerate(line_nos):
            line = order.line(line_no, f"lines.{index}")
            if line_no in line_nos[:index]:
                raise ValidationFailed(
                    f"order {order.order_id}: line {line_no} is listed twice",
                    field=f"lines.{index}",
                    code="line.duplicate_line_no",
                )
            if line.prepayment_undeducted == 0:
                raise ValidationFailed(
                    f"order {order.order_id} line {line_no} has no invoiced, undeducted "
                    "prepayment to credit",
                    field=f"lines.{index}",
                    code="prepayment.nothing_to_credit",
                )
            selected.append(line)
    else:
        selected = [x for x in order.sorted_lines() if x.prepayment_undeducted != 0]
    if not selected:
        raise DomainError(
            f"order {order.order_id} has no invoiced, undeducted prepayment to credit",
            code="prepayment.nothing_to_credit",
        )
    # A credit memo reverses exactly what was invoiced and not deducted, VAT as invoiced.
    return [LineShare(x, x.prepayment_undeducted, x.prepayment_vat_undeducted) for x in selected]


def apply_prepayment_credit(shares: list[LineShare]) -> None:
    for share in shares:
        share.line.prepayment_invoiced = share.line.prepayment_deducted
        share.line.prepayment_vat_invoiced = share.line.prepayment_vat_deducted


def prepayment_document_lines(
    order: Order, shares: list[LineShare], accounts: PostingAccounts, *, deduction: bool = False
) -> list[DocumentLine]:
    """One line per order line, or per (prepayment account, VAT rate) when compressed.
    Deduction lines on a final invoice are the same lines, negative."""
    sign = -1 if deduction else 1
    label = "Prepayment deduction" if deduction else "Prepayment"
    if not order.compress_prepayment:
        lines = []
        for s in shares:
            net, gross = split(s.base, s.vat, order.prices_include_vat)
            lines.append(
                DocumentLine(
                    description=f"{label} {_percent_text(s.line.prepayment_percent)} % of "
                    f"{s.line.description or s.line.item_id}",
                    account=accounts.prepayment,
                    net=sign * net,
                    vat_percent=s.line.vat_percent,
                    vat=sign * s.vat,
                    gross=sign * gross,
                    order_line_no=s.line.line_no,
                    is_deduction=deduction,
                )
            )
        return lines
    compressed = []
    for rate, group in group_by_rate(shares, lambda s: s.line.vat_percent).items():
        base = sum((s.base for s in group), ZERO)
        vat = sum((s.vat for s in group), ZERO)
        net, gross = split(base, vat, order.prices_include_vat)
        compressed.append(
            DocumentLine(
                description=f"{label}, VAT {_percent_text(rate)} %",
                account=accounts.prepayment,
                net=sign * net,
                vat_percent=rate,
                vat=sign * vat,
                gross=sign * gross,
                is_deduction=deduction,
            )
        )
    return compressed


def _percent_text(percent: Decimal) -> str:
    """A percent as people read it: 30, 12.5, 33.33333 (back-computed percents, 5 decimals)."""
    shown = percent.quantize(Decimal("0.00001")).normalize()
    return f"{shown:f}"
