"""Events: what happened (past tense). `data` holds plain values: str, int, bool, Decimal,
date, lists and dicts of them; the wire layer turns Decimal into strings and dates into ISO."""

from __future__ import annotations

from typing import Any, NamedTuple

ORDER_CREATED = "order.created"
ORDER_AMENDED = "order.amended"
ORDER_STATE_CHANGED = "order.state_changed"
PREPAYMENT_INVOICE_POSTED = "prepayment_invoice.posted"
PREPAYMENT_CREDIT_MEMO_POSTED = "prepayment_credit_memo.posted"
PAYMENT_RECORDED = "payment.recorded"
INVOICE_POSTED = "invoice.posted"
ORDER_CANCELLED = "order.cancelled"
COMMAND_REJECTED = "command.rejected"

EVENT_TYPES = (
    ORDER_CREATED,
    ORDER_AMENDED,
    ORDER_STATE_CHANGED,
    PREPAYMENT_INVOICE_POSTED,
    PREPAYMENT_CREDIT_MEMO_POSTED,
    PAYMENT_RECORDED,
    INVOICE_POSTED,
    ORDER_CANCELLED,
    COMMAND_REJECTED,
)


class Event(NamedTuple):
    """Immutable, and cheap to make: several are made for every command."""

    type: str
    subject: str | None
    data: dict[str, Any]
