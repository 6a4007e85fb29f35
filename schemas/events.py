"""Events on the wire: pydantic models of each event's `data`, and the encoder (re-exported).

The encoder (`schemas.encoding`) does not build these models, for speed; the models document
the contract (AsyncAPI) and let tests check what the encoder produces.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from schemas.encoding import encode_event as encode_event
from schemas.encoding import to_envelope as to_envelope
from schemas.envelope import Envelope
from schemas.scalars import Amount, Currency, Side, State, WireDate
from workflows import events as domain

DocumentType = Literal["prepayment_invoice", "prepayment_credit_memo", "invoice"]


class EventData(BaseModel):
    # Forbidding unknown fields here makes the tests notice a field the contract does not list.
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderLine(EventData):
    line_no: int
    item_id: str
    description: str
    quantity: Amount
    unit_price: Amount
    line_discount_percent: Amount
    vat_percent: Amount
    line_amount: Amount
    prepayment_percent: Amount
    prepayment_line_amount: Amount
    prepayment_invoiced: Amount
    prepayment_vat_invoiced: Amount
    prepayment_deducted: Amount
    prepayment_vat_deducted: Amount
    quantity_invoiced: Amount
    amount_invoiced: Amount


class OrderTotals(EventData):
    line_amount: Amount
    prepayment_line_amount: Amount
    prepayment_invoiced: Amount
    prepayment_deducted: Amount
    prepayment_paid: Amount
    prepayment_outstanding: Amount
    unapplied_credit: Amount


class OrderSnapshot(EventData):
    """`order.created`, `order.amended`: the whole order after the change."""

    order_id: str
    state: State
    side: Side
    party_id: str
    currency: Currency
    order_date: WireDate
    posting_date: WireDate
    prices_include_vat: bool
    prepayment_percent: Amount
    compress_prepayment: bool
    check_prepayment_when_posting: bool
    lines: list[OrderLine]
    totals: OrderTotals


class OrderStateChanged(EventData):
    """`order.state_changed`."""

    order_id: str
    state: State
    from_: State = Field(alias="from")
    to: State
    trigger: str


class DocumentLine(EventData):
    description: str
    account: str
    order_line_no: int | None
    quantity: Amount | None
    net: Amount
    vat_percent: Amount
    vat: Amount
    gross: Amount
    is_deduction: bool


class DocumentAmounts(EventData):
    net: Amount
    vat: Amount
    gross: Amount


class LedgerEntry(EventData):
    account: str
    debit: Amount
    credit: Amount


class DocumentPosted(EventData):
    """A posted document: everything accounting needs, so a consumer never recomputes.

    `totals` add up every line, deduction lines included, and `ledger` balances.
    """

    order_id: str
    state: State
    document_no: str
    document_type: DocumentType
    side: Side
    party_id: str
    posting_date: WireDate
    due_date: WireDate
    currency: Currency
    prices_include_vat: bool
    external_document_no: str | None
    payment_discount_date: WireDate | None
    payment_discount_percent: Amount
    lines: list[DocumentLine]
    totals: DocumentAmounts
    prepayment_deducted: DocumentAmounts | None
    amount_due: Amount
    ledger: list[LedgerEntry]

    @model_validator(mode="after")
    def _adds_up(self) -> DocumentPosted:
        for name in ("net", "vat", "gross"):
            line_sum = sum((getattr(line, name) for line in self.lines), Decimal(0))
            if line_sum != getattr(self.totals, name):
                raise PydanticCustomError(
                    "totals_mismatch",
                    "totals.{name} {total} is not the sum of the lines {line_sum}",
                    {"name": name, "total": str(getattr(self.totals, name)), "line_sum": line_sum},
                )
        debit = sum((entry.debit for entry in self.ledger), Decimal(0))
        credit = sum((entry.credit for entry in self.ledger), Decimal(0))
        if debit != credit:
            raise PydanticCustomError(
                "ledger_unbalanced",
                "ledger debits {debit} and credits {credit} differ",
                {"debit": str(debit), "credit": str(credit)},
            )
        return self


class PrepaymentInvoicePosted(DocumentPosted):
    """`prepayment_invoice.posted`."""

    document_type: Literal["prepayment_invoice"]


class PrepaymentCreditMemoPosted(DocumentPosted):
    """`prepayment_credit_memo.posted`: amounts are positive, like the invoice they reverse."""

    document_type: Literal["prepayment_credit_memo"]


class InvoicePosted(DocumentPosted):
    """`invoice.posted`: totals are after the prepayment deduction, so `totals.gross` is
    `amount_due`; `prepayment_deducted` says how much prepayment was deducted."""

    document_type: Literal["invoice"]

    @model_validator(mode="after")
    def _due_is_gross(self) -> InvoicePosted:
        if self.amount_due != self.totals.gross:
            raise PydanticCustomError(
                "amount_due_mismatch",
                "amount_due {amount_due} differs from totals.gross {gross}",
                {"amount_due": str(self.amount_due), "gross": str(self.totals.gross)},
            )
        return self


class PaymentApplication(EventData):
    document_no: str
    amount: Amount


class PaymentRecorded(EventData):
    """`payment.recorded`: how the payment was applied to open prepayment invoices."""

    order_id: str
    state: State
    payment_id: str
    amount: Amount
    currency: Currency
    received_date: WireDate | None
    applied: list[PaymentApplication]
    unapplied: Amount
    prepayment_outstanding: Amount


class OrderCancelled(EventData):
    """`order.cancelled`."""

    order_id: str
    state: State
    reason: str


class CommandRejected(EventData):
    """`command.rejected`: the only event of a refused command; names it by its envelope `id`."""

    order_id: str | None
    state: State | None
    command_id: str
    command_type: str
    code: str
    message: str
    field: str | None


EVENT_MODELS: dict[str, type[EventData]] = {
    domain.ORDER_CREATED: OrderSnapshot,
    domain.ORDER_AMENDED: OrderSnapshot,
    domain.ORDER_STATE_CHANGED: OrderStateChanged,
    domain.PREPAYMENT_INVOICE_POSTED: PrepaymentInvoicePosted,
    domain.PREPAYMENT_CREDIT_MEMO_POSTED: PrepaymentCreditMemoPosted,
    domain.PAYMENT_RECORDED: PaymentRecorded,
    domain.INVOICE_POSTED: InvoicePosted,
    domain.ORDER_CANCELLED: OrderCancelled,
    domain.COMMAND_REJECTED: CommandRejected,
}


def validate_event(event_type: str, data: dict[str, Any]) -> EventData:
    """Check an event's `data` (as produced by the domain, or as decoded from JSON)."""
    try:
        model = EVENT_MODELS[event_type]
    except KeyError:
        raise ValueError(f"unknown event type {event_type!r}") from None
    return model.model_validate(data)


def decode_event(body: bytes) -> tuple[Envelope, EventData]:
    """Read an event message body, as a consumer (or a test) would."""
    envelope = Envelope.model_validate_json(body)
    return envelope, validate_event(envelope.type, envelope.data)
