"""Posted documents: what accounting receives. Each carries its lines, totals and balanced
ledger entries, so a consumer never recomputes anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from workflows.commands import PaymentTerms, Side
from workflows.money import ZERO
from workflows.setup import PostingAccounts

DocumentType = Literal["prepayment_invoice", "prepayment_credit_memo", "invoice"]

_SERIES_PREFIX: dict[tuple[str, str], str] = {
    ("sales", "prepayment_invoice"): "PPI",
    ("sales", "prepayment_credit_memo"): "PPCM",
    ("sales", "invoice"): "INV",
    ("purchase", "prepayment_invoice"): "PPPI",
    ("purchase", "prepayment_credit_memo"): "PPPCM",
    ("purchase", "invoice"): "PINV",
}


def series_name(side: Side, document_type: DocumentType) -> str:
    return f"{side}.{document_type}"


def format_document_no(side: Side, document_type: DocumentType, number: int) -> str:
    return f"{_SERIES_PREFIX[(side, document_type)]}-{number:06d}"


class DocumentLine(NamedTuple):
    description: str
    account: str
    net: Decimal
    vat_percent: Decimal
    vat: Decimal
    gross: Decimal
    order_line_no: int | None = None
    quantity: Decimal | None = None
    is_deduction: bool = False


class LedgerEntry(NamedTuple):
    account: str
    debit: Decimal
    credit: Decimal


class Amounts(NamedTuple):
    net: Decimal = ZERO
    vat: Decimal = ZERO
    gross: Decimal = ZERO

    @staticmethod
    def of(lines: Sequence[DocumentLine]) -> Amounts:
        net = vat = gross = ZERO
        for line in lines:
            net += line.net
            vat += line.vat
            gross += line.gross
        return Amounts(net, vat, gross)

    def as_dict(self) -> dict[str, Decimal]:
        return {"net": self.net, "vat": self.vat, "gross": self.gross}


@dataclass(slots=True)
class PostedDocument:
    document_no: str
    document_type: DocumentType
    order_id: str
    side: Side
    party_id: str
    posting_date: date
    due_date: date
    currency: str
    prices_include_vat: bool
    lines: tuple[DocumentLine, ...]
    ledger: tuple[LedgerEntry, ...]
    external_document_no: str | None = None
    payment_discount_date: date | None = None
    payment_discount_percent: Decimal = ZERO
    deducted: Amounts | None = None
    totals: Amounts = field(init=False)

    def __post_init__(self) -> None:
        self.totals = Amounts.of(self.lines)

    @property
    def amount_due(self) -> Decimal:
        return self.totals.gross

    def event_data(self, state: str) -> dict[str, Any]:
        totals = self.totals
        return {
            "order_id": self.order_id,
            "state": state,
            "document_no": self.document_no,
            "document_type": self.document_type,
            "side": self.side,
            "party_id": self.party_id,
            "posting_date": self.posting_date,
            "due_date": self.due_date,
            "currency": self.currency,
            "prices_include_vat": self.prices_include_vat,
            "external_document_no": self.external_document_no,
            "payment_discount_date": self.payment_discount_date,
            "payment_discount_percent": self.payment_discount_percent,
            "lines": [
                {
                    "description": x.description,
                    "account": x.account,
                    "order_line_no": x.order_line_no,
                    "quantity": x.quantity,
                    "net": x.net,
                    "vat_percent": x.vat_percent,
                    "vat": x.vat,
                    "gross": x.gross,
                    "is_deduction": x.is_deduction,
                }
                for x in self.lines
            ],
            "totals": totals.as_dict(),
            "prepayment_deducted": self.deducted.as_dict() if self.deducted else None,
            "amount_due": totals.gross,
            "ledger": [
                {"account": e.account, "debit": e.debit, "credit": e.credit} for e in self.ledger
            ],
        }


def due_dates(posting_date: date, terms: PaymentTerms) -> tuple[date, date | None, Decimal]:
    """(due date, payment discount date, payment discount percent) of a document."""
    discount_date = (
        posting_date + timedelta(terms.discount_days) if terms.discount_percent else None
    )
    return posting_date + timedelta(terms.due_days), discount_date, terms.discount_percent


def ledger_entries(
    side: Side,
    accounts: PostingAccounts,
    lines: list[DocumentLine],
    is_credit_memo: bool,
) -> tuple[LedgerEntry, ...]:
    """Balanced entries, one per account. Amounts are first signed as for a sales invoice
    (the party owes us: debit receivable, credit revenue, VAT and prepayment liability);
    purchase documents and credit memos mirror those signs."""
    vat_account = accounts.vat
    signed: dict[str, Decimal] = {}
    vat = party_amount = ZERO
    for line in lines:
        signed[line.account] = signed.get(line.account, ZERO) - line.net
        if vat_account not in signed:
            signed[vat_account] = ZERO  # the VAT entry follows the first line's, as always
        vat += line.vat
        party_amount += line.gross
    signed[vat_account] = signed.get(vat_account, ZERO) - vat
    signed[accounts.party] = signed.get(accounts.party, ZERO) + party_amount
    flip = (side == "purchase") != is_credit_memo
    entries = []
    for account, amount in signed.items():
        value = -amount if flip else amount
        if value > ZERO:
            entries.append(LedgerEntry(account, value, ZERO))
        elif value < ZERO:
            entries.append(LedgerEntry(account, ZERO, -value))
    return tuple(entries)
