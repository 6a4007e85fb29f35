"""The store: setup, orders and lines, posted documents, payments, number series, and the
inbox, outbox and order history.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Column types are spelled out here rather than imported from `schemas.tables_types`, so this
migration keeps creating the same schema whatever the models become later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# schemas.tables_types.ExactDecimal: exact digits as TEXT on SQLite, NUMERIC on PostgreSQL.
EXACT = sa.Numeric().with_variant(sa.Text(), "sqlite")
INSTANT = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PENDING = sa.text("published_at IS NULL")


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def _exact(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, EXACT, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "parties",
        _text("party_id"),
        _text("side"),
        _text("name"),
        _exact("prepayment_percent"),
        _text("price_group", nullable=True),
        sa.Column("due_days", sa.Integer(), nullable=False),
        sa.Column("discount_days", sa.Integer(), nullable=False),
        _exact("discount_percent"),
        sa.Column("check_prepayment_when_posting", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("party_id"),
    )
    op.create_table(
        "prepayment_rules",
        _text("side"),
        _text("item_id"),
        _text("applies_to"),
        _text("code_key"),
        _text("starting_key"),
        _text("code", nullable=True),
        _exact("percent"),
        sa.Column("starting_date", sa.Date(), nullable=True),
        sa.Column("ending_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("side", "item_id", "applies_to", "code_key", "starting_key"),
    )
    op.create_table(
        "orders",
        _text("order_id"),
        _text("side"),
        _text("party_id"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("prices_include_vat", sa.Boolean(), nullable=False),
        _exact("prepayment_percent"),
        sa.Column("compress_prepayment", sa.Boolean(), nullable=False),
        sa.Column("check_prepayment_when_posting", sa.Boolean(), nullable=False),
        sa.Column("due_days", sa.Integer(), nullable=False),
        sa.Column("discount_days", sa.Integer(), nullable=False),
        _exact("discount_percent"),
        _text("state"),
        sa.Column("version", sa.Integer(), nullable=False),
        _exact("prepayment_paid"),
        _exact("unapplied_credit"),
        sa.Column("prepayment_invoices", sa.Text(), nullable=False),
        sa.Column("payment_ids", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_table(
        "order_lines",
        _text("order_id"),
        sa.Column("line_no", sa.Integer(), nullable=False),
        _text("item_id"),
        _text("description"),
        *[
            _exact(name)
            for name in (
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
        ],
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"], name="fk_order_lines_order_id"),
        sa.PrimaryKeyConstraint("order_id", "line_no"),
    )
    op.create_table(
        "posted_documents",
        sa.Column("id", BIG_ID, nullable=False),
        _text("document_no"),
        _text("document_type"),
        _text("order_id"),
        _text("side"),
        _text("party_id"),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("prices_include_vat", sa.Boolean(), nullable=False),
        _text("external_document_no", nullable=True),
        sa.Column("payment_discount_date", sa.Date(), nullable=True),
        _exact("payment_discount_percent"),
        _exact("deducted_net", nullable=True),
        _exact("deducted_vat", nullable=True),
        _exact("deducted_gross", nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_no", name="uq_posted_documents_document_no"),
    )
    op.create_index("ix_posted_documents_order_id", "posted_documents", ["order_id"])
    op.create_table(
        "document_lines",
        _text("document_no"),
        sa.Column("position", sa.Integer(), nullable=False),
        _text("description"),
        _text("account"),
        _exact("net"),
        _exact("vat_percent"),
        _exact("vat"),
        _exact("gross"),
        sa.Column("order_line_no", sa.Integer(), nullable=True),
        _exact("quantity", nullable=True),
        sa.Column("is_deduction", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_no"],
            ["posted_documents.document_no"],
            name="fk_document_lines_document_no",
        ),
        sa.PrimaryKeyConstraint("document_no", "position"),
    )
    op.create_table(
        "ledger_entries",
        _text("document_no"),
        sa.Column("position", sa.Integer(), nullable=False),
        _text("account"),
        _exact("debit"),
        _exact("credit"),
        sa.ForeignKeyConstraint(
            ["document_no"],
            ["posted_documents.document_no"],
            name="fk_ledger_entries_document_no",
        ),
        sa.PrimaryKeyConstraint("document_no", "position"),
    )
    op.create_table(
        "payments",
        sa.Column("id", BIG_ID, nullable=False),
        _text("order_id"),
        _text("payment_id"),
        _exact("amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_date", sa.Date(), nullable=True),
        _exact("unapplied"),
        sa.Column("applied", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "payment_id", name="uq_payments_order_id_payment_id"),
    )
    op.create_table(
        "number_series",
        _text("series"),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series"),
    )
    op.create_table(
        "external_document_numbers",
        _text("party_id"),
        _text("number"),
        sa.PrimaryKeyConstraint("party_id", "number"),
    )
    op.create_table(
        "inbox",
        _text("command_id"),
        sa.Column("processed_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("command_id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        _text("type"),
        _text("subject", nullable=True),
        _text("correlation_id", nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("published_at", INSTANT, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_outbox_pending", "outbox", ["id"], postgresql_where=PENDING, sqlite_where=PENDING
    )
    op.create_table(
        "order_history",
        sa.Column("id", BIG_ID, nullable=False),
        _text("order_id"),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        _text("type"),
        _text("correlation_id", nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_order_history_order", "order_history", ["order_id", "id"])


def downgrade() -> None:
    for table in (
        "order_history",
        "outbox",
        "inbox",
        "external_document_numbers",
        "number_series",
        "payments",
        "ledger_entries",
        "document_lines",
        "posted_documents",
        "order_lines",
        "orders",
        "prepayment_rules",
        "parties",
    ):
        op.drop_table(table)
