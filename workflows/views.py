"""The whole order as events carry it (`order.created`, `order.amended`)."""

from __future__ import annotations

from typing import Any

from workflows.money import ZERO
from workflows.order import Order


def order_data(order: Order) -> dict[str, Any]:
    lines = []
    line_amount = prepayment_line_amount = invoiced = deducted = ZERO
    for x in order.lines.values():  # kept in line-number order
        lines.append(
            {
                "line_no": x.line_no,
                "item_id": x.item_id,
                "description": x.description,
                "quantity": x.quantity,
                "unit_price": x.unit_price,
                "line_discount_percent": x.line_discount_percent,
                "vat_percent": x.vat_percent,
                "line_amount": x.line_amount,
                "prepayment_percent": x.prepayment_percent,
                "prepayment_line_amount": x.prepayment_line_amount,
                "prepayment_invoiced": x.prepayment_invoiced,
                "prepayment_vat_invoiced": x.prepayment_vat_invoiced,
                "prepayment_deducted": x.prepayment_deducted,
                "prepayment_vat_deducted": x.prepayment_vat_deducted,
                "quantity_invoiced": x.quantity_invoiced,
                "amount_invoiced": x.amount_invoiced,
            }
        )
        line_amount += x.line_amount
        prepayment_line_amount += x.prepayment_line_amount
        invoiced += x.prepayment_invoiced
        deducted += x.prepayment_deducted
    return {
        "order_id": order.order_id,
        "state": order.state,
        "side": order.side,
        "party_id": order.party_id,
        "currency": order.currency,
        "order_date": order.order_date,
        "posting_date": order.posting_date,
        "prices_include_vat": order.prices_include_vat,
        "prepayment_percent": order.prepayment_percent,
        "compress_prepayment": order.compress_prepayment,
        "check_prepayment_when_posting": order.check_prepayment_when_posting,
        "lines": lines,
        "totals": {
            "line_amount": line_amount,
            "prepayment_line_amount": prepayment_line_amount,
            "prepayment_invoiced": invoiced,
            "prepayment_deducted": deducted,
            "prepayment_paid": order.prepayment_paid,
            "prepayment_outstanding": order.prepayment_outstanding,
            "unapplied_credit": order.unapplied_credit,
        },
    }
