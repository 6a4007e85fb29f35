"""Orders in SQL: one query loads an order with its lines (or a batch's orders together);
at commit, one statement per kind of change writes every order the transaction changed: the
headers with an optimistic version check, and only the lines that changed.

Lines are compared with what was loaded by identity of their field values: the domain
replaces a value whenever it changes it and copies lines shallowly, so a field still holding
the very object it was loaded with is unchanged (and an equal but re-written Decimal such as
30 -> 30.00 is still written, keeping the stored digits exact).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Row, bindparam, delete, select

from schemas.tables import ORDER_LINES, ORDERS
from workers.sql_lists import DIALECTS, bound_list, one_of
from workers.store_bulk import insert_many, update_many
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

# An order and its lines come back in two queries rather than one join, which would repeat
# the order's columns (and their conversions) on every line.
_ORDERS = {d: select(ORDERS).where(one_of(ORDERS.c.order_id, "order_ids", d)) for d in DIALECTS}
_LINES = {
    d: select(ORDER_LINES)
    .where(one_of(ORDER_LINES.c.order_id, "order_ids", d))
    .order_by(ORDER_LINES.c.order_id, ORDER_LINES.c.line_no)
    for d in DIALECTS
}
_EXISTS = select(ORDERS.c.order_id).where(ORDERS.c.order_id == bindparam("order_id"))
_DELETE_LINE = delete(ORDER_LINES).where(
    ORDER_LINES.c.order_id == bindparam("b_order_id"),
    ORDER_LINES.c.line_no == bindparam("b_line_no"),
)
_DELETE_ALL_LINES = delete(ORDER_LINES).where(ORDER_LINES.c.order_id == bindparam("b_order_id"))


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
        "prepayment_invoices": orjson.dumps(invoices).decode(),
        "payment_ids": orjson.dumps(order.payment_ids).decode(),
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
            for no, gross, open_ in orjson.loads(row.prepayment_invoices)
        ],
        payment_ids=orjson.loads(row.payment_ids),
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
        row.line_no,
        row.item_id,
        row.description,
        row.quantity,
        row.unit_price,
        row.line_discount_percent,
        row.vat_percent,
        row.prepayment_percent,
        row.line_amount,
        row.prepayment_line_amount,
        row.prepayment_invoiced,
        row.prepayment_vat_invoiced,
        row.prepayment_deducted,
        row.prepayment_vat_deducted,
        row.quantity_invoiced,
        row.amount_invoiced,
    )


def _line_row(order_id: str, line: OrderLine) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "line_no": line.line_no,
        **dict(zip(_LINE_FIELDS, line_fields(line), strict=True)),
    }


@dataclass(slots=True)
class _Loaded:
    """What the database holds for an order this transaction read: its version and lines
    (None: the lines are unknown, so a save rewrites them all)."""

    version: int
    lines: dict[int, tuple[Any, ...]] | None


@dataclass(slots=True)
class _Changes:
    """Rows to send for the orders a transaction changed, one statement per list."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    line_deletes: list[dict[str, Any]] = field(default_factory=list)
    all_line_deletes: list[dict[str, Any]] = field(default_factory=list)
    line_updates: list[dict[str, Any]] = field(default_factory=list)
    line_inserts: list[dict[str, Any]] = field(default_factory=list)


class SqlOrders:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self._orders: dict[str, Order] = {}
        # None for an order added in this transaction (not in the database yet).
        self._loaded: dict[str, _Loaded | None] = {}
        self._absent: set[str] = set()  # known not to be stored

    def forget(self) -> None:
        """The transaction ended: what it read may be stale now."""
        self._orders.clear()
        self._loaded.clear()
        self._absent.clear()

    def get(self, order_id: str) -> Order | None:
        order = self._orders.get(order_id)
        if order is not None or order_id in self._absent:
            return order
        self.prefetch([order_id])
        return self._orders.get(order_id)

    def prefetch(self, order_ids: list[str]) -> None:
        wanted = [x for x in dict.fromkeys(order_ids) if x not in self._orders]
        wanted = [x for x in wanted if x not in self._absent]
        if not wanted:
            return
        dialect = self._uow.engine.dialect.name
        key = {"order_ids": bound_list(wanted, dialect)}
        with self._uow.planned_for_their_lists():
            rows = self._uow.execute(_ORDERS[dialect], key)
            orders = {row.order_id: order_from_row(row) for row in rows}
            if orders:
                for row in self._uow.execute(_LINES[dialect], key):
                    orders[row.order_id].lines[row.line_no] = line_from_row(row)
        for order_id in wanted:
            order = orders.get(order_id)
            if order is None:
                self._absent.add(order_id)
            else:
                self._remember(order)

    def add(self, order: Order) -> None:
        order_id = order.order_id
        known = order_id in self._orders
        if known or (order_id not in self._absent and self._stored(order_id)):
            raise ConcurrencyConflict(f"order {order_id} was created concurrently")
        self._orders[order_id] = order
        self._loaded[order_id] = None
        self._absent.discard(order_id)
        self._uow.staged.orders[order_id] = order

    def _stored(self, order_id: str) -> bool:
        return self._uow.execute(_EXISTS, {"order_id": order_id}).first() is not None

    def save(self, order: Order) -> None:
        """Written at commit, if the stored version is still the one read (else a
        ConcurrencyConflict at commit)."""
        order_id = order.order_id
        if self._orders.get(order_id) is not order:  # not read in this transaction
            self._orders[order_id] = order
            self._loaded[order_id] = _Loaded(order.version, None)
            self._absent.discard(order_id)
        order.version += 1
        self._uow.staged.orders[order_id] = order

    def flush(self, orders: dict[str, Order]) -> None:
        if not orders:
            return
        changes = _Changes()
        for order_id, order in orders.items():
            loaded = self._loaded[order_id]
            if loaded is None:
                changes.inserts.append(order_values(order))
                changes.line_inserts.extend(_line_row(order_id, x) for x in order.lines.values())
            else:
                values = order_values(order)
                del values["order_id"]
                values.update(b_order_id=order_id, b_version=loaded.version)
                changes.updates.append(values)
                _line_changes(order, loaded.lines, changes)
        self._send(changes)  # the transaction ends next: nothing to remember

    def _send(self, changes: _Changes) -> None:
        execute = self._uow.execute
        insert_many(self._uow, ORDERS, changes.inserts)
        if changes.updates:
            updated = update_many(self._uow, ORDERS, changes.updates)
            if updated != len(changes.updates):
                stale = ", ".join(sorted(x["b_order_id"] for x in changes.updates))
                raise ConcurrencyConflict(
                    f"an order among {stale} changed since it was read; retry"
                )
        if changes.all_line_deletes:
            execute(_DELETE_ALL_LINES, changes.all_line_deletes)
        if changes.line_deletes:
            execute(_DELETE_LINE, changes.line_deletes)
        update_many(self._uow, ORDER_LINES, changes.line_updates)
        insert_many(self._uow, ORDER_LINES, changes.line_inserts)

    def _remember(self, order: Order) -> None:
        self._orders[order.order_id] = order
        lines = {n: line_fields(x) for n, x in order.lines.items()}
        self._loaded[order.order_id] = _Loaded(order.version, lines)


def _line_changes(
    order: Order, before: dict[int, tuple[Any, ...]] | None, changes: _Changes
) -> None:
    order_id = order.order_id
    if before is None:  # lines not read in this transaction: rewrite them all
        changes.all_line_deletes.append({"b_order_id": order_id})
        before = {}
    for line_no in before:
        if line_no not in order.lines:
            changes.line_deletes.append({"b_order_id": order_id, "b_line_no": line_no})
    for line_no, line in order.lines.items():
        fields = before.get(line_no)
        if fields is None:
            changes.line_inserts.append(_line_row(order_id, line))
        elif any(a is not b for a, b in zip(fields, line_fields(line), strict=True)):
            row = dict(zip(_LINE_FIELDS, line_fields(line), strict=True))
            changes.line_updates.append({**row, "b_order_id": order_id, "b_line_no": line_no})
