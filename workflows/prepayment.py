"""Prepayment invoices and credit memos (spec sections 3 and 4.1-4.4). Each posting is first
planned from the order without touching it, so a refusal changes nothing; `apply_*` then
writes the plan into the order's lines."""

from __future__ import annotations

from decimal import Decimal

from workflows.documents import DocumentLine
from workflows.errors import DomainError, ValidationFailed
from workflows.money import ZERO
from workflows.order import Order, OrderLine
from workflows.setup import PostingAccounts
from workflows.vat import group_vat, split, spread

# One order line's part of a document, on the line basis, with its VAT: (line, base, VAT).
# A plain tuple, not a NamedTuple: several are made per document, and building a NamedTuple
# costs about ten times as much.
LineShare = tuple[OrderLine, Decimal, Decimal]


def plan_prepayment_invoice(order: Order) -> list[LineShare]:
    # One pass over the lines gathers, per VAT rate, what the whole group has invoiced so far
    # and which of its lines this invoice bills, with how much.
    invoiced: dict[Decimal, Decimal] = {}
    vat_invoiced: dict[Decimal, Decimal] = {}
    billed: dict[Decimal, list[tuple[OrderLine, Decimal]]] = {}
    for line in order.lines.values():
        rate = line.vat_percent
        invoiced[rate] = invoiced.get(rate, ZERO) + line.prepayment_invoiced
        vat_invoiced[rate] = vat_invoiced.get(rate, ZERO) + line.prepayment_vat_invoiced
        to_bill = line.prepayment_to_bill
        if to_bill > ZERO:
            billed.setdefault(rate, []).append((line, to_bill))
    if not billed:
        raise DomainError(
            f"order {order.order_id} has no prepayment left to invoice",
            code="prepayment.nothing_to_invoice",
        )
    shares: dict[int, LineShare] = {}
    for rate, group in billed.items():
        # Cumulative VAT over the order's whole VAT group: what all its prepayment carries
        # once this invoice is posted, less what earlier invoices billed. The VAT of n
        # invoices then telescopes to the VAT of one, even when different lines are billed
        # each time (per billed line only, rounding would drift by a cent).
        increments = [to_bill for _, to_bill in group]
        cumulative = invoiced[rate] + sum(increments, ZERO)
        vat = (
            group_vat(cumulative, rate, order.prices_include_vat, order.currency)
            - vat_invoiced[rate]
        )
        for (line, to_bill), line_vat in zip(
            group, spread(vat, increments, order.currency), strict=True
        ):
            shares[line.line_no] = (line, to_bill, line_vat)
    # In line order (the order keeps its lines sorted), whatever the VAT groups' order.
    return [shares[line_no] for line_no in order.lines if line_no in shares]


def apply_prepayment_invoice(shares: list[LineShare]) -> None:
    for line, base, vat in shares:
        line.prepayment_invoiced += base
        line.prepayment_vat_invoiced += vat


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
    return [(x, x.prepayment_undeducted, x.prepayment_vat_undeducted) for x in selected]


def apply_prepayment_credit(shares: list[LineShare]) -> None:
    for line, _, _ in shares:
        line.prepayment_invoiced = line.prepayment_deducted
        line.prepayment_vat_invoiced = line.prepayment_vat_deducted


def prepayment_document_lines(
    order: Order, shares: list[LineShare], accounts: PostingAccounts, *, deduction: bool = False
) -> list[DocumentLine]:
    """One line per order line, or per (prepayment account, VAT rate) when compressed.
    Deduction lines on a final invoice are the same lines, negative."""
    sign = -1 if deduction else 1
    label = "Prepayment deduction" if deduction else "Prepayment"
    include_vat = order.prices_include_vat
    if not order.compress_prepayment:
        lines = []
        for line, base, vat in shares:
            net, gross = split(base, vat, include_vat)
            lines.append(
                DocumentLine(
                    f"{label} {_percent_text(line.prepayment_percent)} % of "
                    f"{line.description or line.item_id}",
                    accounts.prepayment,
                    sign * net,
                    line.vat_percent,
                    sign * vat,
                    sign * gross,
                    line.line_no,
                    None,
                    deduction,
                )
            )
        return lines
    # rate -> [base, VAT] of the group, rates in the order they first appear
    groups: dict[Decimal, list[Decimal]] = {}
    for line, base, vat in shares:
        group = groups.get(line.vat_percent)
        if group is None:
            groups[line.vat_percent] = [ZERO + base, ZERO + vat]
        else:
            group[0] += base
            group[1] += vat
    compressed = []
    for rate, (base, vat) in groups.items():
        net, gross = split(base, vat, include_vat)
        compressed.append(
            DocumentLine(
                f"{label}, VAT {_percent_text(rate)} %",
                accounts.prepayment,
                sign * net,
                rate,
                sign * vat,
                sign * gross,
                None,
                None,
                deduction,
            )
        )
    return compressed


_FIVE_DECIMALS = Decimal("0.00001")
# Every prepayment line's description shows a percent; an order has few distinct ones. The
# sign is part of the key because -0 equals 0 (and hashes alike) but reads "-0".
_PERCENT_TEXTS: dict[tuple[Decimal, bool], str] = {}


def _percent_text(percent: Decimal) -> str:
    """A percent as people read it: 30, 12.5, 33.33333 (back-computed percents, 5 decimals)."""
    key = (percent, percent.is_signed())
    text = _PERCENT_TEXTS.get(key)
    if text is None:
        if len(_PERCENT_TEXTS) >= 1024:  # back-computed percents are many: stay bounded
            _PERCENT_TEXTS.clear()
        text = _PERCENT_TEXTS[key] = f"{percent.quantize(_FIVE_DECIMALS).normalize():f}"
    return text
