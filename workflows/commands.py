"""Commands: what upstream systems ask prepay to do (imperative, validated at the edge)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

Side = Literal["sales", "purchase"]
AppliesTo = Literal["party", "price_group", "all"]


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    due_days: int = 0
    discount_days: int = 0
    discount_percent: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class UpsertParty:
    party_id: str
    side: Side
    name: str
    prepayment_percent: Decimal = Decimal(0)
    price_group: str | None = None
    payment_terms: PaymentTerms = field(default_factory=PaymentTerms)
    check_prepayment_when_posting: bool = True


@dataclass(frozen=True, slots=True)
class UpsertPrepaymentRule:
    side: Side
    item_id: str
    applies_to: AppliesTo
    percent: Decimal
    code: str | None = None
    starting_date: date | None = None
    ending_date: date | None = None


@dataclass(frozen=True, slots=True)
class LineInput:
    line_no: int
    item_id: str
    quantity: Decimal
    unit_price: Decimal
    description: str = ""
    line_discount_percent: Decimal = Decimal(0)
    vat_percent: Decimal = Decimal(0)
    prepayment_percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CreateOrder:
    order_id: str
    side: Side
    party_id: str
    currency: str
    order_date: date
    lines: tuple[LineInput, ...] = ()
    posting_date: date | None = None
    prices_include_vat: bool = False
    prepayment_percent: Decimal | None = None
    compress_prepayment: bool = True


@dataclass(frozen=True, slots=True)
class LineUpdate:
    line_no: int
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    line_discount_percent: Decimal | None = None
    prepayment_percent: Decimal | None = None
    prepayment_line_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AmendOrder:
    order_id: str
    prepayment_percent: Decimal | None = None
    add_lines: tuple[LineInput, ...] = ()
    update_lines: tuple[LineUpdate, ...] = ()
    remove_lines: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SetPrepaymentTotal:
    order_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class InvoicePrepayment:
    order_id: str
    posting_date: date | None = None
    external_document_no: str | None = None


@dataclass(frozen=True, slots=True)
class CreditPrepayment:
    order_id: str
    posting_date: date | None = None
    lines: tuple[int, ...] = ()
    external_document_no: str | None = None


@dataclass(frozen=True, slots=True)
class RecordPayment:
    order_id: str
    payment_id: str
    amount: Decimal
    currency: str
    document_no: str | None = None
    received_date: date | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    line_no: int
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class InvoiceOrder:
    order_id: str
    posting_date: date | None = None
    lines: tuple[InvoiceLine, ...] | None = None
    external_document_no: str | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    order_id: str
    reason: str = "cancelled by upstream"


Command = (
    UpsertParty
    | UpsertPrepaymentRule
    | CreateOrder
    | AmendOrder
    | SetPrepaymentTotal
    | InvoicePrepayment
    | CreditPrepayment
    | RecordPayment
    | InvoiceOrder
    | CancelOrder
)

# The wire name of each command (the contract's `type`, also the AMQP routing key).
COMMAND_TYPES: dict[type[Command], str] = {
    UpsertParty: "party.upsert",
    UpsertPrepaymentRule: "prepayment_rule.upsert",
    CreateOrder: "order.create",
    AmendOrder: "order.amend",
    SetPrepaymentTotal: "prepayment.set_total",
    InvoicePrepayment: "prepayment.invoice",
    CreditPrepayment: "prepayment.credit",
    RecordPayment: "payment.record",
    InvoiceOrder: "order.invoice",
    CancelOrder: "order.cancel",
}
