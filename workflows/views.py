"""The whole order as events carry it (`order.created`, `order.amended`)."""

from __future__ import annotations

from typing import Any

from workflows.money import ZERO
from workflows.order import Order

_LINE_FIELDS = (
    "line_no",
    "item_id",
    "description",
    "quantity",
    "unit_price",
    "line_discount_percent",
    "vat_percent",
    "line_amount",
    "prepayment_percent",
    "prepayment_line_amount",
    "prepayment_invoiced",
    "prepayment_vat_invoiced",
    "prepayment_deducted",
    "prepayment_vat_deducted",
    "quantity_invoiced",
    "amount_invoiced",
)
_SUMMED = ("line_amount", "prepayment_line_amount", "prepayment_invoiced", "prepayment_deducted")


def order_data(order: Order) -> dict[str, Any]:
    lines = [{name: getattr(x, name) for name in _LINE_FIELDS} for x in order.sorted_lines()]
    totals: dict[str, Any] = {name: sum((x[name] for x in lines), ZERO) for name in _SUMMED}
    totals["prepayment_paid"] = order.prepayment_paid
    totals["prepayment_outstanding"] = order.prepayment_outstanding
    totals["unapplied_credit"] = order.unapplied_credit
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
        "totals": totals,
    }
