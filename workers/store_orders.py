"""Orders in SQL: one query loads an order with its lines; a save writes the header with an
optimistic version check and only the lines that changed.

Lines are compared with what was loaded by identity of their field values: the domain
replaces a value whenever it changes it and copies lines shallowly, so a field still holding
the very object it was loaded with is unchanged (and an equal but re-written Decimal such as
30 -> 30.00 is still written, keeping the stored digits exact).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, bindparam, delete, insert, select, update

from schemas.tables import ORDER_LINES, ORDERS
from workflows.commands import PaymentTerms
from workflows.errors import ConcurrencyConflict
from workflows.order import Order, OrderLine, PrepaymentInvoiceBalance

if TYPE_CHECKING:
    from workers.store import SqlUnitOfWork

_LINE_FIELDS = (
    "item_id",
    "description",
    "quantity",
    "unit_price",
    "line_discount_percent",
    "vat_percent",
    "prepayment_percent",
    "line_amount",
    "prepayment_line_amount",
    "prepayment_invoiced",
    "prepayment_vat_invoiced",
    "prepayment_deducted",
    "prepayment_vat_deducted",
    "quantity_invoiced",
    "amount_invoiced",
)
assert {"order_id", "line_no", *_LINE_FIELDS} == set(ORDER_LINES.c.keys())

_LOAD = (
    select(*ORDERS.c, *[ORDER_LINES.c[name].label(f"l_{name}") for name in _LINE_FIELDS])
    .add_columns(ORDER_LINES.c.line_no.label("l_line_no"))
    .select_from(ORDERS.outerjoin(ORDER_LINES, ORDER_LINES.c.order_id == ORDERS.c.order_id))
    .where(ORDERS.c.order_id == bindparam("order_id"))
    .order_by(ORDER_LINES.c.line_no)
)
_UPDATE_ORDER = update(ORDERS).where(
    ORDERS.c.order_id == bindparam("b_order_id"), ORDERS.c.version == bindparam("b_version")
)
_UPDATE_LINE = update(ORDER_LINES).where(
    ORDER_LINES.c.order_id == bindparam("b_order_id"),
    ORDER_LINES.c.line_no == bindparam("b_line_no"),
)
_DELETE_LINES = delete(ORDER_LINES).where(
    ORDER_LINES.c.order_id == bindparam("order_id"),
    ORDER_LINES.c.line_no.in_(bindparam("line_nos", expanding=True)),
)


def order_values(order: Order) -> dict[str, Any]:
    terms = order.payment_terms
    invoices = [[x.document_no, str(x.gross), str(x.open)] for x in order.prepayment_invoices]
    return {
        "order_id": order.order_id,
        "side": order.side,
        "party_id": order.party_id,
        "currency": order.currency,
        "order_date": order.order_date,
        "posting_date": order.posting_date,
        "prices_include_vat": order.prices_include_vat,
        "prepayment_percent": order.prepayment_percent,
        "compress_prepayment": order.compress_prepayment,
        "check_prepayment_when_posting": order.check_prepayment_when_posting,
        "due_days": terms.due_days,
        "discount_days": terms.discount_days,
        "discount_percent": terms.discount_percent,
        "state": order.state,
        "version": order.version,
        "prepayment_paid": order.prepayment_paid,
        "unapplied_credit": order.unapplied_credit,
        "prepayment_invoices": json.dumps(invoices),
        "payment_ids": json.dumps(order.payment_ids),
    }


def order_from_row(row: Row[Any]) -> Order:
    return Order(
        order_id=row.order_id,
        side=row.side,
        party_id=row.party_id,
        currency=row.currency,
        order_date=row.order_date,
        posting_date=row.posting_date,
        prices_include_vat=row.prices_include_vat,
        prepayment_percent=row.prepayment_percent,
        compress_prepayment=row.compress_prepayment,
        check_prepayment_when_posting=row.check_prepayment_when_posting,
        payment_terms=PaymentTerms(row.due_days, row.discount_days, row.discount_percent),
        state=row.state,
        version=row.version,
        prepayment_invoices=[
            PrepaymentInvoiceBalance(no, Decimal(gross), Decimal(open_))
            for no, gross, open_ in json.loads(row.prepayment_invoices)
        ],
        payment_ids=json.loads(row.payment_ids),
        prepayment_paid=row.prepayment_paid,
        unapplied_credit=row.unapplied_credit,
    )


def line_fields(line: OrderLine) -> tuple[Any, ...]:
    """The stored fields of a line but its key, in `_LINE_FIELDS` order."""
    return (
        line.item_id,
        line.description,
        line.quantity,
        line.unit_price,
        line.line_discount_percent,
        line.vat_percent,
        line.prepayment_percent,
        line.line_amount,
        line.prepayment_line_amount,
        line.prepayment_invoiced,
        line.prepayment_vat_invoiced,
        line.prepayment_deducted,
        line.prepayment_vat_deducted,
        line.quantity_invoiced,
        line.amount_invoiced,
    )


def line_from_row(row: Row[Any]) -> OrderLine:
    return OrderLine(
        row.l_line_no,
        row.l_item_id,
        row.l_description,
        row.l_quantity,
        row.l_unit_price,
        row.l_line_discount_percent,
        row.l_vat_percent,
        row.l_prepayment_percent,
        row.l_line_amount,
        row.l_prepayment_line_amount,
        row.l_prepayment_invoiced,
        row.l_prepayment_vat_invoiced,
        row.l_prepayment_deducted,
        row.l_prepayment_vat_deducted,
        row.l_quantity_invoiced,
        row.l_amount_invoiced,
    )


def _line_row(order_id: str, line: OrderLine) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "line_no": line.line_no,
        **dict(zip(_LINE_FIELDS, line_fields(line), strict=True)),
    }


@dataclass(slots=True)
class _Loaded:
    """What the database holds for an order this transaction touched."""

    version: int
    lines: dict[int, tuple[Any, ...]]


class SqlOrders:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self._orders: dict[str, Order] = {}
        self._loaded: dict[str, _Loaded] = {}

    def forget(self) -> None:
        """The transaction ended: what it loaded may be stale now."""
        self._orders.clear()
        self._loaded.clear()

    def get(self, order_id: str) -> Order | None:
        if order_id in self._orders:
            return self._orders[order_id]
        rows = self._uow.execute(_LOAD, {"order_id": order_id}).all()
        if not rows:
            return None
        order = order_from_row(rows[0])
        if rows[0].l_line_no is not None:
            order.lines = {row.l_line_no: line_from_row(row) for row in rows}
        self._remember(order)
        return order

    def add(self, order: Order) -> None:
        self._uow.execute(insert(ORDERS), order_values(order))
        if order.lines:
            rows = [_line_row(order.order_id, x) for x in order.lines.values()]
            self._uow.execute(insert(ORDER_LINES), rows)
        self._remember(order)

    def save(self, order: Order) -> None:
        loaded = self._loaded.get(order.order_id)
        expected = loaded.version if loaded else order.version
        values = order_values(order)
        del values["order_id"]
        values.update(version=expected + 1, b_order_id=order.order_id, b_version=expected)
        if self._uow.execute(_UPDATE_ORDER, values).rowcount != 1:
            raise ConcurrencyConflict(
                f"order {order.order_id} changed since version {expected} was read; retry"
            )
        self._save_lines(order, loaded.lines if loaded else None)
        order.version = expected + 1
        self._remember(order)

    def _save_lines(self, order: Order, before: dict[int, tuple[Any, ...]] | None) -> None:
        order_id = order.order_id
        if before is None:  # an order this transaction did not load: rewrite its lines
            self._uow.execute(delete(ORDER_LINES).where(ORDER_LINES.c.order_id == order_id))
            before = {}
        removed = [n for n in before if n not in order.lines]
        if removed:
            self._uow.execute(_DELETE_LINES, {"order_id": order_id, "line_nos": removed})
        added, changed = [], []
        for line_no, line in order.lines.items():
            fields = before.get(line_no)
            if fields is None:
                added.append(_line_row(order_id, line))
            elif any(a is not b for a, b in zip(fields, line_fields(line), strict=True)):
                row = dict(zip(_LINE_FIELDS, line_fields(line), strict=True))
                changed.append({**row, "b_order_id": order_id, "b_line_no": line_no})
        if changed:
            self._uow.execute(_UPDATE_LINE, changed)
        if added:
            self._uow.execute(insert(ORDER_LINES), added)

    def _remember(self, order: Order) -> None:
        self._orders[order.order_id] = order
        lines = {n: line_fields(x) for n, x in order.lines.items()}
        self._loaded[order.order_id] = _Loaded(order.version, lines)
