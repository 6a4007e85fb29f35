"""The SQLModel tables: what the SQL store keeps (setup, orders, posted documents, payments,
number series) and the messaging tables that make processing exactly-once (inbox, outbox,
order history).

Decimals use `ExactDecimal` (TEXT on SQLite, NUMERIC on PostgreSQL), never a float. Small value
lists that belong to one row and are always read with it (an order's open prepayment invoices
and payment ids, a payment's applications) are JSON text with decimals written as strings.
The workers map rows to the domain's dataclasses by explicit functions; nothing here is loaded
lazily.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from schemas.tables_types import ExactDecimal, UtcDateTime

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class PartyRow(SQLModel, table=True):
    __tablename__ = "parties"

    party_id: str = Field(primary_key=True)
    side: str
    name: str
    prepayment_percent: Decimal = Field(sa_type=ExactDecimal)
    price_group: str | None = None
    due_days: int
    discount_days: int
    discount_percent: Decimal = Field(sa_type=ExactDecimal)
    check_prepayment_when_posting: bool


class PrepaymentRuleRow(SQLModel, table=True):
    """Keyed like the domain's `PrepaymentRule.key`; `code_key` and `starting_key` are the
    nullable code and starting date as never-null text, so the key can be a primary key."""

    __tablename__ = "prepayment_rules"

    side: str = Field(primary_key=True)
    item_id: str = Field(primary_key=True)
    applies_to: str = Field(primary_key=True)
    code_key: str = Field(primary_key=True)
    starting_key: str = Field(primary_key=True)
    code: str | None = None
    percent: Decimal = Field(sa_type=ExactDecimal)
    starting_date: date | None = None
    ending_date: date | None = None


class OrderRow(SQLModel, table=True):
    """The order header. `version` is the optimistic lock: every save moves it by one."""

    __tablename__ = "orders"

    order_id: str = Field(primary_key=True)
    side: str
    party_id: str
    currency: str = Field(sa_type=String(3))
    order_date: date
    posting_date: date
    prices_include_vat: bool
    prepayment_percent: Decimal = Field(sa_type=ExactDecimal)
    compress_prepayment: bool
    check_prepayment_when_posting: bool
    due_days: int
    discount_days: int
    discount_percent: Decimal = Field(sa_type=ExactDecimal)
    state: str
    version: int
    prepayment_paid: Decimal = Field(sa_type=ExactDecimal)
    unapplied_credit: Decimal = Field(sa_type=ExactDecimal)
    prepayment_invoices: str = Field(sa_type=Text, description="JSON [[no, gross, open], ...]")
    payment_ids: str = Field(sa_type=Text, description="JSON [payment_id, ...]")


class OrderLineRow(SQLModel, table=True):
    __tablename__ = "order_lines"

    order_id: str = Field(
        primary_key=True,
        sa_column_args=[ForeignKey("orders.order_id", name="fk_order_lines_order_id")],
    )
    line_no: int = Field(primary_key=True)
    item_id: str
    description: str
    quantity: Decimal = Field(sa_type=ExactDecimal)
    unit_price: Decimal = Field(sa_type=ExactDecimal)
    line_discount_percent: Decimal = Field(sa_type=ExactDecimal)
    vat_percent: Decimal = Field(sa_type=ExactDecimal)
    prepayment_percent: Decimal = Field(sa_type=ExactDecimal)
    line_amount: Decimal = Field(sa_type=ExactDecimal)
    prepayment_line_amount: Decimal = Field(sa_type=ExactDecimal)
    prepayment_invoiced: Decimal = Field(sa_type=ExactDecimal)
    prepayment_vat_invoiced: Decimal = Field(sa_type=ExactDecimal)
    prepayment_deducted: Decimal = Field(sa_type=ExactDecimal)
    prepayment_vat_deducted: Decimal = Field(sa_type=ExactDecimal)
    quantity_invoiced: Decimal = Field(sa_type=ExactDecimal)
    amount_invoiced: Decimal = Field(sa_type=ExactDecimal)


class PostedDocumentRow(SQLModel, table=True):
    """A posted document's header; `id` keeps the order in which documents were posted."""

    __tablename__ = "posted_documents"
    __table_args__ = (UniqueConstraint("document_no", name="uq_posted_documents_document_no"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    document_no: str
    document_type: str
    order_id: str = Field(index=True)
    side: str
    party_id: str
    posting_date: date
    due_date: date
    currency: str = Field(sa_type=String(3))
    prices_include_vat: bool
    external_document_no: str | None = None
    payment_discount_date: date | None = None
    payment_discount_percent: Decimal = Field(sa_type=ExactDecimal)
    deducted_net: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    deducted_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    deducted_gross: Decimal | None = Field(default=None, sa_type=ExactDecimal)


class DocumentLineRow(SQLModel, table=True):
    __tablename__ = "document_lines"

    document_no: str = Field(
        primary_key=True,
        sa_column_args=[
            ForeignKey("posted_documents.document_no", name="fk_document_lines_document_no")
        ],
    )
    position: int = Field(primary_key=True)
    description: str
    account: str
    net: Decimal = Field(sa_type=ExactDecimal)
    vat_percent: Decimal = Field(sa_type=ExactDecimal)
    vat: Decimal = Field(sa_type=ExactDecimal)
    gross: Decimal = Field(sa_type=ExactDecimal)
    order_line_no: int | None = None
    quantity: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    is_deduction: bool


class LedgerEntryRow(SQLModel, table=True):
    __tablename__ = "ledger_entries"

    document_no: str = Field(
        primary_key=True,
        sa_column_args=[
            ForeignKey("posted_documents.document_no", name="fk_ledger_entries_document_no")
        ],
    )
    position: int = Field(primary_key=True)
    account: str
    debit: Decimal = Field(sa_type=ExactDecimal)
    credit: Decimal = Field(sa_type=ExactDecimal)


class PaymentRow(SQLModel, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("order_id", "payment_id", name="uq_payments_order_id_payment_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    order_id: str
    payment_id: str
    amount: Decimal = Field(sa_type=ExactDecimal)
    currency: str = Field(sa_type=String(3))
    received_date: date | None = None
    unapplied: Decimal = Field(sa_type=ExactDecimal)
    applied: str = Field(sa_type=Text, description="JSON [[document_no, amount], ...]")


class NumberSeriesRow(SQLModel, table=True):
    """The last number taken per series. Taking one locks the row until the transaction
    ends, and a rollback gives it back, so the series stays gapless."""

    __tablename__ = "number_series"

    series: str = Field(primary_key=True)
    last_number: int = Field(sa_type=BigInteger)


class ExternalDocumentNumberRow(SQLModel, table=True):
    """Vendor document numbers already used, unique per vendor."""

    __tablename__ = "external_document_numbers"

    party_id: str = Field(primary_key=True)
    number: str = Field(primary_key=True)


class InboxRow(SQLModel, table=True):
    """The ids of processed commands, written first in each command's transaction."""

    __tablename__ = "inbox"

    command_id: str = Field(primary_key=True)
    processed_at: datetime = Field(sa_type=UtcDateTime)
    # A digest of the command's type and data: the same id with other content is a reuse.
    fingerprint: str | None = None


class OutboxRow(SQLModel, table=True):
    """Events awaiting publication, written in the transaction that caused them. `id` is the
    publication order; `event_id` the stable CloudEvents id a re-send repeats."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    event_id: uuid.UUID
    type: str
    subject: str | None = None
    correlation_id: str | None = None
    # Two forms while versions overlap in an upgrade (migration 0003): this version writes
    # `stored_payload` and leaves `payload` empty, which a relay of the version before (it
    # sends `payload` as it is) cannot publish; that version's rows have `payload` only.
    payload: str | None = Field(
        default=None, sa_type=Text, description="the wire form, from the version before 0003"
    )
    stored_payload: str | None = Field(
        default=None,
        sa_type=Text,
        description="the event's data in the stored form (workers.event_json), the same text "
        "as its history row",
    )
    created_at: datetime = Field(sa_type=UtcDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class HistoryRow(SQLModel, table=True):
    """Every event of an order, in the order it happened (`id`). The payload is the stored form
    (decimals and dates tagged, `workers.event_json`), the very text of the event's outbox row,
    so the events read back equal the ones recorded."""

    __tablename__ = "order_history"
    __table_args__ = (Index("ix_order_history_order", "order_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    order_id: str
    event_id: uuid.UUID
    type: str
    correlation_id: str | None = None
    payload: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UtcDateTime)


def _table(model: type[SQLModel]) -> Table:
    found = vars(model)["__table__"]
    assert isinstance(found, Table)
    return found


PARTIES = _table(PartyRow)
PREPAYMENT_RULES = _table(PrepaymentRuleRow)
ORDERS = _table(OrderRow)
ORDER_LINES = _table(OrderLineRow)
POSTED_DOCUMENTS = _table(PostedDocumentRow)
DOCUMENT_LINES = _table(DocumentLineRow)
LEDGER_ENTRIES = _table(LedgerEntryRow)
PAYMENTS = _table(PaymentRow)
NUMBER_SERIES = _table(NumberSeriesRow)
EXTERNAL_DOCUMENT_NUMBERS = _table(ExternalDocumentNumberRow)
INBOX = _table(InboxRow)
OUTBOX = _table(OutboxRow)
ORDER_HISTORY = _table(HistoryRow)
