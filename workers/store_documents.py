"""Posted documents (header, lines, ledger entries) and payments in SQL; written at commit
(`workers.store_writes`), read back per order."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Row, bindparam, select

from schemas.tables import DOCUMENT_LINES, LEDGER_ENTRIES, PAYMENTS, POSTED_DOCUMENTS
from workers.store_bulk import insert_many
from workflows.documents import Amounts, DocumentLine, LedgerEntry, PostedDocument
from workflows.payments import PaymentRecord

if TYPE_CHECKING:
    from workers.store import SqlUnitOfWork


def document_values(document: PostedDocument) -> dict[str, Any]:
    deducted = document.deducted
    return {
        "document_no": document.document_no,
        "document_type": document.document_type,
        "order_id": document.order_id,
        "side": document.side,
        "party_id": document.party_id,
        "posting_date": document.posting_date,
        "due_date": document.due_date,
        "currency": document.currency,
        "prices_include_vat": document.prices_include_vat,
        "external_document_no": document.external_document_no,
        "payment_discount_date": document.payment_discount_date,
        "payment_discount_percent": document.payment_discount_percent,
        "deducted_net": deducted.net if deducted else None,
        "deducted_vat": deducted.vat if deducted else None,
        "deducted_gross": deducted.gross if deducted else None,
    }


def document_line_values(document_no: str, position: int, line: DocumentLine) -> dict[str, Any]:
    return {
        "document_no": document_no,
        "position": position,
        "description": line.description,
        "account": line.account,
        "net": line.net,
        "vat_percent": line.vat_percent,
        "vat": line.vat,
        "gross": line.gross,
        "order_line_no": line.order_line_no,
        "quantity": line.quantity,
        "is_deduction": line.is_deduction,
    }


def document_from_rows(
    header: Row[Any], lines: list[Row[Any]], ledger: list[Row[Any]]
) -> PostedDocument:
    deducted = None
    if header.deducted_net is not None:
        deducted = Amounts(header.deducted_net, header.deducted_vat, header.deducted_gross)
    return PostedDocument(
        document_no=header.document_no,
        document_type=header.document_type,
        order_id=header.order_id,
        side=header.side,
        party_id=header.party_id,
        posting_date=header.posting_date,
        due_date=header.due_date,
        currency=header.currency,
        prices_include_vat=header.prices_include_vat,
        lines=tuple(
            DocumentLine(
                x.description,
                x.account,
                x.net,
                x.vat_percent,
                x.vat,
                x.gross,
                x.order_line_no,
                x.quantity,
                x.is_deduction,
            )
            for x in lines
        ),
        ledger=tuple(LedgerEntry(x.account, x.debit, x.credit) for x in ledger),
        external_document_no=header.external_document_no,
        payment_discount_date=header.payment_discount_date,
        payment_discount_percent=header.payment_discount_percent,
        deducted=deducted,
    )


def payment_values(payment: PaymentRecord) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "order_id": payment.order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "received_date": payment.received_date,
        "unapplied": payment.unapplied,
        "applied": orjson.dumps([[no, str(amount)] for no, amount in payment.applied]).decode(),
    }


def payment_from_row(row: Row[Any]) -> PaymentRecord:
    applied = tuple((no, Decimal(amount)) for no, amount in orjson.loads(row.applied))
    return PaymentRecord(
        row.payment_id,
        row.order_id,
        row.amount,
        row.currency,
        row.received_date,
        applied,
        row.unapplied,
    )


_DOCUMENTS_OF_ORDER = POSTED_DOCUMENTS.c.order_id == bindparam("order_id")
_DOCUMENT_HEADERS = (
    select(POSTED_DOCUMENTS).where(_DOCUMENTS_OF_ORDER).order_by(POSTED_DOCUMENTS.c.id)
)
_DOCUMENT_LINES = (
    select(DOCUMENT_LINES)
    .join(POSTED_DOCUMENTS, POSTED_DOCUMENTS.c.document_no == DOCUMENT_LINES.c.document_no)
    .where(_DOCUMENTS_OF_ORDER)
    .order_by(DOCUMENT_LINES.c.document_no, DOCUMENT_LINES.c.position)
)
_LEDGER_ENTRIES = (
    select(LEDGER_ENTRIES)
    .join(POSTED_DOCUMENTS, POSTED_DOCUMENTS.c.document_no == LEDGER_ENTRIES.c.document_no)
    .where(_DOCUMENTS_OF_ORDER)
    .order_by(LEDGER_ENTRIES.c.document_no, LEDGER_ENTRIES.c.position)
)
_PAYMENTS_OF_ORDER = (
    select(PAYMENTS).where(PAYMENTS.c.order_id == bindparam("order_id")).order_by(PAYMENTS.c.id)
)


class SqlDocuments:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def add(self, document: PostedDocument) -> None:
        self._uow.staged.documents.append(document)

    def add_payment(self, payment: PaymentRecord) -> None:
        self._uow.staged.payments.append(payment)

    def flush(self, documents: list[PostedDocument], payments: list[PaymentRecord]) -> None:
        """Headers, then their lines and ledger entries, then payments: one insert each."""
        if documents:
            uow = self._uow
            insert_many(uow, POSTED_DOCUMENTS, [document_values(x) for x in documents])
            lines = [
                document_line_values(document.document_no, position, line)
                for document in documents
                for position, line in enumerate(document.lines)
            ]
            insert_many(uow, DOCUMENT_LINES, lines)
            ledger = [
                {"document_no": document.document_no, "position": position}
                | {"account": entry.account, "debit": entry.debit, "credit": entry.credit}
                for document in documents
                for position, entry in enumerate(document.ledger)
            ]
            insert_many(uow, LEDGER_ENTRIES, ledger)
        insert_many(self._uow, PAYMENTS, [payment_values(x) for x in payments])

    def for_order(self, order_id: str) -> list[PostedDocument]:
        key = {"order_id": order_id}
        headers = self._uow.execute(_DOCUMENT_HEADERS, key).all()
        if not headers:
            return []
        lines: dict[str, list[Row[Any]]] = {}
        for row in self._uow.execute(_DOCUMENT_LINES, key):
            lines.setdefault(row.document_no, []).append(row)
        ledger: dict[str, list[Row[Any]]] = {}
        for row in self._uow.execute(_LEDGER_ENTRIES, key):
            ledger.setdefault(row.document_no, []).append(row)
        return [
            document_from_rows(h, lines.get(h.document_no, []), ledger.get(h.document_no, []))
            for h in headers
        ]

    def payments_for_order(self, order_id: str) -> list[PaymentRecord]:
        """Not part of the port (handlers never read payments back); for views and tests."""
        rows = self._uow.execute(_PAYMENTS_OF_ORDER, {"order_id": order_id})
        return [payment_from_row(row) for row in rows]
