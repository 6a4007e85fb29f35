"""An order as `prepay order show` presents it, read from the database: the order with its lines
and their prepayment fields, its posted documents, its payments and the history of its events.

Values stay typed (Decimal, date); `as_json` turns a report into the wire's JSON form, amounts
as exact decimal strings.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from schemas.scalars import decimal_text
from workers.store import SqlUnitOfWork
from workers.store_events import HistoryEntry
from workflows.documents import PostedDocument
from workflows.order import Order
from workflows.payments import PaymentRecord
from workflows.views import order_data


def load_report(engine: Engine, order_id: str) -> dict[str, Any] | None:
    """The report of one order, or None if there is no such order."""
    uow = SqlUnitOfWork(engine, read_only=True)
    with uow:
        order = uow.orders.get(order_id)
        if order is None:
            return None
        documents = uow.documents.for_order(order_id)
        payments = uow.documents.payments_for_order(order_id)
        history = uow.history.entries(order_id)
    return build_report(order, documents, payments, history)


def build_report(
    order: Order,
    documents: Sequence[PostedDocument],
    payments: Sequence[PaymentRecord],
    history: Sequence[HistoryEntry],
) -> dict[str, Any]:
    return {
        "order": order_data(order),
        "documents": [document_data(d) for d in documents],
        "payments": [payment_data(p) for p in payments],
        "history": [
            {
                "sequence": entry.sequence,
                "event_id": str(entry.event_id),
                "type": entry.event.type,
                "time": entry.created_at,
                "correlation_id": entry.correlation_id,
                "data": entry.event.data,
            }
            for entry in history
        ],
    }


def document_data(document: PostedDocument) -> dict[str, Any]:
    """A document as its `*.posted` event carries it, without the order's current state."""
    data = document.event_data(state="")
    del data["state"], data["order_id"]
    return data


def payment_data(payment: PaymentRecord) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "received_date": payment.received_date,
        "applied": [{"document_no": no, "amount": amount} for no, amount in payment.applied],
        "unapplied": payment.unapplied,
    }


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no JSON form")


def as_json(value: Any, *, indent: int | None = 2) -> str:
    return json.dumps(value, default=_json_default, indent=indent, ensure_ascii=False)
